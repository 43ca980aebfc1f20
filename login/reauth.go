package login

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"satupintu/session"
	"satupintu/storage"
	"satupintu/web"
)

// Step-up re-authentication: pages guarded by session.Guard.RequireFreshAuth
// send a user whose sign-in is too old here (session.ReauthPath). The
// password, and the second factor when the user has one (ASVS 7.5.1),
// renew the session's authentication time, and the browser goes back.

// reauthPage is the data of the "reauth" page.
type reauthPage struct {
	Username string
	AskCode  bool   // the user has TOTP: a code or a recovery code too
	Return   string // the checked way back
	ErrorKey string
}

// reauthReturn checks the way back: a local path other than this page, or
// the home page (no open redirect, no loop).
func reauthReturn(v string) string {
	if localPath(v) && v != session.ReauthPath && !strings.HasPrefix(v, session.ReauthPath+"?") {
		return v
	}
	return "/"
}

// showReauth answers GET /reauth.
func (h *Handler) showReauth(w http.ResponseWriter, r *http.Request) error {
	_, u, ok := h.signedIn(w, r)
	if !ok {
		return nil
	}
	return h.renderReauth(w, r, u, reauthReturn(r.URL.Query().Get(session.ReturnParam)), "")
}

func (h *Handler) renderReauth(w http.ResponseWriter, r *http.Request, u storage.User, back, errorKey string) error {
	return h.render.Render(w, r, http.StatusOK, "reauth", reauthPage{
		Username: u.Username, AskCode: h.MFA != nil && u.MFAEnrolled(), Return: back, ErrorKey: errorKey,
	})
}

// submitReauth answers POST /reauth: the same checks as changing two-step
// verification (reauthenticate), counted against the same wrong-code
// allowance; on success the session is renewed and the browser goes back.
func (h *Handler) submitReauth(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	s, u, ok := h.signedIn(w, r)
	if !ok {
		return nil
	}
	back := reauthReturn(r.PostForm.Get(session.ReturnParam))
	ctx := r.Context()
	f := parseReauthForm(r)
	if h.MFA == nil {
		// No second factors on this provider: the password alone.
		pwOK, err := h.checkOwnPassword(ctx, u, f.Password)
		if err != nil {
			return err
		}
		if !pwOK {
			h.audit(r, storage.AuditEvent{Action: "session.reauth.failure", ActorID: u.ID, Subject: u.ID,
				Detail: map[string]string{"reason": "password_wrong"}})
			return h.renderReauth(w, r, u, back, "mfa.password_wrong")
		}
	} else {
		if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
			return err
		} else if locked {
			return h.renderReauth(w, r, u, back, "mfa.too_many_wait")
		}
		if err := h.reauthenticate(ctx, u, f); err != nil {
			if key, ok := h.reauthFailed(r, u, "session.reauth", err); ok {
				return h.renderReauth(w, r, u, back, key)
			}
			return err
		}
		h.mfaSucceeded(ctx, u.ID)
	}
	amr := []string{storage.AMRPassword}
	if h.MFA != nil && u.MFAEnrolled() {
		amr = append(amr, storage.AMROTP, storage.AMRMFA)
	}
	if _, err := h.renewSession(w, r, s, u, amr); err != nil {
		return err
	}
	h.audit(r, storage.AuditEvent{Action: "session.reauth", ActorID: u.ID, Subject: u.ID})
	h.Logger.InfoContext(ctx, "re-authenticated", "user_id", u.ID)
	redirect(w, r, back)
	return nil
}

// renewSession replaces s with a session authenticated now: a new id (ASVS
// 7.2.4, as at every authentication), the same sid and clients (relying
// parties still know it by its sid), the same absolute end, and the
// methods just used added to those of the sign-in.
func (h *Handler) renewSession(w http.ResponseWriter, r *http.Request, s storage.Session, u storage.User, amr []string) (storage.Session, error) {
	ctx := r.Context()
	if err := h.Sessions.DeleteSession(ctx, s.ID); err != nil {
		return storage.Session{}, fmt.Errorf("login: delete session being renewed: %w", err)
	}
	renewed := s
	renewed.ID = storage.NewID()
	renewed.AuthTime = h.Now()
	renewed.UserAgent = truncate(r.UserAgent(), 256)
	renewed.IP = web.RemoteIP(r)
	renewed.AMR = slices.Clone(s.AMR)
	for _, m := range amr {
		if !slices.Contains(renewed.AMR, m) {
			renewed.AMR = append(renewed.AMR, m)
		}
	}
	ended, err := h.Sessions.CreateSessionCapped(ctx, renewed, MaxSessionsPerUser)
	if err != nil {
		return storage.Session{}, fmt.Errorf("login: create renewed session: %w", err)
	}
	if err := h.setSessionCookie(w, renewed.ID); err != nil {
		return storage.Session{}, fmt.Errorf("login: encode session cookie: %w", err)
	}
	h.endCapped(r, u, ended)
	return renewed, nil
}
