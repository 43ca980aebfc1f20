package login

import (
	"net/http"
	"slices"
	"time"

	"satupintu/session"
	"satupintu/storage"
)

// MaxSessionsPerUser is how many SSO sessions one account keeps at once
// (one account was measured holding 50,000). A sign-in beyond it ends the
// account's oldest sessions, in the same atomic step that stores the new
// one, and signs them out (audit session.end, reason session_limit; the
// logout fan-out). 20 leaves room for every browser and device a trader
// or an office shares an account from.
const MaxSessionsPerUser = 20

// cookie is the session cookie (package session owns its format, so the
// other UI packages read it the same way).
func (h *Handler) cookie() session.Cookie {
	return session.Cookie{Codec: h.Cookies, Secure: h.Secure, TTL: h.SessionTTL}
}

// cookieName is the session cookie's name.
func (h *Handler) cookieName() string { return h.cookie().Name() }

// sessionID returns the session id in r's cookie, if the cookie is there
// and authentic.
func (h *Handler) sessionID(r *http.Request) (string, bool) { return h.cookie().ID(r) }

// CurrentSession returns the SSO session of r and its user, if r carries a
// cookie for a stored, unexpired session whose user may still sign in
// (session.Manager.CurrentSession, over this handler's stores and clock).
func (h *Handler) CurrentSession(r *http.Request) (storage.Session, storage.User, bool) {
	if err := h.init(); err != nil {
		return storage.Session{}, storage.User{}, false
	}
	return h.sessions.CurrentSession(r)
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
	return h.cookie().Set(w, id)
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) { h.cookie().Clear(w) }
