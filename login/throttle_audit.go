package login

import (
	"context"
	"net/http"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// Failed sign-ins in the audit log, bounded (policy in throttle.go,
// "Audit"; the aggregation is quota.AuditFlood).

const (
	// AuditFailuresPerWindow is how many login.failure events of one
	// address and reason a window writes as they happen; the rest of the
	// window is counted and written as one login.failures event.
	AuditFailuresPerWindow = quota.DefaultAuditPerWindow
	// AuditFailureWindow is the length of those windows, aligned to the
	// clock so every node counts into the same one.
	AuditFailureWindow = quota.DefaultAuditWindow
	// auditFailureHorizon is how long a window's count waits for the next
	// written failure of its address and reason to be written with it.
	auditFailureHorizon = quota.DefaultAuditHorizon
)

// failureAudit writes login.failure events, aggregating floods, with its
// counts and marks in the ephemeral store shared by every node.
type failureAudit struct {
	Counters storage.Counters
	Marks    storage.OneTime
	Audit    Audit
}

// failureAudit is h's; it holds nothing of its own.
func (h *Handler) failureAudit() *failureAudit {
	return &failureAudit{Counters: h.Counters, Marks: h.OneTime, Audit: h.Audit}
}

// auditFailure records a login.failure event e of r (time and address
// filled in here). Like audit, a failing store is logged, never the
// user's problem; and if counting fails the event is written as it is,
// since a lost event is worse than an extra row.
func (h *Handler) auditFailure(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now()
	e.IP = web.RemoteIP(r)
	if err := h.failureAudit().record(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}

// record writes e or counts it (quota.AuditFlood.Record).
func (a *failureAudit) record(ctx context.Context, e storage.AuditEvent) error {
	f := quota.AuditFlood{
		Counters: a.Counters, Marks: a.Marks, Audit: a.Audit,
		Name: "audit-fail", SummaryAction: "login.failures",
		PerWindow: AuditFailuresPerWindow, Window: AuditFailureWindow, Horizon: auditFailureHorizon,
	}
	return f.Record(ctx, e)
}
