package main

import (
	"context"
	"log/slog"
	"time"

	"satupintu/privacy"
)

// defaultAuditRetention keeps a year of audit events: long enough for an
// incident found late, short enough that the table does not grow forever.
const defaultAuditRetention = 365 * 24 * time.Hour

// maintenanceInterval is how often a node prunes. Pruning is idempotent and
// batched, so several nodes doing it costs little.
const maintenanceInterval = time.Hour

// pruner is the slice of the durable store the maintenance loop uses.
type pruner interface {
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
	PruneDraftDocuments(ctx context.Context, now time.Time) (int64, error)
}

// maintenance deletes what has outlived its retention: audit events older
// than retention and letters of abandoned registration drafts.
type maintenance struct {
	store     pruner
	retention time.Duration
	// registrations deletes registrations past their retention, if set.
	registrations *privacy.Retainer
	now           func() time.Time
	logger        *slog.Logger
}

// runOnce prunes once and logs what it removed; a failure is logged and
// tried again at the next round.
func (m *maintenance) runOnce(ctx context.Context) {
	now := m.now()
	if n, err := m.store.PruneAudit(ctx, now.Add(-m.retention)); err != nil {
		m.logger.ErrorContext(ctx, "prune audit log", "error", err)
	} else if n > 0 {
		m.logger.InfoContext(ctx, "pruned audit log", "events", n, "retention", m.retention.String())
	}
	if n, err := m.store.PruneDraftDocuments(ctx, now); err != nil {
		m.logger.ErrorContext(ctx, "prune draft letters", "error", err)
	} else if n > 0 {
		m.logger.InfoContext(ctx, "pruned draft letters", "letters", n)
	}
	if m.registrations != nil {
		m.registrations.RunOnce(ctx)
	}
}

// run prunes at start and then every interval until ctx ends.
func (m *maintenance) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.runOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
