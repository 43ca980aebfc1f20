package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"satupintu/storage"
)

var (
	_ storage.Counters = (*Store)(nil)
	_ storage.Drafts   = (*Store)(nil)
)

// Counters are fixed windows: a count from its first Incr until its
// expiry, then a fresh start, as the Redis backend's INCR on a key with a
// PX expiry does.
//
// When the counters are full (WithMaxEntries), a new one evicts the counter
// with the fewest hits, the soonest to expire among equals, not simply the
// soonest to expire: the counters that matter for security are the high
// ones (failed sign-ins that lock an account, a client address at its
// quota), and an attacker flooding new keys to wipe one out makes counters
// of one hit, which then evict each other. Wiping out a lockout of n
// failures takes a cap's worth of counters of n hits or more. Refusing the
// write instead (failing closed) would let the same flood stop every
// sign-in, since each one counts; so the store evicts, counts it
// (Evictions) and stays available.
func newCounters(max int) *table[int64] {
	return newTable[int64](max).withRank(func(a, b *slot[int64]) bool {
		if a.v != b.v {
			return a.v < b.v
		}
		return soonerExpiry(a, b)
	})
}

// Incr adds one to key; a key that is absent or expired starts a new window.
func (s *Store) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("memory: incr counter: window %v is not positive", window)
	}
	now := s.now()
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	c, ok := s.counters.get(key, now)
	if !ok {
		c = s.counters.put(key, 0, now.Add(window), now)
	}
	c.v++
	s.counters.reranked(c)
	return c.v, nil
}

// Count returns key's count in its current window, 0 if there is none.
func (s *Store) Count(_ context.Context, key string) (int64, error) {
	now := s.now()
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	if c, ok := s.counters.get(key, now); ok {
		return c.v, nil
	}
	return 0, nil
}

// ResetCounter deletes key's count, if any.
func (s *Store) ResetCounter(_ context.Context, key string) error {
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	s.counters.delete(key)
	return nil
}

// SaveDraft stores a copy of value under key for ttl, replacing any draft
// there and restarting its lifetime.
func (s *Store) SaveDraft(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: save draft: ttl %v is not positive", ttl)
	}
	if len(value) > storage.MaxDraftSize {
		// Drafts share the heap with every sign-in: small values only.
		return fmt.Errorf("memory: save draft: %d bytes, more than %d", len(value), storage.MaxDraftSize)
	}
	now := s.now()
	v := slices.Clone(value)
	s.draftMu.Lock()
	defer s.draftMu.Unlock()
	s.drafts.put(key, v, now.Add(ttl), now)
	return nil
}

// Draft returns a copy of the draft under key.
func (s *Store) Draft(_ context.Context, key string) ([]byte, error) {
	now := s.now()
	s.draftMu.Lock()
	var v []byte
	c, ok := s.drafts.get(key, now)
	if ok {
		v = c.v
	}
	s.draftMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("memory: get draft: %w", storage.ErrNotFound)
	}
	// Stored slices are never written, but the caller may write this one.
	return slices.Clone(v), nil
}

// DeleteDraft deletes the draft under key, if any.
func (s *Store) DeleteDraft(_ context.Context, key string) error {
	s.draftMu.Lock()
	defer s.draftMu.Unlock()
	s.drafts.delete(key)
	return nil
}
