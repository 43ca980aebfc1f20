// Package cache keeps, on one node, the durable records every sign-in and
// token request reads: users, organizations, memberships and chosen
// organizations; and the operators' settings every page shows. A single
// sign-on code flow read the same user three times and its organization
// twice; introspection and userinfo read the user on every call.
//
// Entries are dropped when the data changes: the durable store reports
// each committed write (sqlstore.Store.OnChange) and the node passes it to
// Invalidate and, through Redis, to every other node (see Bus). Should a
// message be lost, the subscription's reconnect flushes everything, and an
// entry never outlives its TTL whatever happens; a write made by another
// process without Redis (the CLI beside an embedded server) shows after
// the TTL at the latest.
//
// A read that raced with an invalidation is not kept: each owner (a user
// or an organization) has a generation that Invalidate bumps, and an entry
// is stored only under the generation seen before its read began.
package cache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"satupintu/storage"
)

// Durable is the durable store a Store reads through: everything
// storage.Durable offers, the cached reads among it.
type Durable = storage.Durable

// Store is a storage.Durable whose hot reads are cached. Writes go
// straight to the store it wraps, whose change reports must reach
// Invalidate.
type Store struct {
	Durable
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.RWMutex
	epoch   uint64            // bumped by Flush: every entry goes
	gens    map[string]uint64 // owner → generation, bumped by Invalidate
	entries map[string]entry
}

type entry struct {
	v     any
	err   error // storage.ErrNotFound where "none" is an answer worth keeping
	owner string
	gen   uint64
	epoch uint64
	exp   time.Time
}

// DefaultMax bounds the entries of a node; reaching it empties the cache,
// which is cheaper than tracking recency and rare for a node's working set.
const DefaultMax = 100_000

// New caches d's hot reads for ttl; now is the clock (time.Now if nil).
func New(d Durable, ttl time.Duration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{Durable: d, ttl: ttl, max: DefaultMax, now: now, gens: map[string]uint64{}, entries: map[string]entry{}}
}

// Invalidate drops what the owners ("u:<user id>", "o:<organization id>")
// hold, including reads of them still under way.
func (s *Store) Invalidate(owners ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range owners {
		s.gens[o]++
	}
	if len(s.gens) > s.max {
		s.flushLocked()
	}
}

// Flush drops everything, for when invalidations may have been missed.
func (s *Store) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *Store) flushLocked() {
	s.epoch++
	clear(s.gens)
	clear(s.entries)
}

// stamp is what a read saw before it began.
type stamp struct{ gen, epoch uint64 }

// lookup returns the live entry for key, or the stamp to store a fresh
// read under.
func (s *Store) lookup(key, owner string) (entry, bool, stamp) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := stamp{s.gens[owner], s.epoch}
	e, ok := s.entries[key]
	if ok && e.gen == st.gen && e.epoch == st.epoch && s.now().Before(e.exp) {
		return e, true, st
	}
	return entry{}, false, st
}

// keep stores a read made under st, unless the owner changed meanwhile.
func (s *Store) keep(key, owner string, st stamp, v any, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens[owner] != st.gen || s.epoch != st.epoch {
		return
	}
	if len(s.entries) >= s.max {
		now := s.now()
		for k, e := range s.entries {
			if !now.Before(e.exp) {
				delete(s.entries, k)
			}
		}
		if len(s.entries) >= s.max*3/4 {
			s.flushLocked() // mostly live: starting over is cheaper than ranking
			return
		}
	}
	s.entries[key] = entry{v: v, err: err, owner: owner, gen: st.gen, epoch: st.epoch, exp: s.now().Add(s.ttl)}
}

// read is the read-through of one key: found answers are kept, and
// ErrNotFound too when notFoundIsAnswer.
func read[T any](s *Store, key, owner string, notFoundIsAnswer bool, load func() (T, error)) (T, error) {
	e, ok, st := s.lookup(key, owner)
	if ok {
		return e.v.(T), e.err
	}
	v, err := load()
	switch {
	case err == nil:
		s.keep(key, owner, st, v, nil)
	case notFoundIsAnswer && errors.Is(err, storage.ErrNotFound):
		s.keep(key, owner, st, v, err)
	}
	return v, err
}

// UserByID returns the user, from the cache when it can. The slices are
// the caller's own.
func (s *Store) UserByID(ctx context.Context, id string) (storage.User, error) {
	u, err := read(s, "user:"+id, "u:"+id, false, func() (storage.User, error) { return s.Durable.UserByID(ctx, id) })
	u.Roles, u.TOTPSecret, u.RecoveryCodes = slices.Clone(u.Roles), slices.Clone(u.TOTPSecret), slices.Clone(u.RecoveryCodes)
	return u, err
}

// OrganizationByID returns the organization, from the cache when it can.
func (s *Store) OrganizationByID(ctx context.Context, id string) (storage.Organization, error) {
	return read(s, "org:"+id, "o:"+id, false, func() (storage.Organization, error) { return s.Durable.OrganizationByID(ctx, id) })
}

// MembershipsOf returns the user's memberships, from the cache when it can.
func (s *Store) MembershipsOf(ctx context.Context, userID string) ([]storage.Membership, error) {
	ms, err := read(s, "members-of:"+userID, "u:"+userID, false, func() ([]storage.Membership, error) {
		return s.Durable.MembershipsOf(ctx, userID)
	})
	return slices.Clone(ms), err
}

// Membership returns one membership, or ErrNotFound, from the cache when
// it can.
func (s *Store) Membership(ctx context.Context, orgID, userID string) (storage.Membership, error) {
	return read(s, "member:"+orgID+":"+userID, "u:"+userID, true, func() (storage.Membership, error) {
		return s.Durable.Membership(ctx, orgID, userID)
	})
}

// ChosenOrganization returns the user's choice for clientID, or
// ErrNotFound, from the cache when it can.
func (s *Store) ChosenOrganization(ctx context.Context, userID, clientID string) (string, error) {
	return read(s, "choice:"+userID+":"+clientID, "u:"+userID, true, func() (string, error) {
		return s.Durable.ChosenOrganization(ctx, userID, clientID)
	})
}

// settingsOwner is sqlstore.SettingsOwner: the store reports edits of the
// settings under it.
const settingsOwner = "s:settings"

// Settings returns the settings, from the cache when it can: every page
// shows the service name and the banner, so a hit must cost no query.
func (s *Store) Settings(ctx context.Context) (storage.Settings, error) {
	st, err := read(s, "settings", settingsOwner, false, func() (storage.Settings, error) { return s.Durable.Settings(ctx) })
	return st.Clone(), err
}
