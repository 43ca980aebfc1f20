// Package session is the signed-in session every UI package shares: the
// session cookie (Cookie), who is signed in (Manager.CurrentSession) and
// the checks a page runs before it serves a request (Guard: RequireUser,
// RequireRole, RequireSecondFactor, RequireFreshAuth).
//
// The login package creates and ends sessions and owns the pages the
// checks send a browser to (sign-in, re-authentication, MFA enrolment);
// this package only reads the session, so every package that needs it
// (account, registration, privacy, device, upstream, admin) reads it the
// same way without importing login.
package session

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/storage"
)

// Cookie is the SSO session cookie: it holds only the session id,
// authenticated (and encrypted when the codec has a block key). Every node
// is configured with the same keys, so every node reads every cookie.
type Cookie struct {
	Codec  *securecookie.SecureCookie
	Secure bool          // https: Secure, with the __Host- prefix
	TTL    time.Duration // Max-Age of a new cookie: the absolute session lifetime
}

// Name is the cookie's name. Under https it carries the __Host- prefix:
// Secure, Path=/, no Domain, so no subdomain can set or shadow it (ASVS
// 3.3.1, 3.3.3).
func (c Cookie) Name() string {
	if c.Secure {
		return "__Host-satupintu_session"
	}
	return "satupintu_session"
}

// ID returns the session id in r's cookie, if the cookie is there and
// authentic. The cookie only references the session: whether it is valid
// is decided by the stored record (ASVS 7.2.1).
func (c Cookie) ID(r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.Name())
	if err != nil || c.Codec == nil {
		return "", false
	}
	var id string
	if err := c.Codec.Decode(c.Name(), ck.Value, &id); err != nil || id == "" {
		return "", false
	}
	return id, true
}

// Set gives the browser a cookie referencing session id.
func (c Cookie) Set(w http.ResponseWriter, id string) error {
	v, err := c.Codec.Encode(c.Name(), id)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     c.Name(),
		Value:    v,
		Path:     "/",
		MaxAge:   int(c.TTL / time.Second),
		Secure:   c.Secure,
		HttpOnly: true,                 // ASVS 3.3.4
		SameSite: http.SameSiteLaxMode, // sent on the top-level GET back from a relying party
	})
	return nil
}

// Clear removes the cookie from the browser.
func (c Cookie) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     c.Name(),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   c.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// The slices of storage a Manager reads.
type (
	Sessions interface {
		SessionByID(ctx context.Context, id string) (storage.Session, error)
	}
	Users interface {
		UserByID(ctx context.Context, id string) (storage.User, error)
	}
)

// Manager says who is signed in: the cookie, the stored session and its
// user. Set the fields; the zero Now and Logger mean time.Now and discard.
type Manager struct {
	Cookie   Cookie
	Sessions Sessions
	Users    Users
	Now      func() time.Time
	Logger   *slog.Logger
}

// CurrentSession returns the SSO session of r and its user, if r carries a
// cookie for a stored, unexpired session whose user may still sign in.
func (m *Manager) CurrentSession(r *http.Request) (storage.Session, storage.User, bool) {
	id, ok := m.Cookie.ID(r)
	if !ok {
		return storage.Session{}, storage.User{}, false
	}
	ctx := r.Context()
	s, err := m.Sessions.SessionByID(ctx, id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			m.logger().ErrorContext(ctx, "load session failed", "error", err)
		}
		return storage.Session{}, storage.User{}, false
	}
	now := m.now()
	if !now.Before(s.ExpiresAt) {
		return storage.Session{}, storage.User{}, false
	}
	u, err := m.Users.UserByID(ctx, s.UserID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			m.logger().ErrorContext(ctx, "load session user failed", "user_id", s.UserID, "error", err)
		}
		return storage.Session{}, storage.User{}, false
	}
	// An account disabled or expired since sign-in loses its session at
	// once, not at the session's end (ASVS 7.4.2).
	if !u.CanSignIn(now) {
		return storage.Session{}, storage.User{}, false
	}
	return s, u, true
}

// CurrentUser is CurrentSession without the session, for the packages
// that only need to know who is asking.
func (m *Manager) CurrentUser(r *http.Request) (storage.User, bool) {
	_, u, ok := m.CurrentSession(r)
	return u, ok
}

// Guard returns the checks for the sessions m reads, with the default
// paths; set its fields (SignIn, HasPasskey, ...) before use.
func (m *Manager) Guard() *Guard {
	return &Guard{Current: m.CurrentSession, Now: m.Now}
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}
