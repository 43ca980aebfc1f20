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

// counter is a fixed window: it counts from its first Incr until exp, then
// starts over, as the Redis backend's INCR on a key with a PX expiry does.
type counter struct {
	n   int64
	exp time.Time
}

// Incr adds one to key; a key that is absent or expired starts a new window.
func (s *Store) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("memory: incr counter: window %v is not positive", window)
	}
	now := s.now()
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	c, ok := s.counters[key]
	if !ok || !live(c.exp, now) {
		c = counter{exp: now.Add(window)}
	}
	c.n++
	s.counters[key] = c
	sweep(s.counters, &s.cntWrites, now, func(v counter) time.Time { return v.exp })
	return c.n, nil
}

// Count returns key's count in its current window, 0 if there is none.
func (s *Store) Count(_ context.Context, key string) (int64, error) {
	now := s.now()
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	if c, ok := s.counters[key]; ok && live(c.exp, now) {
		return c.n, nil
	}
	return 0, nil
}

// ResetCounter deletes key's count, if any.
func (s *Store) ResetCounter(_ context.Context, key string) error {
	s.cntMu.Lock()
	defer s.cntMu.Unlock()
	delete(s.counters, key)
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
	v := onceValue{v: slices.Clone(value), exp: now.Add(ttl)}
	s.draftMu.Lock()
	defer s.draftMu.Unlock()
	s.drafts[key] = v
	sweep(s.drafts, &s.draftWrites, now, onceExpiry)
	return nil
}

// Draft returns a copy of the draft under key.
func (s *Store) Draft(_ context.Context, key string) ([]byte, error) {
	now := s.now()
	s.draftMu.Lock()
	v, ok := s.drafts[key]
	s.draftMu.Unlock()
	if !ok || !live(v.exp, now) {
		return nil, fmt.Errorf("memory: get draft: %w", storage.ErrNotFound)
	}
	// Stored slices are never written, but the caller may write this one.
	return slices.Clone(v.v), nil
}

// DeleteDraft deletes the draft under key, if any.
func (s *Store) DeleteDraft(_ context.Context, key string) error {
	s.draftMu.Lock()
	defer s.draftMu.Unlock()
	delete(s.drafts, key)
	return nil
}
