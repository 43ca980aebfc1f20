package demorp

import (
	"sync"
	"time"
)

// session is what the app remembers about a signed-in browser. It lives only
// in memory: the cookie carries nothing but a random id, so tokens never reach
// the browser.
type session struct {
	IDToken      string         // raw, sent back as id_token_hint at logout
	Claims       map[string]any // verified ID token payload
	Userinfo     map[string]any
	AccessToken  string
	TokenType    string
	Expiry       time.Time // of the access token
	RefreshToken string
	Nonce        string // sent at sign-in; a refreshed ID token may repeat it
	CSRF         string // per-session token for the logout and refresh forms
	Flash        string // one-shot message shown on the next page view
	Expires      time.Time
}

// sessionStore is a map guarded by a mutex. Values are copied in and out so a
// caller never mutates a session another request is reading.
type sessionStore struct {
	mu  sync.Mutex
	m   map[string]session
	ttl time.Duration
	now func() time.Time
}

func newSessionStore(ttl time.Duration) *sessionStore {
	return &sessionStore{m: map[string]session{}, ttl: ttl, now: time.Now}
}

func (s *sessionStore) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok || s.now().After(sess.Expires) {
		delete(s.m, id)
		return session{}, false
	}
	return sess, true
}

// put stores a new session and drops expired ones, which keeps the map bounded
// by the number of sign-ins per TTL without a background sweeper.
func (s *sessionStore) put(id string, sess session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m {
		if now.After(v.Expires) {
			delete(s.m, k)
		}
	}
	sess.Expires = now.Add(s.ttl)
	s.m[id] = sess
}

// update changes an existing session in place; it reports false when the
// session is gone (signed out or expired meanwhile).
func (s *sessionStore) update(id string, f func(*session)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok || s.now().After(sess.Expires) {
		return false
	}
	f(&sess)
	s.m[id] = sess
	return true
}

func (s *sessionStore) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// deleteMatching deletes every session match accepts and reports how many:
// a back-channel logout ends sessions by the provider's sid or sub, not by
// our cookie's id.
func (s *sessionStore) deleteMatching(match func(session) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.m {
		if match(sess) {
			delete(s.m, id)
			n++
		}
	}
	return n
}
