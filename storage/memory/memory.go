// Package memory is the embedded ephemeral backend: authorization requests,
// codes, SSO sessions, opaque access tokens, one-time values, rate-limit
// counters and form drafts held in process memory, for a single `satupintu
// serve` without Redis. State is lost on restart, which for these
// short-lived objects means users sign in again (and lockout counts start
// over); it is not shared between processes, so several nodes need Redis.
//
// It sits on the hot path (every token introspection reads it), so each
// kind of entry has its own lock and reads of sessions and tokens share a
// read lock. Expired entries are invisible from the instant they expire and
// are dropped by the next write of their kind, soonest expiry first off a
// heap, without a background goroutine. Each kind also holds at most a
// configured number of entries (WithMaxEntries, table.go).
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"satupintu/storage"
)

// Store is the in-process ephemeral store. The zero value is not usable;
// call New.
type Store struct {
	now func() time.Time

	reqMu    sync.Mutex // requests and codes: ConsumeAuthCode changes both
	requests *table[storage.AuthRequest]
	codes    *table[string] // code → request id

	sessMu   sync.RWMutex
	sessions indexed[storage.Session] // by user id

	tokMu  sync.RWMutex
	tokens indexed[storage.AccessToken] // by refresh-token family id

	onceMu sync.Mutex
	once   *table[[]byte]

	cntMu    sync.Mutex
	counters *table[int64]

	draftMu sync.Mutex
	drafts  *table[[]byte]

	devices deviceStore // device.go
}

var _ storage.Ephemeral = (*Store)(nil)

// Option configures a Store.
type Option func(*options)

type options struct{ maxEntries int }

// WithMaxEntries bounds each kind of entry to n, drafts to a twentieth of
// it (DefaultMaxEntries without this option; n <= 0: unbounded). A write
// to a full kind first drops the expired entries, then evicts the one that
// expires first (counters: the one with the fewest hits, counters.go), so
// the heap is bounded by configuration rather than by the machine.
//
// Kinds are bounded apart so that a flood of one (pending sign-in
// requests, which anyone can make) never evicts another (sessions). Within
// the one-time values, replay markers (used codes, DPoP and assertion jti,
// TOTP steps) share the bound with passkey challenges and captcha codes: a
// flood big enough to fill it, past the limits on anonymous writes, evicts
// the markers closest to expiry, and what they guarded could be replayed
// for the rest of their short lives. The eviction counter shows it.
func WithMaxEntries(n int) Option { return func(o *options) { o.maxEntries = n } }

// draftBound is the drafts' share of a bound of n entries: a twentieth,
// since a draft may be 64 KiB (storage.MaxDraftSize) where other entries
// take under 1 KiB. The live drafts are few: registrations are limited per
// address and in total, the rest belong to signed-in users.
func draftBound(n int) int {
	if n <= 0 {
		return n
	}
	return max(n/20, 1)
}

// New returns an empty store reading the time from now (time.Now if nil);
// tests pass a controllable clock to check expiry without sleeping.
func New(now func() time.Time, opts ...Option) *Store {
	if now == nil {
		now = time.Now
	}
	o := options{maxEntries: DefaultMaxEntries}
	for _, opt := range opts {
		opt(&o)
	}
	n := o.maxEntries
	s := &Store{
		now:      now,
		requests: newTable[storage.AuthRequest](n),
		codes:    newTable[string](n),
		sessions: newIndexed(n,
			func(v storage.Session) time.Time { return v.ExpiresAt },
			func(v storage.Session) string { return v.UserID }),
		tokens: newIndexed(n,
			func(v storage.AccessToken) time.Time { return v.ExpiresAt },
			func(v storage.AccessToken) string { return v.FamilyID }),
		once:     newTable[[]byte](n),
		counters: newCounters(n),
		drafts:   newTable[[]byte](draftBound(n)),
	}
	s.devices.init(n)
	return s
}

// Ping always succeeds: the store is this process.
func (s *Store) Ping(context.Context) error { return nil }

// probeKey is the counter ProbeWrite increments.
const probeKey = "health:probe"

// ProbeWrite is the readiness check's write: it counts on a probe key
// through Incr, the path sign-in throttling writes, so a cap on the store's
// size would show in /readyz as it does on Redis. One counter, expiring a
// minute after the first probe of its window.
func (s *Store) ProbeWrite(ctx context.Context) error {
	_, err := s.Incr(ctx, probeKey, time.Minute)
	return err
}

// Close does nothing; the store holds no goroutines or files. The memory is
// reclaimed with the Store.
func (s *Store) Close() error { return nil }

// live reports whether an entry expiring at exp is still visible at now.
func live(exp, now time.Time) bool { return now.Before(exp) }

// add and remove maintain the secondary indexes (user → sessions,
// family → tokens).
func add(index map[string]map[string]struct{}, key, id string) {
	if key == "" {
		return
	}
	set := index[key]
	if set == nil {
		set = make(map[string]struct{})
		index[key] = set
	}
	set[id] = struct{}{}
}

func remove(index map[string]map[string]struct{}, key, id string) {
	if set := index[key]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(index, key)
		}
	}
}

// CreateAuthRequest stores r for ttl.
func (s *Store) CreateAuthRequest(_ context.Context, r storage.AuthRequest, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: create auth request: ttl %v is not positive", ttl)
	}
	now := s.now()
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if _, ok := s.requests.get(r.ID, now); ok {
		return fmt.Errorf("memory: create auth request: %w", storage.ErrAlreadyExists)
	}
	s.requests.put(r.ID, cloneRequest(r), now.Add(ttl), now)
	return nil
}

// AuthRequestByID returns the request with id.
func (s *Store) AuthRequestByID(_ context.Context, id string) (storage.AuthRequest, error) {
	now := s.now()
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	r, ok := s.requests.get(id, now)
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("memory: get auth request: %w", storage.ErrNotFound)
	}
	return cloneRequest(r.v), nil
}

// UpdateAuthRequest applies fn to a copy of the request under the lock and
// stores the result only if fn succeeds; the expiry is kept. fn must not
// call the store.
func (s *Store) UpdateAuthRequest(_ context.Context, id string, fn func(*storage.AuthRequest) error) error {
	now := s.now()
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	r, ok := s.requests.get(id, now)
	if !ok {
		return fmt.Errorf("memory: update auth request: %w", storage.ErrNotFound)
	}
	next := cloneRequest(r.v)
	if err := fn(&next); err != nil {
		return err
	}
	next.ID = id
	r.v = cloneRequest(next)
	return nil
}

// SaveAuthCode links code to the request id for ttl.
func (s *Store) SaveAuthCode(_ context.Context, id, c string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: save auth code: ttl %v is not positive", ttl)
	}
	now := s.now()
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if _, ok := s.requests.get(id, now); !ok {
		return fmt.Errorf("memory: save auth code: request: %w", storage.ErrNotFound)
	}
	if _, ok := s.codes.get(c, now); ok {
		return fmt.Errorf("memory: save auth code: %w", storage.ErrAlreadyExists)
	}
	s.codes.put(c, id, now.Add(ttl), now)
	return nil
}

// ConsumeAuthCode returns the code's request and deletes both under one
// lock, so of two concurrent redemptions exactly one succeeds.
func (s *Store) ConsumeAuthCode(_ context.Context, c string) (storage.AuthRequest, error) {
	now := s.now()
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	v, ok := s.codes.get(c, now)
	s.codes.delete(c)
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("memory: consume auth code: %w", storage.ErrNotFound)
	}
	r, ok := s.requests.get(v.v, now)
	s.requests.delete(v.v)
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("memory: consume auth code: request: %w", storage.ErrNotFound)
	}
	return r.v, nil // stored values are never shared, so no copy is needed
}

// DeleteAuthRequest deletes the request; its codes can no longer be redeemed.
func (s *Store) DeleteAuthRequest(_ context.Context, id string) error {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.requests.delete(id)
	return nil
}

// CreateSession stores sess until sess.ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	_, err := s.CreateSessionCapped(ctx, sess, 0)
	return err
}

// CreateSessionCapped stores sess and, under the same lock, ends the
// user's sessions that expire first until at most maxPerUser are live
// with it.
func (s *Store) CreateSessionCapped(_ context.Context, sess storage.Session, maxPerUser int) ([]storage.Session, error) {
	now := s.now()
	if !live(sess.ExpiresAt, now) {
		return nil, fmt.Errorf("memory: create session: ExpiresAt %v is not in the future", sess.ExpiresAt)
	}
	sess = cloneSession(sess) // outside the lock: it allocates
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if _, taken := s.sessions.value(sess.ID, now); taken {
		return nil, fmt.Errorf("memory: create session: %w", storage.ErrAlreadyExists)
	}
	// Readers only ever get clones, so the ended records are handed out
	// as they are.
	ended := s.sessions.capKey(sess.UserID, maxPerUser, now)
	s.sessions.insert(sess.ID, sess, now)
	return ended, nil
}

// SessionByID returns the session with id.
func (s *Store) SessionByID(_ context.Context, id string) (storage.Session, error) {
	now := s.now()
	s.sessMu.RLock()
	defer s.sessMu.RUnlock()
	v, ok := s.sessions.value(id, now)
	if !ok {
		return storage.Session{}, fmt.Errorf("memory: get session: %w", storage.ErrNotFound)
	}
	return cloneSession(v), nil
}

// AddSessionClient records clientID in the session, once.
func (s *Store) AddSessionClient(_ context.Context, id, clientID string) error {
	now := s.now()
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	v, ok := s.sessions.get(id, now)
	if !ok {
		return fmt.Errorf("memory: add session client: %w", storage.ErrNotFound)
	}
	if !slices.Contains(v.v.ClientIDs, clientID) {
		// Appending in place is safe: readers only ever get clones.
		v.v.ClientIDs = append(v.v.ClientIDs, clientID)
	}
	return nil
}

// DeleteSession deletes the session, if any.
func (s *Store) DeleteSession(_ context.Context, id string) error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	s.sessions.delete(id)
	return nil
}

// UserSessions returns the user's live sessions, oldest first.
func (s *Store) UserSessions(_ context.Context, userID string) ([]storage.Session, error) {
	now := s.now()
	s.sessMu.RLock()
	out := s.sessions.live(userID, now)
	for i := range out {
		out[i] = cloneSession(out[i])
	}
	s.sessMu.RUnlock()
	slices.SortFunc(out, func(a, b storage.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteUserSessions deletes every session of the user.
func (s *Store) DeleteUserSessions(_ context.Context, userID string) error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	s.sessions.deleteKey(userID)
	return nil
}

// CreateAccessToken stores t until t.ExpiresAt.
func (s *Store) CreateAccessToken(_ context.Context, t storage.AccessToken) error {
	now := s.now()
	if !live(t.ExpiresAt, now) {
		return fmt.Errorf("memory: create access token: ExpiresAt %v is not in the future", t.ExpiresAt)
	}
	t = cloneToken(t) // outside the lock: it allocates
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if !s.tokens.insert(t.ID, t, now) {
		return fmt.Errorf("memory: create access token: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// AccessTokenByID returns the token with id.
func (s *Store) AccessTokenByID(_ context.Context, id string) (storage.AccessToken, error) {
	now := s.now()
	s.tokMu.RLock()
	v, ok := s.tokens.value(id, now)
	s.tokMu.RUnlock()
	if !ok {
		return storage.AccessToken{}, fmt.Errorf("memory: get access token: %w", storage.ErrNotFound)
	}
	return cloneToken(v), nil
}

// DeleteAccessToken deletes the token, if any.
func (s *Store) DeleteAccessToken(_ context.Context, id string) error {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tokens.delete(id)
	return nil
}

// DeleteAccessTokenFamily deletes every token issued with the refresh token
// family.
func (s *Store) DeleteAccessTokenFamily(_ context.Context, familyID string) error {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tokens.deleteKey(familyID)
	return nil
}

// PutOnce stores a copy of value under key for ttl.
func (s *Store) PutOnce(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: put one-time value: ttl %v is not positive", ttl)
	}
	now := s.now()
	v := slices.Clone(value)
	s.onceMu.Lock()
	defer s.onceMu.Unlock()
	if _, ok := s.once.get(key, now); ok {
		return fmt.Errorf("memory: put one-time value: %w", storage.ErrAlreadyExists)
	}
	s.once.put(key, v, now.Add(ttl), now)
	return nil
}

// TakeOnce returns the value under key and deletes it.
func (s *Store) TakeOnce(_ context.Context, key string) ([]byte, error) {
	now := s.now()
	s.onceMu.Lock()
	v, ok := s.once.get(key, now)
	s.once.delete(key)
	s.onceMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("memory: take one-time value: %w", storage.ErrNotFound)
	}
	return v.v, nil // deleted, so the caller is the only holder
}

// The clone functions give the store and its callers separate slices (a
// caller appending to Scopes must not change what the next caller reads)
// and normalize times to UTC, as the durable backends do.

func cloneRequest(r storage.AuthRequest) storage.AuthRequest {
	r = r.Clone()
	r.CreatedAt, r.AuthTime = r.CreatedAt.UTC(), r.AuthTime.UTC()
	return r
}

func cloneSession(v storage.Session) storage.Session {
	v.AMR = slices.Clone(v.AMR)
	v.ClientIDs = slices.Clone(v.ClientIDs)
	v.AuthTime, v.CreatedAt, v.ExpiresAt = v.AuthTime.UTC(), v.CreatedAt.UTC(), v.ExpiresAt.UTC()
	return v
}

func cloneToken(t storage.AccessToken) storage.AccessToken {
	t.Scopes = slices.Clone(t.Scopes)
	t.Audience = slices.Clone(t.Audience)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t
}
