package storage

import "context"

// WithAudit: placeholder until the audit branch lands (deleted at merge).
func WithAudit(ctx context.Context, events ...AuditEvent) context.Context { return ctx }
