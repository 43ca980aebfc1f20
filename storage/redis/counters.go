package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

var (
	_ storage.Counters = (*Store)(nil)
	_ storage.Drafts   = (*Store)(nil)
)

// incrScript is INCR plus PEXPIRE NX, atomically: the first Incr of a window
// sets its expiry and later ones leave it, so the window is fixed, not
// sliding (a client retrying steadily cannot keep a lockout alive forever,
// nor extend its own allowance). PTTL < 0 rather than PEXPIRE's NX flag keeps
// Redis 6.2 working; it also heals a key that somehow lost its expiry.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// Incr adds one to key and returns the count: one script.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	const op = "incr counter"
	if window <= 0 {
		return 0, fmt.Errorf("redis: %s: window %v is not positive", op, window)
	}
	n, err := incrScript.Run(ctx, s.rdb, []string{s.counterKey(key)}, ttlMilli(window)).Int64()
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}

// Count returns key's count, 0 if absent or expired: one GET.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	n, err := s.rdb.Get(ctx, s.counterKey(key)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("count", err)
	}
	return n, nil
}

// ResetCounter deletes key's count: one DEL.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.counterKey(key)).Err(); err != nil {
		return wrap("reset counter", err)
	}
	return nil
}

// SaveDraft stores value under key for ttl, replacing any draft and its
// lifetime: one SET PX.
func (s *Store) SaveDraft(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	const op = "save draft"
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive", op, ttl)
	}
	if len(value) > storage.MaxDraftSize {
		// Drafts share Redis's memory with every sign-in: small values only.
		return fmt.Errorf("redis: %s: %d bytes, more than %d", op, len(value), storage.MaxDraftSize)
	}
	if err := s.rdb.Set(ctx, s.draftKey(key), value, time.Duration(ttlMilli(ttl))*time.Millisecond).Err(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Draft returns the draft under key: one GET.
func (s *Store) Draft(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.Get(ctx, s.draftKey(key)).Bytes()
	if err != nil {
		return nil, wrap("get draft", err)
	}
	return v, nil
}

// DeleteDraft deletes the draft under key: one DEL.
func (s *Store) DeleteDraft(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.draftKey(key)).Err(); err != nil {
		return wrap("delete draft", err)
	}
	return nil
}
