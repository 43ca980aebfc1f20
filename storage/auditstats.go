package storage

import (
	"context"
	"time"
)

// AuditStats counts audit events for the operators' dashboard.
type AuditStats interface {
	// AuditHourly counts the events of the given actions that occurred in
	// [from, to), per hour: the map's key is the hour's start in Unix
	// seconds (UTC hours), hours without events are absent.
	AuditHourly(ctx context.Context, actions []string, from, to time.Time) (map[int64]int64, error)
}

// MaxAuditStatsActions bounds the actions of one AuditHourly call.
const MaxAuditStatsActions = 8
