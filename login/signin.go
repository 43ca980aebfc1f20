package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"satupintu/captcha"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/web"
)

const (
	// maxUsernameLen is the longest email address SMTP allows (RFC 5321
	// §4.5.3.1.3); usernames are shorter.
	maxUsernameLen = 254
	// maxRequestIDLen bounds an authRequestID before it reaches the store.
	maxRequestIDLen = 128
	// auditLoginLen is how much of an attempted login name the audit log
	// keeps: enough to investigate, not a place to store pasted passwords.
	auditLoginLen = 64
	// verifyWait is how long a sign-in waits for a free verification slot
	// before it is told to try again.
	verifyWait = 10 * time.Second
)

// loginPage is the data of the "login" page. There is deliberately no
// password field: the password is never echoed back.
type loginPage struct {
	Action           string // form action, with authRequestID in the query so the language switch keeps it
	AuthRequestID    string
	ClientName       string
	Username         string
	ErrorKey         string
	UsernameErrorKey string
	PasswordErrorKey string
	Captcha          *captcha.Challenge // sign-in protection (captcha.go); nil: none
	Notice           string             // why an attempt was refused, translated (throttle_signin.go)
	Passkeys         bool               // offer sign-in with a passkey (passkey.go)
}

// loginForm is the posted sign-in form.
type loginForm struct {
	AuthRequestID string
	Username      string
	Password      string
}

func parseLoginForm(r *http.Request) loginForm {
	return loginForm{
		// The hidden field, or the form action's query string (same value).
		AuthRequestID: r.Form.Get("authRequestID"),
		Username:      strings.TrimSpace(r.PostForm.Get("username")),
		Password:      r.PostForm.Get("password"), // exactly as typed (ASVS 6.2.8)
	}
}

// validate fills the field errors of page and reports whether there were none.
func (f loginForm) validate(page *loginPage) bool {
	switch {
	case f.Username == "":
		page.UsernameErrorKey = "login.username_required"
	case len(f.Username) > maxUsernameLen:
		page.UsernameErrorKey = "login.username_too_long"
	}
	switch {
	case f.Password == "":
		page.PasswordErrorKey = "login.password_required"
	case len(f.Password) > password.MaxLength:
		page.PasswordErrorKey = "login.password_too_long"
	}
	if page.UsernameErrorKey != "" || page.PasswordErrorKey != "" {
		page.ErrorKey = "login.fix_fields"
		return false
	}
	return true
}

func (h *Handler) newLoginPage(authRequestID string) loginPage {
	p := loginPage{Action: LoginURL(authRequestID), AuthRequestID: authRequestID, Passkeys: h.Passkeys != nil}
	return p
}

// errExpired is the page for an authorization request that is gone: its TTL
// ran out, or it was already used.
func errExpired(err error) error {
	return &web.Error{Status: http.StatusBadRequest, MessageKey: "login.expired", Err: err}
}

// authRequest loads the authorization request id.
func (h *Handler) authRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	if len(id) > maxRequestIDLen {
		return storage.AuthRequest{}, errExpired(errors.New("auth request id too long"))
	}
	ar, err := h.Requests.AuthRequestByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, errExpired(err)
	}
	if err != nil {
		return storage.AuthRequest{}, fmt.Errorf("login: load auth request: %w", err)
	}
	return ar, nil
}

// clientName is the relying party's name for the heading.
func (h *Handler) clientName(ctx context.Context, clientID string) (string, error) {
	c, err := h.Clients.ClientByID(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", errExpired(err) // the client was deleted mid-flow
	}
	if err != nil {
		return "", fmt.Errorf("login: load client: %w", err)
	}
	return c.Name, nil
}

// complete marks authorization request id as authenticated by session s;
// op then issues the code at CallbackURL.
func (h *Handler) complete(ctx context.Context, id string, s storage.Session) error {
	err := h.Requests.UpdateAuthRequest(ctx, id, func(ar *storage.AuthRequest) error {
		ar.Done = true
		ar.UserID = s.UserID
		ar.AuthTime = s.AuthTime
		ar.AMR = slices.Clone(s.AMR)
		ar.SessionID = s.ID
		ar.SID = s.SID
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return errExpired(err)
	}
	if err != nil {
		return fmt.Errorf("login: complete auth request: %w", err)
	}
	return nil
}

// ResolveWithoutUI finishes the sign-in step of authRequestID when no page
// is needed, and reports whether the browser may go straight on to the
// callback. op calls it while answering /authorize, so single sign-on costs
// one round trip instead of three (/authorize → /login → callback).
func (h *Handler) ResolveWithoutUI(r *http.Request, authRequestID string) bool {
	if err := h.init(); err != nil {
		return false
	}
	ar, err := h.Requests.AuthRequestByID(r.Context(), authRequestID)
	if err != nil {
		return false // the /login page explains what went wrong
	}
	ok, err := h.resolve(r, ar)
	if err != nil {
		h.Logger.WarnContext(r.Context(), "resolve sign-in without page", "error", err)
		return false
	}
	// A user who must choose an organization first goes through /login,
	// which sends them on to the chooser.
	return ok && h.chooserURL(r.Context(), authRequestID) == ""
}

// resolve decides an auth request without showing a page: already done,
// single sign-on with a usable session, or prompt=none (sent back
// uncompleted; op answers login_required, OIDC Core §3.1.2.6).
func (h *Handler) resolve(r *http.Request, ar storage.AuthRequest) (bool, error) {
	ctx := r.Context()
	if ar.Done {
		return true, nil
	}
	if s, _, ok := h.CurrentSession(r); ok && usableFor(ar, s, h.Now()) && h.sessionSatisfies(ctx, ar, s) {
		// Single sign-on: the second application needs no password.
		if err := h.complete(ctx, ar.ID, s); err != nil {
			return false, err
		}
		h.Logger.DebugContext(ctx, "signed in with session", "client_id", ar.ClientID, "user_id", s.UserID)
		return true, nil
	}
	return slices.Contains(ar.Prompt, "none"), nil
}

// showLogin answers GET /login: single sign-on with the session cookie when
// the request allows it, otherwise the form.
func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.URL.Query().Get("authRequestID")
	if id == "" {
		// Signing in to satupintu itself.
		if _, _, ok := h.CurrentSession(r); ok {
			redirect(w, r, "/")
			return nil
		}
		return h.renderLogin(w, r, http.StatusOK, h.newLoginPage(""))
	}

	ar, err := h.authRequest(ctx, id)
	if err != nil {
		return err
	}
	r = web.WithUILocales(r, ar.UILocales)
	if ok, err := h.resolve(r, ar); err != nil {
		return err
	} else if ok {
		redirect(w, r, h.afterDone(ctx, ar.ID))
		return nil
	}
	if slices.Contains(ar.Prompt, storage.PromptCreate) {
		// The application sends a newcomer to create an account: the
		// registration wizard. An officer reviews the company before the
		// account exists, so the application sees the person again only
		// when they sign in after activation.
		redirect(w, r, RegisterURL)
		return nil
	}

	page := h.newLoginPage(ar.ID)
	if page.ClientName, err = h.clientName(ctx, ar.ClientID); err != nil {
		return err
	}
	if len(ar.LoginHint) <= maxUsernameLen {
		page.Username = ar.LoginHint
	}
	return h.renderLogin(w, r, http.StatusOK, page)
}

// submitLogin answers POST /login: check the password, start a new session,
// and finish the authorization request.
func (h *Handler) submitLogin(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := parseLoginForm(r)
	page := h.newLoginPage(f.AuthRequestID)

	var ar storage.AuthRequest
	if f.AuthRequestID != "" {
		var err error
		if ar, err = h.authRequest(ctx, f.AuthRequestID); err != nil {
			return err
		}
		r = web.WithUILocales(r, ar.UILocales)
		if ar.Done { // a second submit of the same form
			redirect(w, r, h.afterDone(ctx, ar.ID))
			return nil
		}
		if page.ClientName, err = h.clientName(ctx, ar.ClientID); err != nil {
			return err
		}
	}

	page.Username = f.Username
	if captcha.Switching(r) { // "New image" or "Text question"
		return h.switchCaptcha(w, r, page)
	}
	if !f.validate(&page) {
		return h.renderLogin(w, r, http.StatusOK, page)
	}

	var device string // the attempt's trusted device for the account, if any (throttle.go)
	u, ok, err := h.checkPassword(ctx, f.Username, f.Password, h.signInGuard(r, f, &device))
	if rf, refused := asRefusal(err); refused { // locked, throttled or CAPTCHA unsolved
		return h.refuse(w, r, page, f, ar.ClientID, rf)
	}
	if err != nil {
		return err
	}
	if ok {
		h.passwordAccepted(ctx, f.Username, device)
	}
	now := h.Now()
	fail := func(reason, key, userID string) error {
		h.auditFailure(r, storage.AuditEvent{
			Action:   "login.failure",
			ActorID:  userID,
			Subject:  truncate(f.Username, auditLoginLen),
			ClientID: ar.ClientID,
			Detail:   map[string]string{"reason": reason},
		})
		h.Logger.InfoContext(ctx, "sign-in failed", "reason", reason, "client_id", ar.ClientID, "ip", web.RemoteIP(r))
		page.ErrorKey = key
		return h.render.Render(w, r, http.StatusOK, "login", page)
	}
	switch {
	case !ok:
		// One message for an unknown user and a wrong password (ASVS 6.3.8),
		// both counted (throttle.go).
		if err := h.recordFailure(r, &page, f.Username, ar.ClientID, device); err != nil {
			return err
		}
		return fail("bad_credentials", "login.bad_credentials", "")
	case u.Disabled:
		// Only someone who knows the password learns the account state.
		return fail("account_disabled", "login.account_disabled", u.ID)
	case !u.CanSignIn(now):
		return fail("account_expired", "login.account_expired", u.ID)
	}
	// This browser now knows the password: from here on its failures are
	// its own, and no lock on the login name holds it back (throttle.go).
	if err := h.issueDeviceCookie(w, u.ID); err != nil {
		return fmt.Errorf("login: encode device cookie: %w", err)
	}
	// A second factor, or its enrolment, comes before any session (mfa_signin.go).
	if done, err := h.beginMFAStep(w, r, u, ar); done || err != nil {
		return err
	}

	s, err := h.startSession(w, r, u)
	if err != nil {
		return err
	}
	h.audit(r, storage.AuditEvent{
		Action:   "login.success",
		ActorID:  u.ID,
		Subject:  u.ID,
		ClientID: ar.ClientID,
		Detail:   map[string]string{"amr": "pwd"},
	})
	h.Logger.InfoContext(ctx, "signed in", "user_id", u.ID, "client_id", ar.ClientID)
	h.afterSignIn(w, r, u)
	return h.continueTo(w, r, ar, s)
}

// checkPassword finds the user and verifies the password. For an unknown
// user (or one without a password) it verifies against the dummy hash, so
// the answer takes the same time either way (ASVS 6.3.8). guards run while
// it holds a verification slot, before the hash is checked, with the id of
// the user login names ("" if none); the first error one returns is
// returned as is (sign-in protection, throttle_signin.go).
func (h *Handler) checkPassword(ctx context.Context, login, secret string, guards ...func(userID string) error) (storage.User, bool, error) {
	u, err := h.Users.UserByLogin(ctx, login)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, false, fmt.Errorf("login: find user: %w", err)
	}
	known := err == nil && u.PasswordHash != ""
	hash := h.dummyHash
	if known {
		hash = u.PasswordHash
	}

	// Each verification holds HashParams.Memory KiB; bound how many run at
	// once (ASVS 15.2.2). Waiting ends with the request or after verifyWait.
	timer := time.NewTimer(verifyWait)
	defer timer.Stop()
	select {
	case h.verifying <- struct{}{}:
	case <-ctx.Done():
		return storage.User{}, false, ctx.Err()
	case <-timer.C:
		return storage.User{}, false, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "error.busy", Err: errors.New("login: no free verification slot")}
	}
	userID := ""
	if known {
		userID = u.ID
	}
	for _, guard := range guards {
		if err := guard(userID); err != nil {
			<-h.verifying
			return storage.User{}, false, err
		}
	}
	verr := password.Verify(secret, hash)
	<-h.verifying

	if errors.Is(verr, password.ErrMalformed) && known {
		h.Logger.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID)
	}
	if !known || verr != nil {
		return storage.User{}, false, nil
	}
	if password.NeedsRehash(u.PasswordHash, h.HashParams) {
		h.rehash(ctx, u, secret)
	}
	return u, true, nil
}

// rehash stores the password hashed with the current parameters when its
// stored hash used weaker ones (raised after an upgrade of the hardware or
// of OWASP's advice): the sign-in is the only moment the password is
// known. It takes a verification slot like a check does, and skips when
// none is free: the next sign-in tries again. Failing is no reason to
// refuse a sign-in that succeeded, so it only logs.
func (h *Handler) rehash(ctx context.Context, u storage.User, secret string) {
	select {
	case h.verifying <- struct{}{}:
	default:
		return
	}
	hash, err := password.Hash(secret, h.HashParams)
	<-h.verifying
	if err != nil {
		h.Logger.ErrorContext(ctx, "rehash password", "user_id", u.ID, "error", err)
		return
	}
	err = h.Users.UpdateUser(ctx, u.ID, func(cur *storage.User) error {
		if cur.PasswordHash != u.PasswordHash {
			return errPasswordChanged // a new password came first: keep it
		}
		cur.PasswordHash = hash
		return nil
	})
	if err != nil && !errors.Is(err, errPasswordChanged) {
		h.Logger.WarnContext(ctx, "store rehashed password", "user_id", u.ID, "error", err)
		return
	}
	if err == nil {
		h.Logger.InfoContext(ctx, "password rehashed with the current parameters", "user_id", u.ID)
	}
}

// startSession replaces the request's session, if any, with a new one for
// u: a new identifier on every authentication (ASVS 7.2.4), so a session id
// planted before sign-in is worthless after it.
// amr defaults to the password alone.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u storage.User, amr ...string) (storage.Session, error) {
	ctx := r.Context()
	if old, ok := h.sessionID(r); ok {
		if err := h.Sessions.DeleteSession(ctx, old); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, fmt.Errorf("login: delete previous session: %w", err)
		}
	}
	now := h.Now()
	if len(amr) == 0 {
		amr = []string{storage.AMRPassword}
	}
	s := storage.Session{
		ID:        storage.NewID(),
		SID:       storage.NewID(), // for relying parties; ID stays a secret
		UserID:    u.ID,
		AuthTime:  now,
		AMR:       amr, // RFC 8176 §2
		UserAgent: truncate(r.UserAgent(), 256),
		IP:        web.RemoteIP(r),
		CreatedAt: now,
		ExpiresAt: now.Add(h.SessionTTL),
	}
	ended, err := h.Sessions.CreateSessionCapped(ctx, s, MaxSessionsPerUser)
	if err != nil {
		return storage.Session{}, fmt.Errorf("login: create session: %w", err)
	}
	if err := h.setSessionCookie(w, s.ID); err != nil {
		return storage.Session{}, fmt.Errorf("login: encode session cookie: %w", err)
	}
	h.endCapped(r, u, ended)
	return s, nil
}

// endCapped signs out the sessions the per-user cap ended, like any other
// (session.go).
func (h *Handler) endCapped(r *http.Request, u storage.User, ended []storage.Session) {
	ctx := r.Context()
	for _, e := range ended {
		h.audit(r, storage.AuditEvent{Action: "session.end", ActorID: u.ID, Subject: u.ID,
			Detail: map[string]string{"reason": "session_limit", "limit": strconv.Itoa(MaxSessionsPerUser)}})
		h.Logger.InfoContext(ctx, "oldest session ended", "user_id", u.ID, "limit", MaxSessionsPerUser)
		if h.OnSessionEnd != nil {
			h.OnSessionEnd(ctx, e)
		}
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
