package login

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/web"
)

// Changing the password when signed in (ASVS 6.2.2, 6.2.3): the current
// password is asked again, so a session left open on a shared computer
// cannot take the account over; wrong current passwords are counted per
// account like sign-in failures. A change ends the account's other
// sessions and revokes its refresh tokens (ASVS 7.4.3); this session stays.

const (
	// changeFailLimit wrong current passwords per user within
	// changeFailWindow stop further attempts until the window has passed.
	changeFailLimit  = 5
	changeFailWindow = 15 * time.Minute
)

// changePage is the data of the "password_change" page. No password is
// ever echoed back.
type changePage struct {
	Username          string // for password managers, read-only
	ErrorKey          string
	CurrentErrorKey   string
	PasswordErrorKey  string
	PasswordErrorArg  int
	ConfirmErrorKey   string
	MinLength         int
	RecommendedLength int
}

func newChangePage(u storage.User) changePage {
	return changePage{Username: u.Username, MinLength: password.MinLength, RecommendedLength: password.RecommendedLength}
}

// errPasswordChanged reports a change that lost a race with another one.
var errPasswordChanged = errors.New("login: password changed since it was verified")

// showChange answers GET /password/change; without a session, sign in first.
func (h *Handler) showChange(w http.ResponseWriter, r *http.Request) error {
	_, u, ok := h.CurrentSession(r)
	if !ok {
		redirect(w, r, "/login")
		return nil
	}
	return h.render.Render(w, r, http.StatusOK, "password_change", newChangePage(u))
}

// submitChange answers POST /password/change.
func (h *Handler) submitChange(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	s, u, ok := h.CurrentSession(r)
	if !ok {
		redirect(w, r, "/login")
		return nil
	}
	ctx := r.Context()
	p := h.Passwords
	current := r.PostForm.Get("current") // exactly as typed (ASVS 6.2.8)
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	page := newChangePage(u)
	render := func(status int) error {
		if page.ErrorKey == "" {
			page.ErrorKey = "password.fix_fields"
		}
		return h.render.Render(w, r, status, "password_change", page)
	}
	if current == "" {
		page.CurrentErrorKey = "password.change.current_required"
	}
	if err := password.CheckPolicy(pw, u.Username, u.Email, u.Name); err != nil {
		policyError(err, &page.PasswordErrorKey, &page.PasswordErrorArg)
	} else if pw != confirm {
		page.ConfirmErrorKey = "password.confirm_mismatch"
	}
	if page.CurrentErrorKey != "" || page.PasswordErrorKey != "" || page.ConfirmErrorKey != "" {
		return render(http.StatusOK)
	}

	failures := "pwchange:" + u.ID
	n, err := p.Counters.Count(ctx, failures)
	if err != nil {
		return fmt.Errorf("login: count password change failures: %w", err) // fail closed
	}
	if n >= changeFailLimit {
		h.Logger.InfoContext(ctx, "password change locked after wrong current passwords", "user_id", u.ID)
		page.ErrorKey = "password.change.rate_limited"
		return render(http.StatusTooManyRequests)
	}
	right, err := h.verifyCurrent(r, u, current)
	if err != nil {
		return err
	}
	if !right {
		if _, err := p.Counters.Incr(ctx, failures, changeFailWindow); err != nil {
			return fmt.Errorf("login: count password change failures: %w", err)
		}
		h.audit(r, storage.AuditEvent{Action: "password.change_failure", ActorID: u.ID, Subject: u.ID,
			Detail: map[string]string{"reason": "wrong_current_password"}})
		page.CurrentErrorKey = "password.change.current_wrong"
		return render(http.StatusOK)
	}
	if pw == current {
		page.PasswordErrorKey = "password.change.same"
		return render(http.StatusOK)
	}
	if err := p.Counters.ResetCounter(ctx, failures); err != nil {
		h.Logger.WarnContext(ctx, "reset password change failures", "user_id", u.ID, "error", err)
	}

	hash, err := h.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	actx := h.audited(r, storage.AuditEvent{Action: "password.change", ActorID: u.ID, Subject: u.ID})
	err = p.Users.UpdateUser(actx, u.ID, func(cur *storage.User) error {
		// Compare-and-set on the hash we verified: of two concurrent
		// changes, only one passes with the old password.
		if cur.PasswordHash != u.PasswordHash {
			return errPasswordChanged
		}
		cur.PasswordHash, cur.PasswordChangedAt, cur.UpdatedAt = hash, now, now
		return nil
	})
	switch {
	case errors.Is(err, errPasswordChanged):
		page.ErrorKey = "password.change.conflict"
		return render(http.StatusConflict)
	case err != nil:
		return fmt.Errorf("login: change password of %s: %w", u.ID, err)
	}
	if err := h.endUserSessions(ctx, u.ID, s.ID); err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "password changed", "user_id", u.ID)
	h.notifyChanged(r, u, now)
	return h.render.Render(w, r, http.StatusOK, "password_change_done", nil)
}

// verifyCurrent checks the current password in a bounded slot. An account
// without a password (never activated) has no current one to give.
func (h *Handler) verifyCurrent(r *http.Request, u storage.User, current string) (bool, error) {
	if u.PasswordHash == "" || len(current) > password.MaxLength {
		return false, nil
	}
	release, err := h.verifySlot(r.Context())
	if err != nil {
		return false, err
	}
	defer release()
	err = password.Verify(current, u.PasswordHash)
	if errors.Is(err, password.ErrMalformed) {
		h.Logger.ErrorContext(r.Context(), "stored password hash is malformed", "user_id", u.ID)
	}
	return err == nil, nil
}
