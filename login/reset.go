package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	satumail "satupintu/mail"
	"satupintu/password"
	"satupintu/quota"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// Password reset by email. The request page answers the same way whatever
// the address (ASVS 6.3.8): the lookup, the token and the email happen
// after the response, in the background, so neither the page nor its
// timing says whether an account exists. The link's secret has 256 bits,
// only its SHA-256 is stored, it expires after ResetTTL and is consumed by
// the one update that checks it (ASVS 6.4.3); a password change also voids
// every link issued before it. Setting the new password ends every session
// of the account and revokes its refresh tokens (ASVS 7.4.3); it signs no
// one in, so a second factor is still asked at the next sign-in.

// The slices of storage password reset and change use.
type (
	PasswordUsers interface {
		UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
	}
	// UserSessions finds and ends every session of a user.
	UserSessions interface {
		UserSessions(ctx context.Context, userID string) ([]storage.Session, error)
		DeleteUserSessions(ctx context.Context, userID string) error
	}
	RefreshTokenRevoker interface {
		RevokeUserRefreshTokens(ctx context.Context, userID string) error
	}
	// Outbox queues a mail for delivery (jobs.Outbox): with the tx of a
	// storage.TxHook, in that transaction; with a nil tx, on its own.
	Outbox interface {
		Mail(ctx context.Context, tx storage.Tx, m satumail.Message) error
	}
)

// Passwords configures password reset by email (/password/forgot,
// /password/reset) and password change (/password/change). Set it as
// Handler.Passwords before Mount; nil leaves those pages out.
type Passwords struct {
	Users         PasswordUsers
	Tokens        storage.ActionTokens
	Counters      storage.Counters // request limits and wrong current passwords
	Sessions      UserSessions
	RefreshTokens RefreshTokenRevoker
	Mail          Outbox
	// BaseURL is the issuer, for the links in emails.
	BaseURL string

	// background tracks reset and notification emails still being sent
	// after their response; slots bounds how many at once.
	background sync.WaitGroup
	slots      chan struct{}
}

const (
	// ResetTTL is how long a reset link works: long enough to open the
	// email, short enough that an old mailbox is not a key.
	ResetTTL = time.Hour
	// resetSecretLen is a link secret's length: 32 bytes, unpadded base64url.
	resetSecretLen = 43
	// A browser address may ask for forgotIPLimit links per forgotIPWindow,
	// and one email address receives at most forgotEmailLimit per
	// forgotEmailWindow, so the form can mail-bomb no one (ASVS 2.4.1).
	forgotIPLimit     = 10
	forgotIPWindow    = 15 * time.Minute
	forgotEmailLimit  = 3
	forgotEmailWindow = time.Hour
	// maxBackgroundMail bounds the emails in flight; past it a request is
	// dropped (and logged): the user sees the usual page and may ask again.
	maxBackgroundMail = 32
	// mailTimeout bounds one background lookup and send.
	mailTimeout = 30 * time.Second
	// maxEmailLen is RFC 5321 §4.5.3.1.3's limit on a forward path.
	maxEmailLen = 254
)

func (h *Handler) setupPasswords() error {
	p := h.Passwords
	if p == nil {
		return nil
	}
	switch {
	case p.Users == nil, p.Tokens == nil, p.Counters == nil, p.Sessions == nil, p.RefreshTokens == nil, p.Mail == nil:
		return fmt.Errorf("login: a password reset dependency is nil")
	case p.BaseURL == "":
		return fmt.Errorf("login: Passwords.BaseURL is required for the links in emails")
	}
	for _, page := range []string{"reset_forgot", "reset_sent", "reset", "reset_invalid", "reset_done", "password_change", "password_change_done"} {
		if !h.Pages.Has(page) {
			return fmt.Errorf("login: template %q missing", page)
		}
	}
	p.slots = make(chan struct{}, maxBackgroundMail)
	return nil
}

// forgotPage is the data of the "reset_forgot" page.
type forgotPage struct {
	Email         string
	ErrorKey      string
	EmailErrorKey string
}

// resetPage is the data of the "reset" page. The password is never echoed.
type resetPage struct {
	Token             string
	ErrorKey          string
	PasswordErrorKey  string
	PasswordErrorArg  int
	ConfirmErrorKey   string
	MinLength         int
	RecommendedLength int
}

func newResetPage(token string) resetPage {
	return resetPage{Token: token, MinLength: password.MinLength, RecommendedLength: password.RecommendedLength}
}

// policyError fills a password field's message from CheckPolicy's error.
func policyError(err error, key *string, arg *int) {
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		*key, *arg = pe.Key, pe.Arg
		return
	}
	*key = password.KeyRequired // CheckPolicy returns nothing else
}

func (h *Handler) showForgot(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "reset_forgot", forgotPage{})
}

// submitForgot answers POST /password/forgot: after the form checks and the
// rate limits, which do not depend on the account, it always redirects to
// the same page; the work happens in startReset.
func (h *Handler) submitForgot(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	page := forgotPage{Email: strings.TrimSpace(r.PostForm.Get("email"))}
	email := strings.ToLower(page.Email)
	switch {
	case email == "":
		page.EmailErrorKey = "password.forgot.email_required"
	case len(email) > maxEmailLen || !plainAddress(email):
		page.EmailErrorKey = "password.forgot.email_invalid"
	}
	if page.EmailErrorKey != "" {
		page.ErrorKey = "password.fix_fields"
		return h.render.Render(w, r, http.StatusOK, "reset_forgot", page)
	}

	ip := web.RemoteIP(r)
	// The address is counted by its hash: the ephemeral store need not
	// hold a list of addresses people typed.
	sum := sha256.Sum256([]byte(email))
	for _, limit := range []struct {
		key    string
		max    int64
		window time.Duration
	}{
		// An IPv6 client holds a whole /64: it counts as one address.
		{"pwreset:ip:" + quota.AddressKey(ip), forgotIPLimit, forgotIPWindow},
		{"pwreset:email:" + hex.EncodeToString(sum[:16]), forgotEmailLimit, forgotEmailWindow},
	} {
		n, err := h.Passwords.Counters.Incr(ctx, limit.key, limit.window)
		if err != nil {
			// Fail closed: without a count there is no limit (ASVS 16.5.3).
			return fmt.Errorf("login: count reset requests: %w", err)
		}
		if n > limit.max {
			h.Logger.InfoContext(ctx, "password reset requests rate limited", "ip", ip)
			page.ErrorKey = "password.forgot.rate_limited"
			return h.render.Render(w, r, http.StatusTooManyRequests, "reset_forgot", page)
		}
	}

	h.startReset(r, email)
	redirect(w, r, "/password/forgot/sent")
	return nil
}

// plainAddress reports whether s is a bare address (no display name, no
// comments): what a user types, and all we ever send to.
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && strings.EqualFold(a.Address, s) && !strings.ContainsAny(s, " \t\r\n<>")
}

// sentPage is the data of the "reset_sent" page.
type sentPage struct {
	Minutes int
}

// showForgotSent is the one answer to every accepted request.
func (h *Handler) showForgotSent(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "reset_sent", sentPage{Minutes: int(ResetTTL / time.Minute)})
}

// startReset looks email up and, for an account that may reset its
// password, stores a link and mails it — after the response.
func (h *Handler) startReset(r *http.Request, email string) {
	ip := web.RemoteIP(r)
	h.inBackground(r.Context(), "password reset email", func(ctx context.Context) error {
		return h.sendReset(ctx, email, ip)
	})
}

// inBackground runs fn detached from the request (a closed tab must not
// cut an email off half-way), bounded by maxBackgroundMail and mailTimeout.
func (h *Handler) inBackground(ctx context.Context, what string, fn func(context.Context) error) {
	p := h.Passwords
	ctx = context.WithoutCancel(ctx)
	select {
	case p.slots <- struct{}{}:
	default:
		h.Logger.WarnContext(ctx, "background work dropped: too many in flight", "what", what)
		return
	}
	p.background.Add(1)
	go func() {
		defer func() { <-p.slots; p.background.Done() }()
		ctx, cancel := context.WithTimeout(ctx, mailTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			h.Logger.ErrorContext(ctx, "background work failed", "what", what, "error", err)
		}
	}()
}

// waitBackground waits for the background emails; for tests and shutdown.
func (h *Handler) waitBackground() {
	if h.Passwords != nil {
		h.Passwords.background.Wait()
	}
}

// sendReset is the background half of a reset request. Unknown addresses,
// accounts that cannot sign in and accounts not yet activated (their path
// is the activation link) get nothing, and nothing of that reaches the
// requester.
func (h *Handler) sendReset(ctx context.Context, email, ip string) error {
	now := h.Now().UTC()
	u, err := h.Users.UserByLogin(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		h.Logger.InfoContext(ctx, "password reset for an unknown address", "ip", ip)
		return nil
	}
	if err != nil {
		return fmt.Errorf("login: reset: find user: %w", err)
	}
	if !strings.EqualFold(u.Email, email) || u.PasswordHash == "" || !u.CanSignIn(now) {
		h.Logger.InfoContext(ctx, "password reset for an account that cannot reset", "user_id", u.ID, "ip", ip)
		return nil
	}
	if err := h.mailReset(ctx, u); err != nil {
		return err
	}
	h.auditAt(ctx, ip, storage.AuditEvent{Action: "password.reset_request", ActorID: u.ID, Subject: u.ID})
	h.Logger.InfoContext(ctx, "password reset email queued", "user_id", u.ID)
	return nil
}

// MailPasswordReset sends u a password-reset link on an operator's
// behalf (package admin, which records its own audit event: pass it with
// storage.WithAudit on ctx to store it with the link). An account without
// a password or that cannot sign in gets none.
func (h *Handler) MailPasswordReset(ctx context.Context, u storage.User) error {
	if err := h.init(); err != nil {
		return err
	}
	if u.Email == "" || u.PasswordHash == "" || !u.CanSignIn(h.Now()) {
		return ErrCannotReset
	}
	return h.mailReset(ctx, u)
}

// ErrCannotReset: the account has no email or password, or cannot sign in.
var ErrCannotReset = errors.New("login: the account cannot reset its password")

// mailReset stores a reset link for u and queues its mail, together.
func (h *Handler) mailReset(ctx context.Context, u storage.User) error {
	p := h.Passwords
	now := h.Now().UTC()
	secret, t := newResetToken(u.ID, now, now.Add(ResetTTL))
	link := strings.TrimRight(p.BaseURL, "/") + "/password/reset?token=" + secret
	body := func(lang string) string {
		return h.Pages.T(lang, "password.mail.reset_body", displayName(u), u.Username, link, wib(t.ExpiresAt))
	}
	msg := satumail.Message{
		To:      u.Email,
		Subject: bilingual(h.Pages, "password.mail.reset_subject"),
		Text:    body(templates.LangID) + "\n\n----\n\n" + body(templates.LangEN),
	}
	// The link and its mail are stored together: a token whose mail was
	// never queued would be a link nobody can use.
	if err := p.Tokens.CreateActionToken(ctx, t, func(ctx context.Context, tx storage.Tx) error {
		return p.Mail.Mail(ctx, tx, msg)
	}); err != nil {
		return fmt.Errorf("login: reset: store token and mail for user %s: %w", u.ID, err)
	}
	return nil
}

// notifyChanged tells the account's owner that the password changed, so a
// change they did not make does not go unnoticed (ASVS 6.3.7).
func (h *Handler) notifyChanged(r *http.Request, u storage.User, at time.Time) {
	p := h.Passwords
	forgot := strings.TrimRight(p.BaseURL, "/") + "/password/forgot"
	h.inBackground(r.Context(), "password changed email", func(ctx context.Context) error {
		body := func(lang string) string {
			return h.Pages.T(lang, "password.mail.changed_body", displayName(u), u.Username, wib(at), forgot)
		}
		return p.Mail.Mail(ctx, nil, satumail.Message{
			To:      u.Email,
			Subject: bilingual(h.Pages, "password.mail.changed_subject"),
			Text:    body(templates.LangID) + "\n\n----\n\n" + body(templates.LangEN),
		})
	})
}

func bilingual(pages *templates.Pages, key string) string {
	return pages.T(templates.LangID, key) + " / " + pages.T(templates.LangEN, key)
}

func displayName(u storage.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

// wib formats t in Western Indonesian Time, as the emails' readers live
// it; Indonesia keeps no daylight saving time.
func wib(t time.Time) string {
	return t.In(time.FixedZone("WIB", 7*60*60)).Format("02-01-2006 15:04 MST")
}

// auditAt appends e for work done after the request, with the request's IP.
func (h *Handler) auditAt(ctx context.Context, ip string, e storage.AuditEvent) {
	e.Time, e.IP = h.Now(), ip
	if err := h.Audit.AppendAudit(ctx, e); err != nil {
		h.Logger.ErrorContext(ctx, "append audit event failed", "action", e.Action, "error", err)
	}
}

// newResetToken returns a fresh link secret and the record to store.
func newResetToken(userID string, now, expires time.Time) (string, storage.ActionToken) {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24 (it crashes the program instead)
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, storage.ActionToken{
		ID: resetTokenID(secret), UserID: userID, Purpose: storage.TokenPasswordReset,
		CreatedAt: now, ExpiresAt: expires,
	}
}

// resetTokenID is the stored id of a secret: hex SHA-256, so a database
// leak yields no usable link.
func resetTokenID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormedResetSecret reports whether s could be a secret we issued, so
// garbage never reaches the store.
func wellFormedResetSecret(s string) bool {
	if len(s) != resetSecretLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// renderResetInvalid is the one page for every link that cannot be used:
// malformed, unknown, used, expired, superseded, or for an account that
// can no longer sign in.
func (h *Handler) renderResetInvalid(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusBadRequest, "reset_invalid", nil)
}

// showReset answers GET /password/reset?token=…. It neither consumes nor
// looks up the token: mail scanners and link previews fetch links, and a
// GET must change nothing (ASVS 3.5.3).
func (h *Handler) showReset(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if !wellFormedResetSecret(token) {
		return h.renderResetInvalid(w, r)
	}
	return h.render.Render(w, r, http.StatusOK, "reset", newResetPage(token))
}

// errLinkSuperseded voids a link issued before the last password change.
var errLinkSuperseded = errors.New("login: reset link older than the last password change")

// submitReset answers POST /password/reset: check the new password, consume
// the link, set the password and end every session of the account.
func (h *Handler) submitReset(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	p := h.Passwords
	token := r.PostForm.Get("token")
	if !wellFormedResetSecret(token) {
		return h.renderResetInvalid(w, r)
	}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm") // exactly as typed (ASVS 6.2.8)
	page := newResetPage(token)
	if err := password.CheckPolicy(pw); err != nil {
		policyError(err, &page.PasswordErrorKey, &page.PasswordErrorArg)
	} else if pw != confirm {
		page.ConfirmErrorKey = "password.confirm_mismatch"
	}
	if page.PasswordErrorKey != "" || page.ConfirmErrorKey != "" {
		page.ErrorKey = "password.fix_fields"
		return h.render.Render(w, r, http.StatusOK, "reset", page)
	}

	// Consumed before hashing: only a valid link costs an argon2id run.
	now := h.Now().UTC()
	t, err := p.Tokens.ConsumeActionToken(ctx, resetTokenID(token), storage.TokenPasswordReset, now)
	if errors.Is(err, storage.ErrNotFound) {
		h.Logger.InfoContext(ctx, "password reset link refused", "ip", web.RemoteIP(r))
		return h.renderResetInvalid(w, r)
	}
	if err != nil {
		return fmt.Errorf("login: consume reset token: %w", err)
	}
	u, err := h.Users.UserByID(ctx, t.UserID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("login: reset: load user: %w", err)
	}
	if err != nil || !u.CanSignIn(now) || superseded(t, u) {
		h.Logger.InfoContext(ctx, "password reset link for an account that cannot use it", "user_id", t.UserID)
		return h.renderResetInvalid(w, r)
	}
	if err := password.CheckPolicy(pw, u.Username, u.Email, u.Name); err != nil {
		// The account's own words could only be checked now, after the link
		// was spent. Hand the form a new link that ends when the old one
		// would have, so the user just chooses another password.
		secret, next := newResetToken(u.ID, now, t.ExpiresAt)
		if err := p.Tokens.CreateActionToken(ctx, next); err != nil {
			return fmt.Errorf("login: reset: replace token: %w", err)
		}
		page = newResetPage(secret)
		policyError(err, &page.PasswordErrorKey, &page.PasswordErrorArg)
		page.ErrorKey = "password.fix_fields"
		return h.render.Render(w, r, http.StatusOK, "reset", page)
	}

	hash, err := h.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	actx := h.audited(r, storage.AuditEvent{Action: "password.reset", ActorID: u.ID, Subject: u.ID})
	err = p.Users.UpdateUser(actx, u.ID, func(cur *storage.User) error {
		if superseded(t, *cur) {
			return errLinkSuperseded // two links raced; the first one won
		}
		// The link proved the mailbox, as activation does.
		cur.PasswordHash, cur.PasswordChangedAt, cur.UpdatedAt, cur.EmailVerified = hash, now, now, true
		return nil
	})
	switch {
	case errors.Is(err, errLinkSuperseded), errors.Is(err, storage.ErrNotFound):
		return h.renderResetInvalid(w, r)
	case err != nil:
		return fmt.Errorf("login: reset: update user %s: %w", u.ID, err)
	}
	if err := h.endUserSessions(ctx, u.ID, ""); err != nil {
		return err
	}
	// This browser's cookie, if it was one of the user's sessions, now
	// points at nothing: drop it. Another user's session here stays.
	if id, ok := h.sessionID(r); ok {
		if _, err := h.Sessions.SessionByID(ctx, id); errors.Is(err, storage.ErrNotFound) {
			h.clearSessionCookie(w)
		}
	}
	h.Logger.InfoContext(ctx, "password reset", "user_id", u.ID)
	h.notifyChanged(r, u, now)
	return h.render.Render(w, r, http.StatusOK, "reset_done", nil)
}

// superseded reports whether link t was issued before u's last password
// change: a reset or change voids every older link.
func superseded(t storage.ActionToken, u storage.User) bool {
	return !u.PasswordChangedAt.IsZero() && t.CreatedAt.Before(u.PasswordChangedAt)
}

// endUserSessions ends every session of userID except keep (none if
// empty), tells op of each for its logout fan-out, and revokes the user's
// refresh tokens, so a stolen session or grant dies with the old password
// (ASVS 7.4.3). Failures are errors: the user must not be told their
// sessions ended when they did not.
func (h *Handler) endUserSessions(ctx context.Context, userID, keep string) error {
	p := h.Passwords
	sessions, err := p.Sessions.UserSessions(ctx, userID)
	if err != nil {
		return fmt.Errorf("login: list sessions of %s: %w", userID, err)
	}
	var ended []storage.Session
	if keep == "" {
		// One call, so sessions created while we iterate end too.
		if err := p.Sessions.DeleteUserSessions(ctx, userID); err != nil {
			return fmt.Errorf("login: end sessions of %s: %w", userID, err)
		}
		ended = sessions
	} else {
		for _, s := range sessions {
			if s.ID == keep {
				continue
			}
			if err := h.Sessions.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("login: end session of %s: %w", userID, err)
			}
			ended = append(ended, s)
		}
	}
	if err := p.RefreshTokens.RevokeUserRefreshTokens(ctx, userID); err != nil {
		return fmt.Errorf("login: revoke refresh tokens of %s: %w", userID, err)
	}
	if h.OnSessionEnd != nil {
		for _, s := range ended {
			h.OnSessionEnd(ctx, s)
		}
	}
	return nil
}

// hashPassword hashes a new password in one of the bounded verification
// slots: a hash holds as much memory as a verification (ASVS 15.2.2).
func (h *Handler) hashPassword(ctx context.Context, pw string) (string, error) {
	release, err := h.verifySlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	hash, err := password.Hash(pw, h.HashParams)
	if err != nil {
		return "", fmt.Errorf("login: hash password: %w", err)
	}
	return hash, nil
}

// verifySlot waits for a free argon2id slot, as checkPassword does.
func (h *Handler) verifySlot(ctx context.Context) (func(), error) {
	timer := time.NewTimer(verifyWait)
	defer timer.Stop()
	select {
	case h.verifying <- struct{}{}:
		return func() { <-h.verifying }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "error.busy", Err: errors.New("login: no free hashing slot")}
	}
}
