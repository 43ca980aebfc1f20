package redis

import (
	"context"
	"fmt"

	"satupintu/storage"
)

var _ storage.SessionCounter = (*Store)(nil)

// CountSessions counts the session keys with SCAN, which walks the whole
// keyspace in steps of 10,000 without blocking Redis: seconds of Redis
// time for millions of keys, which is why the dashboard that calls it
// keeps the figure a minute. Expired keys are gone already (TTL).
func (s *Store) CountSessions(ctx context.Context) (int64, error) {
	var (
		n      int64
		cursor uint64
	)
	match := globEscape(s.prefix) + "sess:*"
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, match, 10000).Result()
		if err != nil {
			return n, fmt.Errorf("redis: count sessions: %w", err)
		}
		n += int64(len(keys))
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
