// Package login is the sign-in UI inside the OpenID Connect authorization
// flow and the single sign-on session behind it: the sign-in form, the SSO
// session cookie, the logout confirmation (OIDC RP-Initiated Logout §2–3)
// and satupintu's own home page.
//
// It never builds tokens: when the user is authenticated it marks the
// authorization request done and sends the browser to the op package's
// callback, as zitadel/oidc's example login does.
package login

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/captcha"
	"satupintu/password"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses (STYLE.md: consumers
// declare what they need).
type (
	Users interface {
		UserByLogin(ctx context.Context, login string) (storage.User, error)
		UserByID(ctx context.Context, id string) (storage.User, error)
		// UpdateUser stores a password rehashed at sign-in (signin.go).
		UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
	}
	Clients interface {
		ClientByID(ctx context.Context, id string) (storage.Client, error)
	}
	AuthRequests interface {
		AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error)
		UpdateAuthRequest(ctx context.Context, id string, fn func(*storage.AuthRequest) error) error
	}
	Sessions interface {
		// CreateSessionCapped stores s and ends the user's sessions beyond
		// maxPerUser, oldest first, returning them.
		CreateSessionCapped(ctx context.Context, s storage.Session, maxPerUser int) ([]storage.Session, error)
		SessionByID(ctx context.Context, id string) (storage.Session, error)
		DeleteSession(ctx context.Context, id string) error
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
)

// DefaultSessionTTL is the absolute SSO session lifetime: one working day.
const DefaultSessionTTL = 8 * time.Hour

// Handler serves the sign-in, logout and home pages. Set the fields, then
// call Mount once.
type Handler struct {
	Users    Users
	Clients  Clients
	Requests AuthRequests
	Sessions Sessions
	OneTime  storage.OneTime // pending logout requests
	Audit    Audit
	MFA      *MFA // two-step verification (mfa.go); nil: off, and whoever needs it cannot sign in
	// Passkeys enables passkeys (passkey.go); nil: off. Needs MFA.
	Passkeys *Passkeys
	// Sign-in protection (throttle.go): Counters hold the failure counts,
	// shared by every node; Captcha's mode decides when the form asks for a
	// challenge. Both are required.
	Counters storage.Counters
	Captcha  *captcha.Service
	Pages    *templates.Pages
	CSRF     *web.CSRF
	// Cookies encodes the session cookie; its keys come from configuration
	// so every node accepts every other node's cookies.
	Cookies *securecookie.SecureCookie
	// CallbackURL is where the browser goes once the authorization request
	// authRequestID is done (or, for prompt=none, cannot be); from op.
	CallbackURL func(ctx context.Context, authRequestID string) string
	// ChooseOrganization, if set, says where a user who belongs to several
	// companies and chose none for clientID goes before the callback: the
	// organization chooser's URL (account), or "" for straight on.
	ChooseOrganization func(ctx context.Context, userID, clientID, authRequestID string) (string, error)
	// OnSessionEnd, if set, is called after a session was deleted at logout,
	// with the record as it was (its ClientIDs), for op's logout fan-out.
	OnSessionEnd func(ctx context.Context, s storage.Session)
	Secure       bool          // the issuer is https: Secure cookies with the __Host- prefix
	SessionTTL   time.Duration // absolute session lifetime; DefaultSessionTTL if zero
	// HashParams are the argon2id parameters new passwords are hashed with
	// (password.OWASP if zero). The dummy hash that unknown users are checked
	// against uses them, so both paths cost the same time (ASVS 6.3.8).
	HashParams password.Params
	// MaxConcurrentVerify bounds simultaneous argon2id verifications, each
	// holding Memory KiB (GOMAXPROCS if zero: one per core, as a hash is
	// all CPU, so more slots only add memory and contention), so a flood of
	// sign-ins cannot exhaust memory (ASVS 15.2.2) and queues instead of
	// thrashing; the rest wait their turn (BenchmarkVerifyBurst).
	MaxConcurrentVerify int
	ThrottlePolicy      ThrottlePolicy // brute-force policy (throttle.go); DefaultThrottlePolicy if zero
	Now                 func() time.Time
	Logger              *slog.Logger

	// Passwords enables reset by email and change (reset.go); nil: off.
	Passwords *Passwords

	// AfterSignIn, if set, runs after every sign-in with a satupintu
	// password (and second factor, if any), once the session exists and
	// before the browser goes on: the upstream package completes a pending
	// link there (external.go).
	AfterSignIn func(w http.ResponseWriter, r *http.Request, u storage.User)
	// PageExtras, if set, adds other features' data to this package's pages
	// (web.Renderer.Extras).
	PageExtras func(r *http.Request, page string) map[string]any

	once      sync.Once
	dummyHash string
	verifying chan struct{}
	render    *web.Renderer
	throttle  *Throttle
	sessions  *session.Manager
}

// Mount registers the routes on mux: every route of the package is listed
// here. It panics on a setup error, as ServeMux does for conflicting
// patterns: both happen only at start.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	handle("GET /login", h.showLogin)
	handle("POST /login", h.submitLogin)
	handle("GET /logout", h.showLogout)
	handle("POST /logout", h.submitLogout)
	handle("GET /logged-out", h.showLoggedOut)
	handle("GET /{$}", h.showHome)
	handle("GET "+session.ReauthPath, h.showReauth)
	handle("POST "+session.ReauthPath, h.submitReauth)
	// Two-step verification (mfa.go, mfa_signin.go, mfa_enroll.go).
	if h.MFA != nil {
		handle("GET /login/mfa", h.showMFAStep)
		handle("POST /login/mfa", h.submitMFAStep)
		handle("GET /mfa", h.showMFA)
		handle("POST /mfa/enroll", h.startEnrol)
		handle("GET /mfa/enroll", h.showEnrol)
		handle("POST /mfa/confirm", h.confirmEnrol)
		handle("POST /mfa/disable", h.disableMFA)
		handle("POST /mfa/recovery", h.renewRecoveryCodes)
	}
	// Passkeys (passkey*.go).
	if h.Passkeys != nil {
		handle("POST /login/passkey/options", h.passkeySignInOptions)
		handle("POST /login/passkey", h.submitPasskeySignIn)
		handle("POST /login/mfa/passkey/options", h.passkeyStepOptions)
		handle("POST /login/mfa/passkey", h.submitPasskeyStep)
		handle("POST /passkeys/new", h.startPasskeyRegistration)
		handle("POST /passkeys", h.finishPasskeyRegistration)
		handle("POST /passkeys/{id}/rename", h.renamePasskey)
		handle("POST /passkeys/{id}/delete", h.deletePasskey)
	}
	// Password reset by email and change (reset.go, password_change.go).
	if h.Passwords != nil {
		handle("GET /password/forgot", h.showForgot)
		handle("POST /password/forgot", h.submitForgot)
		handle("GET /password/forgot/sent", h.showForgotSent)
		handle("GET /password/reset", h.showReset)
		handle("POST /password/reset", h.submitReset)
		handle("GET /password/change", h.showChange)
		handle("POST /password/change", h.submitChange)
	}
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() { err = h.setup() })
	return err
}

func (h *Handler) setup() error {
	switch {
	case h.Users == nil, h.Clients == nil, h.Requests == nil, h.Sessions == nil, h.OneTime == nil, h.Audit == nil:
		return fmt.Errorf("login: a storage dependency is nil")
	case h.Pages == nil, h.CSRF == nil, h.Cookies == nil, h.CallbackURL == nil:
		return fmt.Errorf("login: Pages, CSRF, Cookies and CallbackURL are required")
	case h.Counters == nil, h.Captcha == nil:
		return fmt.Errorf("login: Counters and Captcha are required (sign-in protection)")
	}
	for _, page := range []string{"login", "logout", "logged_out", "home", "error", "reauth"} {
		if !h.Pages.Has(page) {
			return fmt.Errorf("login: template %q missing", page)
		}
	}
	if h.SessionTTL <= 0 {
		h.SessionTTL = DefaultSessionTTL
	}
	if h.HashParams == (password.Params{}) {
		h.HashParams = password.OWASP
	}
	if h.MaxConcurrentVerify <= 0 {
		h.MaxConcurrentVerify = runtime.GOMAXPROCS(0)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.sessions = &session.Manager{Cookie: h.cookie(), Sessions: h.Sessions, Users: h.Users, Now: h.Now, Logger: h.Logger}
	h.throttle = &Throttle{Counters: h.Counters, Policy: h.ThrottlePolicy, Now: h.Now, Epoch: h.lockEpoch}
	// A hash of a random secret nobody knows: verifying against it takes as
	// long as verifying a real user's password and always fails.
	dummy, err := password.Hash(storage.NewID(), h.HashParams)
	if err != nil {
		return fmt.Errorf("login: dummy hash: %w", err)
	}
	h.dummyHash = dummy
	h.verifying = make(chan struct{}, h.MaxConcurrentVerify)
	h.render = &web.Renderer{Pages: h.Pages, CSRF: h.CSRF, Logger: h.Logger, Secure: h.Secure, Extras: h.PageExtras}
	if err := h.setupPasswords(); err != nil {
		return err
	}
	if err := h.setupMFA(); err != nil {
		return err
	}
	return h.setupPasskeys()
}

// audit appends e, filling time and IP. A failing audit log does not fail
// the user's request (the action already happened); it is logged loudly.
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now()
	e.IP = web.RemoteIP(r)
	if err := h.Audit.AppendAudit(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}

// audited returns the request's context carrying e, time and IP filled as
// audit does, for the one durable write e records: the store appends e in
// that write's transaction, so e exists if and only if the change does.
// Pass it to that write only; any other write with it would take e.
func (h *Handler) audited(r *http.Request, e storage.AuditEvent) context.Context {
	e.Time = h.Now()
	e.IP = web.RemoteIP(r)
	return storage.WithAudit(r.Context(), e)
}

// continueTo sends the browser on once session s has begun: to the home
// page when signing in to satupintu itself (ar.ID empty), else marks ar
// done by s and goes on to op's callback, which issues the code.
func (h *Handler) continueTo(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, s storage.Session) error {
	if ar.ID == "" {
		redirect(w, r, h.takeReturn(w, r)) // home, or the page that asked for the sign-in (return.go)
		return nil
	}
	ctx := r.Context()
	if err := h.complete(ctx, ar.ID, s); err != nil {
		return err
	}
	redirect(w, r, h.afterDone(ctx, ar.ID))
	return nil
}

// afterDone is where the browser goes once authorization request id is
// done: the relying party's callback, or first the organization chooser. A
// failing check is logged and skipped: the claim then carries the user's
// default organization, which is what "silent default" means.
func (h *Handler) afterDone(ctx context.Context, id string) string {
	if to := h.chooserURL(ctx, id); to != "" {
		return to
	}
	return h.CallbackURL(ctx, id)
}

// chooserURL is the chooser's URL when the done request id needs a choice.
func (h *Handler) chooserURL(ctx context.Context, id string) string {
	if h.ChooseOrganization == nil {
		return ""
	}
	ar, err := h.Requests.AuthRequestByID(ctx, id)
	if err != nil || !ar.Done || ar.UserID == "" {
		return ""
	}
	to, err := h.ChooseOrganization(ctx, ar.UserID, ar.ClientID, id)
	if err != nil {
		h.Logger.WarnContext(ctx, "organization chooser check", "client_id", ar.ClientID, "error", err)
		return ""
	}
	return to
}

// redirect sends the browser on with 303 See Other: after a POST the next
// request must be a GET that carries no form (never 307, which would re-post
// the password to the relying party).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	web.NoStore(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
