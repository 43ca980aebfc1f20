package registration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"satupintu/captcha"
	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// The verifikasi step: a six-digit code sent to the email of the kontak
// step proves that the registrant reads that mailbox before the draft may
// store anything larger than form fields (the letter upload comes next).
// It costs an attacker a real mailbox per draft, bounds what drafts can
// upload to those that passed, and means everything the registrant later
// learns (the service number, or that the email or NIB already has an
// account) goes to an address they proved they read, never to the page
// (no enumeration, wizard_submit.go).
//
// The code is sent when Next on kontak names an address not yet verified,
// and again on "Send a new code"; each send first spends a solved security
// check (wizard_captcha.go), so a script pays for every mail it makes the
// service send. Only the code's hash is kept, in the draft. A
// code lives codeTTL and allows maxCodeAttempts guesses; a draft may have
// maxCodeSends codes, one recipient maxCodesPerRecipient an hour, and one
// address (or IPv6 /64) Handler.CodeLimit.
const (
	codeDigits           = 6
	codeTTL              = 15 * time.Minute
	maxCodeAttempts      = 5
	maxCodeSends         = 5
	maxCodesPerRecipient = 5
	codeRecipientWindow  = time.Hour

	codeTriesPrefix = "reg-code-try:" // + draft id: wrong guesses of the current code

	keyCodeRequired = "reg.error.code_required" // the step is not done yet
	keyCodeFormat   = "reg.error.code_format"   // not six digits
	keyCodeWrong    = "reg.error.code_wrong"    // does not match
	keyCodeExpired  = "reg.error.code_expired"  // none live for this address: ask for a new one
	keyCodeTooMany  = "reg.error.code_too_many" // attempts used up: ask for a new one
)

// draftCode is the code last sent for a draft.
type draftCode struct {
	Email     string    `json:"email"` // the address it was sent to
	Hash      string    `json:"hash"`  // codeHash(draft id, email, code)
	ExpiresAt time.Time `json:"expires_at"`
}

// codeHash binds a code to its draft and address, so a code read from one
// mailbox proves nothing for another draft or address.
func codeHash(id, email, code string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + email + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// draftEmail is the draft's email in normal form, "" if it is not valid.
func (d *draft) draftEmail() string {
	e, err := Email(d.Values[FieldEmail])
	if err != nil {
		return ""
	}
	return e
}

// emailVerified reports whether the draft's current email is the one its
// code proved. Changing the email (Back to kontak) undoes the proof.
func (d *draft) emailVerified() bool {
	e := d.draftEmail()
	return e != "" && e == d.EmailVerified
}

// liveCode reports whether a code for the draft's email can still be
// entered at now.
func (d *draft) liveCode(now time.Time) bool {
	return d.Code != nil && d.Code.Email == d.draftEmail() && now.Before(d.Code.ExpiresAt)
}

// newCode returns codeDigits random decimal digits (crypto/rand, uniform).
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail (its documentation says so)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// errCodeLimited says a bound on sending codes was reached; the page says
// so and the registrant can still enter a code sent earlier.
var errCodeLimited = errors.New("registration: verification code sends limited")

// sendCode mails a new code for the draft's email and records it in d (the
// caller saves d). Bounds, in order: the draft's, the recipient's, the
// client address's (Handler.CodeLimit); any one reached is errCodeLimited.
func (h *Handler) sendCode(r *http.Request, id string, d *draft) error {
	ctx := r.Context()
	email := d.draftEmail()
	if email == "" || id == "" {
		return fmt.Errorf("registration: send code without a draft or email")
	}
	// The draft and the mailbox (by hash) count like addresses do.
	sum := sha256.Sum256([]byte(email))
	for _, b := range []struct {
		limit quota.Limit
		by    string
	}{
		{quota.Limit{Name: "reg-code-sent", PerAddress: maxCodeSends, Window: h.draftMaxAge()}, id},
		{quota.Limit{Name: "reg-code-to", PerAddress: maxCodesPerRecipient, Window: codeRecipientWindow}, hex.EncodeToString(sum[:16])},
		{h.CodeLimit, web.RemoteIP(r)},
	} {
		err := b.limit.Take(ctx, h.Counters, b.by)
		if errors.Is(err, quota.ErrExceeded) {
			h.Logger.InfoContext(ctx, "verification codes limited", "error", err)
			return errCodeLimited
		}
		if err != nil {
			return fmt.Errorf("registration: count codes: %w", err)
		}
	}
	code := newCode()
	now := h.Now().UTC()
	if err := h.sendCodeMail(ctx, email, code); err != nil {
		return &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "reg.code.send_failed",
			Err: fmt.Errorf("registration: send verification code: %w", err)}
	}
	// A new code gets its own guesses.
	if err := h.Counters.ResetCounter(ctx, codeTriesPrefix+id); err != nil {
		return fmt.Errorf("registration: reset code attempts: %w", err)
	}
	d.Code = &draftCode{Email: email, Hash: codeHash(id, email, code), ExpiresAt: now.Add(codeTTL)}
	h.Logger.InfoContext(ctx, "registration verification code sent")
	return nil
}

// sendCodeMail sends the code (sendBilingual).
func (h *Handler) sendCodeMail(ctx context.Context, to, code string) error {
	minutes := int(codeTTL / time.Minute)
	return h.sendBilingual(ctx, to, "reg.code.mail.subject", func(lang string) string {
		return h.Pages.T(lang, "reg.code.mail.body", code, minutes)
	})
}

// postVerify answers POST /register/verifikasi: "next" checks the code,
// "resend" sends a new one, "back" returns to kontak. The step gate has
// already been passed (postStep).
func (h *Handler) postVerify(w http.ResponseWriter, r *http.Request, id string, d *draft) error {
	ctx := r.Context()
	i := stepIndex(StepVerify)
	now := h.Now().UTC()
	switch r.PostForm.Get("action") {
	case "back":
		redirect(w, r, backURL(i))
		return nil
	case "resend":
		return h.resendCode(w, r, id, d)
	}
	if captcha.Switching(r) { // the resend form's "Use an image code" or "New image"
		return h.renderVerify(w, r, http.StatusOK, d, nil, "")
	}
	if d.emailVerified() {
		redirect(w, r, stepURL(steps[i+1].slug))
		return nil
	}
	fail := func(key string) error {
		return h.renderVerify(w, r, http.StatusOK, d, []*FieldError{fieldErr(fieldCode, key)}, "")
	}
	input := strings.Join(strings.Fields(r.PostForm.Get(fieldCode)), "")
	if len(input) != codeDigits || !allDigits(input) {
		return fail(keyCodeFormat)
	}
	if !d.liveCode(now) {
		return fail(keyCodeExpired)
	}
	// Counted before comparing, atomically in the shared store, so parallel
	// guesses cannot exceed the allowance.
	n, err := h.Counters.Incr(ctx, codeTriesPrefix+id, codeTTL)
	if err != nil {
		return fmt.Errorf("registration: count code attempts: %w", err)
	}
	if n > maxCodeAttempts {
		d.Code = nil // used up: only a new code can verify now
		if _, err := h.saveDraft(w, r, id, d); err != nil {
			return err
		}
		h.audit(r, newAudit("registration.code_refused", "too_many_attempts"))
		return fail(keyCodeTooMany)
	}
	if subtle.ConstantTimeCompare([]byte(codeHash(id, d.Code.Email, input)), []byte(d.Code.Hash)) != 1 {
		h.Logger.InfoContext(ctx, "wrong registration verification code", "attempt", n)
		return fail(keyCodeWrong)
	}
	d.EmailVerified, d.Code = d.Code.Email, nil
	if err := h.Counters.ResetCounter(ctx, codeTriesPrefix+id); err != nil {
		h.Logger.WarnContext(ctx, "reset code attempts", "error", err)
	}
	if _, err := h.saveDraft(w, r, id, d); err != nil {
		return err
	}
	h.audit(r, newAudit("registration.email_verified", ""))
	redirect(w, r, stepURL(steps[i+1].slug))
	return nil
}

// resendCode answers "Send a new code", once its form's security check
// is solved.
func (h *Handler) resendCode(w http.ResponseWriter, r *http.Request, id string, d *draft) error {
	if d.emailVerified() {
		redirect(w, r, stepURL(StepVerify))
		return nil
	}
	if alert, err := h.unsolvedCaptcha(r); err != nil || alert != "" {
		if err != nil {
			return err
		}
		h.Logger.InfoContext(r.Context(), "verification code not sent: security check not passed")
		return h.renderVerify(w, r, http.StatusOK, d, nil, alert)
	}
	err := h.sendCode(r, id, d)
	if errors.Is(err, errCodeLimited) {
		return h.renderVerify(w, r, http.StatusTooManyRequests, d, nil, "reg.code.limited")
	}
	if err != nil {
		return err
	}
	if _, err := h.saveDraft(w, r, id, d); err != nil {
		return err
	}
	return h.renderVerify(w, r, http.StatusOK, d, nil, "reg.code.sent")
}

// codeAfterContact passes Next on kontak: first the form's security check
// (when it is not passed nothing is sent and the alert to show is
// returned), then the code, when the address is neither verified nor
// already sent a live one, so the registrant finds it in the mailbox when
// the verifikasi page opens. The check is asked even when no code goes
// out, so the page can always show it and never asks for it late. A bound
// reached is not an error: the verifikasi page offers to send the code
// again and says why it cannot.
func (h *Handler) codeAfterContact(r *http.Request, id string, d *draft) (string, error) {
	if alert, err := h.unsolvedCaptcha(r); err != nil || alert != "" {
		if alert != "" {
			h.Logger.InfoContext(r.Context(), "verification code not sent: security check not passed")
		}
		return alert, err
	}
	if d.emailVerified() || d.liveCode(h.Now()) {
		return "", nil
	}
	if err := h.sendCode(r, id, d); err != nil && !errors.Is(err, errCodeLimited) {
		return "", err
	}
	return "", nil
}

// renderContact draws the kontak step with errs and the security check;
// alertKey is the check's alert.
func (h *Handler) renderContact(w http.ResponseWriter, r *http.Request, status int, d *draft, errs []*FieldError, alertKey string) error {
	c, err := h.stepCaptcha(r, alertKey)
	if err != nil {
		return err
	}
	return h.renderStepWith(w, r, status, stepIndex(StepContact), d, errs, func(page *stepPage) {
		page.Captcha = c
		if alertKey != "" {
			page.AlertKey = alertKey
		}
	})
}

// renderVerify draws the verifikasi step: the address the code went to,
// the code field with errs, the "Send a new code" form with its security
// check, and alertKey (or "no code yet" when none is live).
func (h *Handler) renderVerify(w http.ResponseWriter, r *http.Request, status int, d *draft, errs []*FieldError, alertKey string) error {
	var c *captcha.Challenge
	if !d.emailVerified() {
		var err error
		if c, err = h.stepCaptcha(r, alertKey); err != nil {
			return err
		}
	}
	return h.renderStepWith(w, r, status, stepIndex(StepVerify), d, errs, func(page *stepPage) {
		page.CodeSentTo = d.draftEmail()
		page.Resend = true
		page.Captcha = c
		switch {
		case alertKey != "":
			page.AlertKey = alertKey
		case !d.liveCode(h.Now()) && len(errs) == 0:
			page.AlertKey = "reg.code.none"
		}
		if alertKey == "reg.code.sent" {
			page.InfoKey, page.AlertKey = alertKey, ""
		}
	})
}

// newAudit is an anonymous wizard event with an optional reason.
func newAudit(action, reason string) storage.AuditEvent {
	e := storage.AuditEvent{Action: action}
	if reason != "" {
		e.Detail = map[string]string{"reason": reason}
	}
	return e
}
