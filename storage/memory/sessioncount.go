package memory

import (
	"context"

	"satupintu/storage"
)

var _ storage.SessionCounter = (*Store)(nil)

// CountSessions counts the live sessions: a scan of the session table,
// bounded by SATUPINTU_MEMORY_MAX_ENTRIES.
func (s *Store) CountSessions(context.Context) (int64, error) {
	now := s.now()
	s.sessMu.RLock()
	defer s.sessMu.RUnlock()
	n, _ := countLive(s.sessions.table, now, nil)
	return int64(n), nil
}
