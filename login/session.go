package login

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"satupintu/storage"
)

// MaxSessionsPerUser is how many SSO sessions one account keeps at once
// (one account was measured holding 50,000). A sign-in beyond it ends the
// account's oldest sessions, in the same atomic step that stores the new
// one, and signs them out (audit session.end, reason session_limit; the
// logout fan-out). 20 leaves room for every browser and device a trader
// or an office shares an account from.
const MaxSessionsPerUser = 20

// cookieName is the session cookie's name. Under https it carries the
// __Host- prefix: Secure, Path=/, no Domain, so no subdomain can set or
// shadow it (ASVS 3.3.1, 3.3.3).
func (h *Handler) cookieName() string {
	if h.Secure {
		return "__Host-satupintu_session"
	}
	return "satupintu_session"
}

// sessionID returns the session id in r's cookie, if the cookie is there
// and authentic. The cookie only references the session: whether it is
// valid is decided by the stored record (ASVS 7.2.1).
func (h *Handler) sessionID(r *http.Request) (string, bool) {
	c, err := r.Cookie(h.cookieName())
	if err != nil {
		return "", false
	}
	var id string
	if err := h.Cookies.Decode(h.cookieName(), c.Value, &id); err != nil || id == "" {
		return "", false
	}
	return id, true
}

// CurrentSession returns the SSO session of r and its user, if r carries a
// cookie for a stored, unexpired session whose user may still sign in.
func (h *Handler) CurrentSession(r *http.Request) (storage.Session, storage.User, bool) {
	if err := h.init(); err != nil {
		return storage.Session{}, storage.User{}, false
	}
	id, ok := h.sessionID(r)
	if !ok {
		return storage.Session{}, storage.User{}, false
	}
	ctx := r.Context()
	s, err := h.Sessions.SessionByID(ctx, id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			h.Logger.ErrorContext(ctx, "load session failed", "error", err)
		}
		return storage.Session{}, storage.User{}, false
	}
	now := h.Now()
	if !now.Before(s.ExpiresAt) {
		return storage.Session{}, storage.User{}, false
	}
	u, err := h.Users.UserByID(ctx, s.UserID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			h.Logger.ErrorContext(ctx, "load session user failed", "user_id", s.UserID, "error", err)
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

// usableFor reports whether session s may answer authorization request ar
// without asking for the password (OIDC Core §3.1.2.1).
func usableFor(ar storage.AuthRequest, s storage.Session, now time.Time) bool {
	// prompt=create asks for a new account, which a session cannot answer.
	if slices.Contains(ar.Prompt, "login") || slices.Contains(ar.Prompt, storage.PromptCreate) {
		return false
	}
	// max_age: the authentication must be at most that many seconds old;
	// max_age=0 means authenticate now.
	if ar.MaxAge != nil && (*ar.MaxAge <= 0 || now.Sub(s.AuthTime) > time.Duration(*ar.MaxAge)*time.Second) {
		return false
	}
	// An id_token_hint names the user the relying party expects; another
	// user's session must not answer silently (§3.1.2.1 id_token_hint).
	if ar.HintSubject != "" && ar.HintSubject != s.UserID {
		return false
	}
	// A request asking for a second factor is not answered by a session
	// without one (ASVS 6.3.3); the sign-in then asks for it.
	if requestsMFA(ar) && !hasMFA(s) {
		return false
	}
	return true
}

// setSessionCookie gives the browser a cookie referencing session id. It
// holds no user data, only the id, authenticated (and encrypted if the codec
// has a block key) by securecookie.
func (h *Handler) setSessionCookie(w http.ResponseWriter, id string) error {
	v, err := h.Cookies.Encode(h.cookieName(), id)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName(),
		Value:    v,
		Path:     "/",
		MaxAge:   int(h.SessionTTL / time.Second),
		Secure:   h.Secure,
		HttpOnly: true,                 // ASVS 3.3.4
		SameSite: http.SameSiteLaxMode, // sent on the top-level GET back from a relying party
	})
	return nil
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName(),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   h.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}
