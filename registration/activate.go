package registration

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/web"
)

// Account activation: the link in the approval email lets the new user set
// a password (ASVS 6.4.1). The secret has 256 bits from crypto/rand, only
// its SHA-256 is stored, it expires after ActivationTTL, it is consumed by
// the one conditional update that checks it, and it only ever sets a
// first password: an account that has one refuses any other activation
// link, so a leftover link is not a password reset.

const (
	// ActivationTTL is how long an activation link works: long enough for
	// a weekend, short enough that an old mailbox is not a key.
	ActivationTTL = 72 * time.Hour
	// MinPasswordLength is in characters (runes), as people count them;
	// the rest of the password policy is password.CheckPolicy's.
	MinPasswordLength = password.MinLength
	// activationSecretLen is the length of a secret in the link: 32 bytes
	// in unpadded base64url.
	activationSecretLen = 43
)

// newActivationToken returns a fresh link secret and the token record to
// store for userID.
func newActivationToken(userID string, now time.Time) (string, storage.ActionToken) {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24 (it crashes the program instead)
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, storage.ActionToken{
		ID:        activationTokenID(secret),
		UserID:    userID,
		Purpose:   storage.TokenActivation,
		CreatedAt: now,
		ExpiresAt: now.Add(ActivationTTL),
	}
}

// activationTokenID is the stored id of a secret: hex SHA-256 of the
// secret as it appears in the link. A database leak yields no usable link.
func activationTokenID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormedSecret reports whether s could be a secret we issued, so
// garbage never reaches the store.
func wellFormedSecret(s string) bool {
	if len(s) != activationSecretLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// activatePage is the data of the "activate" page. The password is never
// echoed back.
type activatePage struct {
	Token             string
	ErrorKey          string
	PasswordErrorKey  string
	PasswordErrorArg  int
	ConfirmErrorKey   string
	MinPasswordLength int
	MaxPasswordLength int
}

// activateDonePage is the data of the "activate_done" page.
type activateDonePage struct {
	Username string
}

// renderInvalidLink is the one page for every link that cannot be used:
// malformed, unknown, used, expired, or for an account already active.
func (h *Handler) renderInvalidLink(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusBadRequest, "activate_invalid", nil)
}

func newActivatePage(token string) activatePage {
	return activatePage{Token: token, MinPasswordLength: MinPasswordLength, MaxPasswordLength: password.MaxLength}
}

// showActivate answers GET /activate?token=…. It reads the token without
// consuming it (mail scanners and link previews fetch links, and a GET must
// change nothing, ASVS 3.5.3), so a used or expired link, or one for an
// account already active, says so at once instead of after the person has
// chosen a password.
func (h *Handler) showActivate(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if !wellFormedSecret(token) {
		return h.renderInvalidLink(w, r)
	}
	ctx := r.Context()
	t, err := h.Tokens.ActionToken(ctx, activationTokenID(token), storage.TokenActivation, h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return h.renderInvalidLink(w, r)
	}
	if err != nil {
		return fmt.Errorf("registration: read activation token: %w", err)
	}
	u, err := h.Users.UserByID(ctx, t.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.PasswordHash != "") {
		return h.renderInvalidLink(w, r)
	}
	if err != nil {
		return fmt.Errorf("registration: load user to activate: %w", err)
	}
	return h.render.Render(w, r, http.StatusOK, "activate", newActivatePage(token))
}

// submitActivate answers POST /activate: check the passwords, consume the
// token, set the password and mark the email verified.
func (h *Handler) submitActivate(w http.ResponseWriter, r *http.Request) error {
	if err := parseSmallForm(w, r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	token := r.PostForm.Get("token")
	if !wellFormedSecret(token) {
		return h.renderInvalidLink(w, r)
	}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm") // exactly as typed (ASVS 6.2.8)
	page := newActivatePage(token)
	// The policy without the account's own words: the account is only
	// known once the link is consumed, and a refusal must not spend it.
	var pe *password.PolicyError
	switch err := password.CheckPolicy(pw); {
	case errors.As(err, &pe):
		page.PasswordErrorKey, page.PasswordErrorArg = pe.Key, pe.Arg
	case err != nil:
		return fmt.Errorf("registration: password policy: %w", err)
	case pw != confirm:
		page.ConfirmErrorKey = "activate.confirm_mismatch"
	}
	if page.PasswordErrorKey != "" || page.ConfirmErrorKey != "" {
		page.ErrorKey = "activate.fix_fields"
		return h.render.Render(w, r, http.StatusOK, "activate", page)
	}

	// Consumed before hashing: only a valid link costs an argon2id run,
	// so invalid links cannot be used to burn CPU and memory.
	t, err := h.Tokens.ConsumeActionToken(ctx, activationTokenID(token), storage.TokenActivation, h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		h.Logger.InfoContext(ctx, "activation link refused", "ip", web.RemoteIP(r))
		return h.renderInvalidLink(w, r)
	}
	if err != nil {
		return fmt.Errorf("registration: consume activation token: %w", err)
	}
	hash, err := password.Hash(pw, password.OWASP)
	if err != nil {
		return fmt.Errorf("registration: hash password: %w", err)
	}
	var username string
	errActive := errors.New("account already activated")
	// The event goes with the account's change, not with the consumed
	// link before it: an activation refused below records nothing.
	actx := h.audited(r, storage.AuditEvent{Action: "user.activate", ActorID: t.UserID, Subject: t.UserID})
	err = h.Users.UpdateUser(actx, t.UserID, func(u *storage.User) error {
		if u.PasswordHash != "" {
			return errActive
		}
		u.PasswordHash, u.EmailVerified, u.UpdatedAt = hash, true, h.Now().UTC()
		username = u.Username
		return nil
	})
	switch {
	case errors.Is(err, errActive), errors.Is(err, storage.ErrNotFound):
		h.Logger.InfoContext(ctx, "activation link for an active or missing account", "user_id", t.UserID)
		return h.renderInvalidLink(w, r)
	case err != nil:
		return fmt.Errorf("registration: activate user %s: %w", t.UserID, err)
	}
	h.Logger.InfoContext(ctx, "account activated", "user_id", t.UserID)
	return h.render.Render(w, r, http.StatusOK, "activate_done", activateDonePage{Username: username})
}
