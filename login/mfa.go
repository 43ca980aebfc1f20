package login

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"rsc.io/qr"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/totp"
	"satupintu/web"
)

// MFAUsers is the slice of storage two-step verification writes users with.
type MFAUsers interface {
	UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
}

// MFA configures two-step verification with TOTP (package totp): the
// second sign-in step of enrolled users, enrolment and removal at /mfa, and
// sign-ins for requests that need a second factor. Set it as Handler.MFA
// before Mount; without it, a sign-in that needs a second factor fails.
type MFA struct {
	Users    MFAUsers
	Drafts   storage.Drafts   // pending sign-in steps and enrolments
	Counters storage.Counters // wrong codes per user
	Used     storage.OneTime  // TOTP time steps already used (replay)
	// Key seals TOTP secrets at rest (AES-256-GCM, totp.Seal); it comes
	// from the Secrets store, so every node opens what another sealed.
	Key []byte
	// RecoveryParams hash recovery codes (totp.RecoveryParams if zero).
	RecoveryParams password.Params
	// MaxFailures wrong codes per user within FailureWindow end the pending
	// sign-in and refuse codes until the window has passed (5 and 15 minutes
	// if zero): with three codes valid at a time, an attacker who has the
	// password gets about 10^-5 per window.
	MaxFailures   int
	FailureWindow time.Duration

	verifier *totp.Verifier
}

const (
	// mfaStepTTL is how long the browser has from the password to the code.
	mfaStepTTL = 5 * time.Minute
	// mfaEnrolTTL is how long a pending secret waits to be confirmed.
	mfaEnrolTTL = 10 * time.Minute
	// mfaIssuer names the service in authenticator apps.
	mfaIssuer = "satupintu"
)

// Errors of a second factor check; the user sees a message, never these.
var (
	errWrongCode = errors.New("login: wrong second-factor code")
	errCodeUsed  = errors.New("login: second-factor code already used")
)

func (h *Handler) setupMFA() error {
	m := h.MFA
	if m == nil {
		return nil
	}
	switch {
	case m.Users == nil, m.Drafts == nil, m.Counters == nil, m.Used == nil:
		return fmt.Errorf("login: an MFA storage dependency is nil")
	case len(m.Key) != totp.KeySize:
		return fmt.Errorf("login: MFA key is %d bytes, want %d", len(m.Key), totp.KeySize)
	}
	for _, page := range []string{"mfa", "mfa_enroll", "mfa_login", "mfa_recovery"} {
		if !h.Pages.Has(page) {
			return fmt.Errorf("login: template %q missing", page)
		}
	}
	if m.RecoveryParams == (password.Params{}) {
		m.RecoveryParams = totp.RecoveryParams
	}
	if m.MaxFailures <= 0 {
		m.MaxFailures = 5
	}
	if m.FailureWindow <= 0 {
		m.FailureWindow = 15 * time.Minute
	}
	m.verifier = &totp.Verifier{Used: m.Used, Now: h.Now}
	return nil
}

// requestsMFA reports whether ar asked for a second factor: acr_values, to
// which op also adds the MFA class for clients that require it.
func requestsMFA(ar storage.AuthRequest) bool {
	return slices.Contains(ar.ACRValues, storage.ACRMFA)
}

// hasMFA reports whether session s was authenticated with a second factor.
func hasMFA(s storage.Session) bool { return slices.Contains(s.AMR, storage.AMRMFA) }

// needsMFA reports whether signing in for ar takes a second factor: the
// request asks for it, or the client requires it. The client is read again
// here, not only when op accepted the request, so a policy switched on
// meanwhile holds (and so the UI does not depend on op for it).
func (h *Handler) needsMFA(ctx context.Context, ar storage.AuthRequest) (bool, error) {
	if ar.ID == "" {
		return false, nil // signing in to satupintu itself
	}
	if requestsMFA(ar) {
		return true, nil
	}
	c, err := h.Clients.ClientByID(ctx, ar.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, errExpired(err)
	}
	if err != nil {
		return false, fmt.Errorf("login: load client: %w", err)
	}
	return c.RequireMFA, nil
}

// sessionSatisfies reports whether session s is strong enough for ar:
// usableFor checked acr_values; this adds the client's own policy. A
// failed lookup counts as "no" (fail closed), and the sign-in page follows.
func (h *Handler) sessionSatisfies(ctx context.Context, ar storage.AuthRequest, s storage.Session) bool {
	if hasMFA(s) {
		return true
	}
	need, err := h.needsMFA(ctx, ar)
	if err != nil {
		h.Logger.WarnContext(ctx, "check client mfa policy", "client_id", ar.ClientID, "error", err)
		return false
	}
	return !need
}

// failureKey is the per-user counter of wrong second-factor codes.
func failureKey(userID string) string { return "mfa-fail:" + userID }

// mfaLocked reports whether userID has used up its wrong codes.
func (h *Handler) mfaLocked(ctx context.Context, userID string) (bool, error) {
	n, err := h.MFA.Counters.Count(ctx, failureKey(userID))
	if err != nil {
		return false, fmt.Errorf("login: count wrong codes: %w", err)
	}
	return n >= int64(h.MFA.MaxFailures), nil
}

// mfaFailed counts a wrong code and reports whether that used up the last.
func (h *Handler) mfaFailed(ctx context.Context, userID string) (bool, error) {
	n, err := h.MFA.Counters.Incr(ctx, failureKey(userID), h.MFA.FailureWindow)
	if err != nil {
		return false, fmt.Errorf("login: count wrong code: %w", err)
	}
	return n >= int64(h.MFA.MaxFailures), nil
}

func (h *Handler) mfaSucceeded(ctx context.Context, userID string) {
	if err := h.MFA.Counters.ResetCounter(ctx, failureKey(userID)); err != nil {
		h.Logger.WarnContext(ctx, "reset wrong-code counter", "user_id", userID, "error", err)
	}
}

// checkSecondFactor accepts a TOTP code from u's authenticator or one of
// u's recovery codes, which it uses up. It returns the method ("totp" or
// "recovery_code"), errWrongCode, errCodeUsed, or another error.
func (h *Handler) checkSecondFactor(ctx context.Context, u storage.User, code string) (string, error) {
	if !u.MFAEnrolled() {
		return "", errWrongCode
	}
	if _, ok := totp.NormalizeCode(code); ok {
		secret, err := totp.Open(h.MFA.Key, u.TOTPSecret, u.ID)
		if err != nil {
			return "", fmt.Errorf("login: open totp secret of %s: %w", u.ID, err)
		}
		return "totp", h.verifyTOTP(ctx, u.ID, secret, code)
	}
	if _, ok := totp.NormalizeRecoveryCode(code); ok {
		return "recovery_code", h.useRecoveryCode(ctx, u, code)
	}
	return "", errWrongCode
}

// verifyTOTP checks code against secret once (totp.Verifier).
func (h *Handler) verifyTOTP(ctx context.Context, userID string, secret []byte, code string) error {
	err := h.MFA.verifier.Verify(ctx, userID, secret, code)
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		return errWrongCode
	case errors.Is(err, totp.ErrReplayed):
		return errCodeUsed
	case err != nil:
		return fmt.Errorf("login: verify totp: %w", err)
	}
	return nil
}

// useRecoveryCode accepts one of u's recovery codes and deletes its hash in
// the same transaction that checks it is still there, so a code works once
// even when two requests race with it.
func (h *Handler) useRecoveryCode(ctx context.Context, u storage.User, code string) error {
	release, err := h.acquireVerify(ctx)
	if err != nil {
		return err
	}
	i, err := totp.MatchRecoveryCode(code, u.RecoveryCodes)
	release()
	if err != nil {
		h.Logger.ErrorContext(ctx, "stored recovery code hash is malformed", "user_id", u.ID)
	}
	if i < 0 {
		return errWrongCode
	}
	used := u.RecoveryCodes[i]
	err = h.MFA.Users.UpdateUser(ctx, u.ID, func(cur *storage.User) error {
		j := slices.Index(cur.RecoveryCodes, used)
		if j < 0 {
			return errCodeUsed
		}
		cur.RecoveryCodes = slices.Delete(slices.Clone(cur.RecoveryCodes), j, j+1)
		cur.UpdatedAt = h.Now()
		return nil
	})
	if err != nil && !errors.Is(err, errCodeUsed) {
		return fmt.Errorf("login: use recovery code: %w", err)
	}
	return err
}

// acquireVerify takes one of the slots that bound concurrent argon2id
// verifications (ASVS 15.2.2); recovery codes are argon2id hashes too.
func (h *Handler) acquireVerify(ctx context.Context) (func(), error) {
	timer := time.NewTimer(verifyWait)
	defer timer.Stop()
	select {
	case h.verifying <- struct{}{}:
		return func() { <-h.verifying }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "error.busy", Err: errors.New("login: no free verification slot")}
	}
}

// codeErrorKey is the message for a refused code.
func codeErrorKey(err error) string {
	if errors.Is(err, errCodeUsed) {
		return "mfa.code_used"
	}
	if errors.Is(err, errPasskeyRefused) {
		return "passkey.failed"
	}
	return "mfa.code_wrong"
}

// enrolment is what a new authenticator's page shows: the QR code of the
// otpauth:// URI and the same secret as text for manual entry.
type enrolment struct {
	QR     template.URL // a data: URI of a PNG (CSP img-src allows data:)
	Secret string       // base32 in groups of four
	// URI is the otpauth:// URI itself: on a phone, tapping it opens the
	// authenticator app there, where scanning the phone's own screen cannot.
	URI template.URL
}

func newEnrolment(username string, secret []byte) (enrolment, error) {
	otpauth := totp.URI(mfaIssuer, username, secret)
	code, err := qr.Encode(otpauth, qr.M)
	if err != nil {
		return enrolment{}, fmt.Errorf("login: qr code: %w", err)
	}
	code.Scale = 6
	// The URI is built here from base64 of our own PNG: a safe URL.
	uri := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(code.PNG()))
	// Built by totp.URI from our own secret and a user name it escapes.
	return enrolment{QR: uri, Secret: totp.FormatSecret(secret), URI: template.URL(otpauth)}, nil
}

// enrolUser stores a confirmed secret with fresh recovery codes on u and
// returns the codes to show once. A user who enrolled meanwhile (another
// tab) keeps that enrolment: errAlreadyEnrolled.
func (h *Handler) enrolUser(ctx context.Context, userID string, secret []byte) ([]string, error) {
	sealed, err := totp.Seal(h.MFA.Key, secret, userID)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := totp.NewRecoveryCodes(h.MFA.RecoveryParams)
	if err != nil {
		return nil, err
	}
	err = h.MFA.Users.UpdateUser(ctx, userID, func(u *storage.User) error {
		if u.MFAEnrolled() {
			return errAlreadyEnrolled
		}
		now := h.Now()
		u.TOTPSecret, u.MFAEnrolledAt, u.RecoveryCodes, u.UpdatedAt = sealed, now, hashes, now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

var errAlreadyEnrolled = errors.New("login: already enrolled")

// recoveryPage is the data of the "mfa_recovery" page: the codes, shown
// this once, and where to go when the user has saved them.
type recoveryPage struct {
	Codes       []string
	ContinueURL string
}

func (h *Handler) showRecoveryCodes(w http.ResponseWriter, r *http.Request, codes []string, next string) error {
	return h.render.Render(w, r, http.StatusOK, "mfa_recovery", recoveryPage{Codes: codes, ContinueURL: next})
}
