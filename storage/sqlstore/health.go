package sqlstore

import (
	"context"
	"os"
	"time"
)

// ProbeWrite checks that the database accepts a committed write, which Ping
// does not: a Postgres that is a standby now (after a failover) or runs with
// default_transaction_read_only, or a database on a full disk, answers Ping
// and fails every sign-in. It upserts this host's row of health_probe (migration
// 0004): one tiny row per host, so the probe neither grows the table nor
// makes nodes wait on each other's row lock. The time is the wall clock:
// the row is for an operator, not for any rule.
func (s *Store) ProbeWrite(ctx context.Context) error {
	node, err := os.Hostname()
	if err != nil || node == "" {
		node = "unknown"
	}
	_, err = s.db.Exec(ctx, `INSERT INTO health_probe (node, checked_at) VALUES ($1, $2)
		ON CONFLICT (node) DO UPDATE SET checked_at = excluded.checked_at`, node, micros(time.Now()))
	return s.wrap("probe write", err)
}
