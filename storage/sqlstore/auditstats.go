package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"satupintu/storage"
)

var _ storage.AuditStats = (*Store)(nil)

// AuditHourly counts events per hour with the (action, occurred_at) index:
// a range per action, so the dashboard's week of sign-ins costs what that
// week holds, not the whole log.
func (s *Store) AuditHourly(ctx context.Context, actions []string, from, to time.Time) (map[int64]int64, error) {
	const op = "count audit events per hour"
	if len(actions) == 0 || len(actions) > storage.MaxAuditStatsActions {
		return nil, fmt.Errorf("%s: want 1 to %d actions, got %d", op, storage.MaxAuditStatsActions, len(actions))
	}
	args := []any{micros(from), micros(to)}
	for _, a := range actions {
		args = append(args, a)
	}
	rows, err := s.db.Query(ctx, auditHourlyQuery(len(actions)), args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var hour, n int64
		if err := rows.Scan(&hour, &n); err != nil {
			return nil, s.wrap(op, err)
		}
		out[hour*3600] = n
	}
	return out, s.wrap(op, rows.Err())
}

// auditHourlyQuery counts n actions' events per hour in a time range
// ($1, $2; the actions from $3); integer division by an hour in
// microseconds on both dialects.
func auditHourlyQuery(n int) string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", i+3)
	}
	return `SELECT occurred_at / 3600000000, COUNT(*) FROM audit_events
		WHERE action IN (` + strings.Join(marks, ", ") + `) AND occurred_at >= $1 AND occurred_at < $2
		GROUP BY occurred_at / 3600000000`
}
