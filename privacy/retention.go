package privacy

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"satupintu/storage"
)

// RetentionStore is what the retention job uses.
type RetentionStore interface {
	PruneRegistrations(ctx context.Context, closedBefore, documentsBefore time.Time) (storage.RetentionResult, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Retainer deletes registrations and letters whose retention period is
// over (Retention), and records each deletion in the audit log. It is
// idempotent: several nodes running it delete each thing once.
type Retainer struct {
	Store     RetentionStore
	Retention Retention
	Now       func() time.Time
	Logger    *slog.Logger
}

// RunOnce prunes once. A failure is logged and tried again next time.
func (t *Retainer) RunOnce(ctx context.Context) {
	if t.Retention.Closed <= 0 && t.Retention.Documents <= 0 {
		return
	}
	now := t.Now()
	var closedBefore, documentsBefore time.Time
	if t.Retention.Closed > 0 {
		closedBefore = now.Add(-t.Retention.Closed)
	}
	if t.Retention.Documents > 0 {
		documentsBefore = now.Add(-t.Retention.Documents)
	}
	res, err := t.Store.PruneRegistrations(ctx, closedBefore, documentsBefore)
	if err != nil {
		t.Logger.ErrorContext(ctx, "prune registrations", "error", err)
		return
	}
	for _, number := range res.Registrations {
		t.audit(ctx, storage.AuditEvent{Time: now, Action: "registration.retention_delete", ActorID: "retention",
			Subject: number, Detail: map[string]string{"after": t.Retention.Closed.String()}})
	}
	if res.Documents > 0 {
		t.audit(ctx, storage.AuditEvent{Time: now, Action: "registration.documents_retention_delete", ActorID: "retention",
			Detail: map[string]string{"documents": strconv.FormatInt(res.Documents, 10), "after": t.Retention.Documents.String()}})
	}
	if len(res.Registrations) > 0 || res.Documents > 0 {
		t.Logger.InfoContext(ctx, "retention deleted registrations", "registrations", len(res.Registrations), "documents", res.Documents)
	}
}

func (t *Retainer) audit(ctx context.Context, e storage.AuditEvent) {
	if err := t.Store.AppendAudit(ctx, e); err != nil {
		t.Logger.ErrorContext(ctx, "append audit event failed", "action", e.Action, "error", err)
	}
}
