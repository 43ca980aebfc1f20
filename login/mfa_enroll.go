package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"satupintu/password"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/totp"
	"satupintu/web"
)

// mfaPage is the data of the "mfa" page: the state of two-step verification
// for the signed-in user and the forms that change it.
type mfaPage struct {
	Enrolled     bool
	EnrolledAt   string // YYYY-MM-DD
	RecoveryLeft int
	NoticeKey    string
	ErrorKey     string
	// Passkeys (passkey_manage.go): on when the feature is.
	PasskeysOn  bool
	Passkeys    []passkeyRow
	MaxPasskeys int
}

// pendingEnrolment is a secret waiting for its first code, kept per session
// in the ephemeral store (sealed, as on the user) until then: the user
// record changes only once the authenticator proved it works.
type pendingEnrolment struct {
	Secret    []byte    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at"`
}

func enrolKey(sessionID string) string { return "mfa-enroll:" + sessionID }

// signedIn returns the session and user of r, or sends the browser to sign
// in first (ok false: the response is written).
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (storage.Session, storage.User, bool) {
	s, u, ok := h.CurrentSession(r)
	if !ok {
		redirect(w, r, "/login")
	}
	return s, u, ok
}

// showMFA answers GET /mfa.
func (h *Handler) showMFA(w http.ResponseWriter, r *http.Request) error {
	_, u, ok := h.signedIn(w, r)
	if !ok {
		return nil
	}
	page := mfaPage{}
	switch r.URL.Query().Get("done") {
	case "disabled":
		page.NoticeKey = "mfa.disabled_notice"
	case "enrolled":
		page.NoticeKey = "mfa.enrolled_notice"
	case "passkey_added", "passkey_rename", "passkey_remove":
		page.NoticeKey = "passkey.notice_" + strings.TrimPrefix(r.URL.Query().Get("done"), "passkey_")
	}
	if r.URL.Query().Get(session.NeedParam) == session.NeedSecondFactor && !u.MFAEnrolled() {
		// Sent here by session.Guard.RequireSecondFactor: say why.
		page.ErrorKey = "session.second_factor_required"
	}
	return h.renderMFA(w, r, u, page)
}

func (h *Handler) renderMFA(w http.ResponseWriter, r *http.Request, u storage.User, page mfaPage) error {
	page.Enrolled = u.MFAEnrolled()
	if page.Enrolled {
		page.EnrolledAt = u.MFAEnrolledAt.Format(time.DateOnly)
		page.RecoveryLeft = len(u.RecoveryCodes)
	}
	if h.Passkeys != nil {
		rows, err := h.passkeyRows(r, u)
		if err != nil {
			return err
		}
		page.PasskeysOn, page.Passkeys, page.MaxPasskeys = true, rows, h.Passkeys.MaxPerUser
	}
	return h.render.Render(w, r, http.StatusOK, "mfa", page)
}

// startEnrol answers POST /mfa/enroll: a new secret waits for confirmation.
func (h *Handler) startEnrol(w http.ResponseWriter, r *http.Request) error {
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
	if u.MFAEnrolled() {
		// Replacing an authenticator means removing it first, which asks
		// for the password and a code (ASVS 7.5.1).
		redirect(w, r, "/mfa")
		return nil
	}
	sealed, err := totp.Seal(h.MFA.Key, totp.NewSecret(), u.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(pendingEnrolment{Secret: sealed, ExpiresAt: h.Now().Add(mfaEnrolTTL)})
	if err != nil {
		return fmt.Errorf("login: encode pending enrolment: %w", err)
	}
	if err := h.MFA.Drafts.SaveDraft(r.Context(), enrolKey(s.ID), b, mfaEnrolTTL); err != nil {
		return fmt.Errorf("login: save pending enrolment: %w", err)
	}
	redirect(w, r, "/mfa/enroll")
	return nil
}

// pendingSecret returns the session's pending secret; ok false if none.
func (h *Handler) pendingSecret(ctx context.Context, s storage.Session) ([]byte, bool, error) {
	b, err := h.MFA.Drafts.Draft(ctx, enrolKey(s.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("login: load pending enrolment: %w", err)
	}
	var p pendingEnrolment
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, false, fmt.Errorf("login: decode pending enrolment: %w", err)
	}
	if !h.Now().Before(p.ExpiresAt) {
		return nil, false, nil
	}
	secret, err := totp.Open(h.MFA.Key, p.Secret, s.UserID)
	if err != nil {
		return nil, false, fmt.Errorf("login: open pending secret: %w", err)
	}
	return secret, true, nil
}

// showEnrol answers GET /mfa/enroll: the QR code and the confirmation form.
func (h *Handler) showEnrol(w http.ResponseWriter, r *http.Request) error {
	s, u, ok := h.signedIn(w, r)
	if !ok {
		return nil
	}
	return h.renderEnrol(w, r, s, u, "")
}

func (h *Handler) renderEnrol(w http.ResponseWriter, r *http.Request, s storage.Session, u storage.User, errorKey string) error {
	secret, ok, err := h.pendingSecret(r.Context(), s)
	if err != nil {
		return err
	}
	if !ok || u.MFAEnrolled() {
		redirect(w, r, "/mfa")
		return nil
	}
	page := stepPage{Action: "/mfa/confirm", AskPassword: true, ErrorKey: errorKey}
	if page.enrolment, err = newEnrolment(u.Username, secret); err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "mfa_enroll", page)
}

// confirmEnrol answers POST /mfa/confirm: with the password (a session
// alone must not bind an attacker's authenticator to the account, ASVS
// 7.5.1) and a code from the new authenticator, the secret is stored and
// the recovery codes are shown, once.
func (h *Handler) confirmEnrol(w http.ResponseWriter, r *http.Request) error {
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
	ctx := r.Context()
	secret, ok, err := h.pendingSecret(ctx, s)
	if err != nil {
		return err
	}
	if !ok || u.MFAEnrolled() {
		redirect(w, r, "/mfa")
		return nil
	}
	if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
		return err
	} else if locked {
		return h.renderEnrol(w, r, s, u, "mfa.too_many_wait")
	}
	f := parseReauthForm(r)
	pwOK, err := h.checkOwnPassword(ctx, u, f.Password)
	if err != nil {
		return err
	}
	if !pwOK {
		err = errWrongPassword
	} else if len(f.Code) > 64 {
		err = errWrongCode
	} else {
		err = h.verifyTOTP(ctx, u.ID, secret, f.Code)
	}
	if err != nil {
		if key, ok := h.reauthFailed(r, u, "mfa.enroll", err); ok {
			return h.renderEnrol(w, r, s, u, key)
		}
		return err
	}

	codes, err := h.enrolUser(h.audited(r, storage.AuditEvent{Action: "mfa.enroll", ActorID: u.ID, Subject: u.ID}), u.ID, secret)
	if errors.Is(err, errAlreadyEnrolled) {
		redirect(w, r, "/mfa")
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.MFA.Drafts.DeleteDraft(ctx, enrolKey(s.ID)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.Logger.WarnContext(ctx, "delete pending enrolment", "error", err)
	}
	h.mfaSucceeded(ctx, u.ID)
	h.Logger.InfoContext(ctx, "two-step verification enrolled", "user_id", u.ID)
	return h.showRecoveryCodes(w, r, codes, "/mfa?done=enrolled")
}

// reauthForm is the password and a current code, asked before two-step
// verification is changed.
type reauthForm struct {
	Password string
	Code     string
}

func parseReauthForm(r *http.Request) reauthForm {
	return reauthForm{Password: r.PostForm.Get("password"), Code: strings.TrimSpace(r.PostForm.Get("code"))}
}

var errWrongPassword = errors.New("login: wrong password")

// CheckOwnPassword verifies u's password in the bounded verification slots,
// for pages of other packages that ask for fresh authentication.
func (h *Handler) CheckOwnPassword(ctx context.Context, u storage.User, secret string) (bool, error) {
	if err := h.init(); err != nil {
		return false, err
	}
	return h.checkOwnPassword(ctx, u, secret)
}

// checkOwnPassword verifies the signed-in user's password, in one of the
// bounded verification slots.
func (h *Handler) checkOwnPassword(ctx context.Context, u storage.User, secret string) (bool, error) {
	if secret == "" || u.PasswordHash == "" {
		return false, nil
	}
	release, err := h.acquireVerify(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return password.Verify(secret, u.PasswordHash) == nil, nil
}

// reauthenticate checks the password and, if u has one, a current second
// factor (ASVS 7.5.1), counting failures as wrong codes.
func (h *Handler) reauthenticate(ctx context.Context, u storage.User, f reauthForm) error {
	ok, err := h.checkOwnPassword(ctx, u, f.Password)
	if err != nil {
		return err
	}
	if !ok {
		return errWrongPassword
	}
	if !u.MFAEnrolled() {
		return nil // no second factor to ask for
	}
	if len(f.Code) > 64 {
		return errWrongCode
	}
	_, err = h.checkSecondFactor(ctx, u, f.Code)
	return err
}

// reauthFailed counts and records a refused re-authentication and returns
// the message for it; ok is false for errors that are not a refusal.
func (h *Handler) reauthFailed(r *http.Request, u storage.User, action string, err error) (string, bool) {
	var key string
	switch {
	case errors.Is(err, errWrongPassword):
		key = "mfa.password_wrong"
	case errors.Is(err, errWrongCode), errors.Is(err, errCodeUsed):
		key = codeErrorKey(err)
	default:
		return "", false
	}
	ctx := r.Context()
	locked, cerr := h.mfaFailed(ctx, u.ID)
	if cerr != nil {
		h.Logger.ErrorContext(ctx, "count wrong code", "error", cerr)
	}
	if locked {
		key = "mfa.too_many_wait"
	}
	h.audit(r, storage.AuditEvent{Action: action + ".failure", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"reason": strings.TrimPrefix(key, "mfa.")}})
	return key, true
}

// disableMFA answers POST /mfa/disable: with the password and a current
// code (or a recovery code), the second factor and its recovery codes go.
func (h *Handler) disableMFA(w http.ResponseWriter, r *http.Request) error {
	return h.changeMFA(w, r, "mfa.disable", func(ctx context.Context, u storage.User) error {
		err := h.MFA.Users.UpdateUser(ctx, u.ID, func(cur *storage.User) error {
			cur.TOTPSecret, cur.MFAEnrolledAt, cur.RecoveryCodes, cur.UpdatedAt = nil, time.Time{}, nil, h.Now()
			return nil
		})
		if err != nil {
			return fmt.Errorf("login: disable mfa: %w", err)
		}
		redirect(w, r, "/mfa?done=disabled")
		return nil
	})
}

// renewRecoveryCodes answers POST /mfa/recovery: with the password and a
// current code, a new set of recovery codes replaces the old one and is
// shown once.
func (h *Handler) renewRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	return h.changeMFA(w, r, "mfa.recovery_codes", func(ctx context.Context, u storage.User) error {
		codes, hashes, err := totp.NewRecoveryCodes(h.MFA.RecoveryParams)
		if err != nil {
			return err
		}
		err = h.MFA.Users.UpdateUser(ctx, u.ID, func(cur *storage.User) error {
			if !cur.MFAEnrolled() {
				return errAlreadyEnrolled // removed meanwhile; nothing to renew
			}
			cur.RecoveryCodes, cur.UpdatedAt = hashes, h.Now()
			return nil
		})
		if errors.Is(err, errAlreadyEnrolled) {
			redirect(w, r, "/mfa")
			return nil
		}
		if err != nil {
			return fmt.Errorf("login: renew recovery codes: %w", err)
		}
		return h.showRecoveryCodes(w, r, codes, "/mfa")
	})
}

// changeMFA runs change for the signed-in, enrolled user once they have
// re-authenticated (ASVS 7.5.1), and records it: change gets a context
// carrying the event, for its one durable write (a change refused under
// the row lock records nothing).
func (h *Handler) changeMFA(w http.ResponseWriter, r *http.Request, action string, change func(context.Context, storage.User) error) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	_, u, ok := h.signedIn(w, r)
	if !ok {
		return nil
	}
	if !u.MFAEnrolled() {
		redirect(w, r, "/mfa")
		return nil
	}
	ctx := r.Context()
	if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
		return err
	} else if locked {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "mfa.too_many_wait"})
	}
	if err := h.reauthenticate(ctx, u, parseReauthForm(r)); err != nil {
		if key, ok := h.reauthFailed(r, u, action, err); ok {
			// Reload: a recovery code may have been used up meanwhile.
			if fresh, lerr := h.Users.UserByID(ctx, u.ID); lerr == nil {
				u = fresh
			}
			return h.renderMFA(w, r, u, mfaPage{ErrorKey: key})
		}
		return err
	}
	h.mfaSucceeded(ctx, u.ID)
	if err := change(h.audited(r, storage.AuditEvent{Action: action, ActorID: u.ID, Subject: u.ID}), u); err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "two-step verification changed", "action", action, "user_id", u.ID)
	return nil
}
