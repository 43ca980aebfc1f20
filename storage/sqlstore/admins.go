package sqlstore

import (
	"context"
)

// CountEnabledAdmins counts the accounts holding the admin role that are
// not disabled, for the console's last-admin guard. It reads the users
// table whole (roles are a JSON list, not indexed): a rare operator
// action, never a per-request query.
func (s *Store) CountEnabledAdmins(ctx context.Context) (int, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE NOT disabled AND roles LIKE '%"admin"%'`).Scan(&n)
	return int(n), s.wrap("count admins", err)
}
