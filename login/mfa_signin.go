package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"satupintu/storage"
	"satupintu/totp"
	"satupintu/web"
)

// mfaStep is a sign-in between the password and the second factor. It lives
// in the ephemeral store under a random id that only the browser's cookie
// holds; no session exists until the step is done, so a stolen password
// alone yields nothing (ASVS 6.3.3).
type mfaStep struct {
	UserID        string    `json:"user_id"`
	AuthRequestID string    `json:"auth_request_id,omitempty"`
	ExpiresAt     time.Time `json:"expires_at"` // fixed at the password: wrong codes do not extend it
	// Enrol: the user has no second factor and the request needs one, so
	// the step enrols Secret (sealed with MFA.Key) first.
	Enrol  bool   `json:"enrol,omitempty"`
	Secret []byte `json:"secret,omitempty"`
	// FirstAMR is how the first step authenticated when it was not the
	// password (an upstream provider, external.go); empty: the password.
	FirstAMR []string `json:"first_amr,omitempty"`
}

func stepKey(id string) string { return "mfa-login:" + id }

// stepCookieName is the pending step's cookie; __Host- under https, as the
// session cookie.
func (h *Handler) stepCookieName() string {
	if h.Secure {
		return "__Host-satupintu_mfa"
	}
	return "satupintu_mfa"
}

// beginMFAStep decides, right after a correct password, whether a second
// step comes before the session: for a user with a second factor, and for a
// request that needs one (the user then enrols first). It reports whether it
// answered the request.
func (h *Handler) beginMFAStep(w http.ResponseWriter, r *http.Request, u storage.User, ar storage.AuthRequest, firstAMR ...string) (bool, error) {
	ctx := r.Context()
	need, err := h.needsMFA(ctx, ar)
	if err != nil {
		return false, err
	}
	if !u.MFAEnrolled() && !need {
		return false, nil
	}
	if h.MFA == nil {
		// Fail closed: without the MFA feature no second factor can be
		// checked, so nobody who needs one gets in.
		return false, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "mfa.unavailable", Err: errors.New("login: second factor needed but MFA is not configured")}
	}
	if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
		return false, err
	} else if locked {
		h.audit(r, storage.AuditEvent{Action: "login.failure", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID, Detail: map[string]string{"reason": "mfa_locked"}})
		return true, h.backToPassword(w, r, ar.ID, "mfa.too_many")
	}
	now := h.Now()
	st := mfaStep{UserID: u.ID, AuthRequestID: ar.ID, ExpiresAt: now.Add(mfaStepTTL), FirstAMR: firstAMR}
	// A passkey is a second factor too: only a user with neither enrols.
	// Passkeys are read only for a user without TOTP.
	if !u.MFAEnrolled() {
		hasPasskey, err := h.hasPasskeys(ctx, u)
		if err != nil {
			return false, err
		}
		st.Enrol = !hasPasskey
	}
	if st.Enrol {
		if st.Secret, err = totp.Seal(h.MFA.Key, totp.NewSecret(), u.ID); err != nil {
			return false, err
		}
	}
	id := storage.NewID()
	if err := h.saveStep(ctx, id, st); err != nil {
		return false, err
	}
	v, err := h.Cookies.Encode(h.stepCookieName(), id)
	if err != nil {
		return false, fmt.Errorf("login: encode mfa cookie: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.stepCookieName(), Value: v, Path: "/", MaxAge: int(mfaStepTTL / time.Second),
		Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	reason := "mfa_code"
	if st.Enrol {
		reason = "mfa_enrol"
	}
	h.audit(r, firstStepEvent(u, ar, reason, firstAMR))
	redirect(w, r, stepURL(ar.ID))
	return true, nil
}

// stepURL is the second step's page; authRequestID in the query only keeps
// the language switch and the way back working, the cookie's state decides.
func stepURL(authRequestID string) string {
	if authRequestID == "" {
		return "/login/mfa"
	}
	return "/login/mfa?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

func (h *Handler) saveStep(ctx context.Context, id string, st mfaStep) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("login: encode mfa step: %w", err)
	}
	ttl := st.ExpiresAt.Sub(h.Now())
	if ttl <= 0 {
		return nil // gone by itself
	}
	if err := h.MFA.Drafts.SaveDraft(ctx, stepKey(id), b, ttl); err != nil {
		return fmt.Errorf("login: save mfa step: %w", err)
	}
	return nil
}

// loadStep returns r's pending step; ok is false when there is none (no
// cookie, a forged one, expired).
func (h *Handler) loadStep(r *http.Request) (string, mfaStep, bool, error) {
	c, err := r.Cookie(h.stepCookieName())
	if err != nil {
		return "", mfaStep{}, false, nil
	}
	var id string
	if err := h.Cookies.Decode(h.stepCookieName(), c.Value, &id); err != nil || id == "" {
		return "", mfaStep{}, false, nil
	}
	b, err := h.MFA.Drafts.Draft(r.Context(), stepKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return "", mfaStep{}, false, nil
	}
	if err != nil {
		return "", mfaStep{}, false, fmt.Errorf("login: load mfa step: %w", err)
	}
	var st mfaStep
	if err := json.Unmarshal(b, &st); err != nil {
		return "", mfaStep{}, false, fmt.Errorf("login: decode mfa step: %w", err)
	}
	if !h.Now().Before(st.ExpiresAt) {
		return "", mfaStep{}, false, nil
	}
	return id, st, true, nil
}

// endStep forgets the pending step, in the store and in the browser.
func (h *Handler) endStep(w http.ResponseWriter, r *http.Request, id string) {
	if err := h.MFA.Drafts.DeleteDraft(r.Context(), stepKey(id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.Logger.WarnContext(r.Context(), "delete mfa step", "error", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.stepCookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// backToPassword shows the sign-in form again with a message: the step is
// over and the password must be entered anew.
func (h *Handler) backToPassword(w http.ResponseWriter, r *http.Request, authRequestID, key string) error {
	page := h.newLoginPage(authRequestID)
	if authRequestID != "" {
		ar, err := h.authRequest(r.Context(), authRequestID)
		if err != nil {
			return err
		}
		r = web.WithUILocales(r, ar.UILocales)
		if page.ClientName, err = h.clientName(r.Context(), ar.ClientID); err != nil {
			return err
		}
	}
	page.ErrorKey = key
	return h.render.Render(w, r, http.StatusOK, "login", page)
}

// stepPage is the data of the "mfa_login" page and, for a step that enrols,
// of "mfa_enroll".
type stepPage struct {
	Action        string
	AuthRequestID string
	ClientName    string
	ErrorKey      string
	// The factors the user can answer with: a code (TOTP enrolled, with
	// recovery codes) and a passkey.
	TOTP    bool
	Passkey bool
	// Enrolment only.
	Required    bool // explain that the application requires two-step verification
	AskPassword bool
	enrolment
}

// stepContext loads what the step's pages need: the auth request (if any,
// with its languages) and the client's name.
func (h *Handler) stepContext(r *http.Request, st mfaStep) (*http.Request, storage.AuthRequest, stepPage, error) {
	page := stepPage{Action: stepURL(st.AuthRequestID), AuthRequestID: st.AuthRequestID}
	if st.AuthRequestID == "" {
		return r, storage.AuthRequest{}, page, nil
	}
	ar, err := h.authRequest(r.Context(), st.AuthRequestID)
	if err != nil {
		return r, ar, page, err
	}
	r = web.WithUILocales(r, ar.UILocales)
	if page.ClientName, err = h.clientName(r.Context(), ar.ClientID); err != nil {
		return r, ar, page, err
	}
	return r, ar, page, nil
}

// renderStep shows the code form, or for a step that enrols, the new
// authenticator's QR code with the code form.
func (h *Handler) renderStep(w http.ResponseWriter, r *http.Request, st mfaStep, u storage.User, page stepPage) error {
	if !st.Enrol {
		hasPasskey, err := h.hasPasskeys(r.Context(), u)
		if err != nil {
			return err
		}
		page.TOTP, page.Passkey = u.MFAEnrolled(), hasPasskey
		return h.render.Render(w, r, http.StatusOK, "mfa_login", page)
	}
	secret, err := totp.Open(h.MFA.Key, st.Secret, st.UserID)
	if err != nil {
		return fmt.Errorf("login: open pending secret: %w", err)
	}
	if page.enrolment, err = newEnrolment(u.Username, secret); err != nil {
		return err
	}
	page.Required = true
	return h.render.Render(w, r, http.StatusOK, "mfa_enroll", page)
}

// showMFAStep answers GET /login/mfa: the second step's form. Without a
// pending step the browser goes back to the password.
func (h *Handler) showMFAStep(w http.ResponseWriter, r *http.Request) error {
	_, st, ok, err := h.loadStep(r)
	if err != nil {
		return err
	}
	if !ok {
		redirect(w, r, h.newLoginPage(r.URL.Query().Get("authRequestID")).Action)
		return nil
	}
	r, ar, page, err := h.stepContext(r, st)
	if err != nil {
		return err
	}
	if ar.Done {
		redirect(w, r, h.afterDone(r.Context(), ar.ID))
		return nil
	}
	u, err := h.Users.UserByID(r.Context(), st.UserID)
	if err != nil {
		return fmt.Errorf("login: load user: %w", err)
	}
	return h.renderStep(w, r, st, u, page)
}

// postedStep is a second step posted by the browser, loaded and checked by
// openStep.
type postedStep struct {
	id   string
	st   mfaStep
	r    *http.Request // carries the authorization request's languages
	ar   storage.AuthRequest
	page stepPage
	u    storage.User
}

// openStep loads the posted second step and checks it may still finish.
// ok is false when the response is written: no step (back to the
// password), the request already done (on to the callback), the account
// disabled meanwhile, or its wrong codes used up.
func (h *Handler) openStep(w http.ResponseWriter, r *http.Request) (postedStep, bool, error) {
	if err := web.ParseForm(r); err != nil {
		return postedStep{}, false, err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return postedStep{}, false, err
	}
	id, st, ok, err := h.loadStep(r)
	if err != nil {
		return postedStep{}, false, err
	}
	if !ok {
		return postedStep{}, false, h.backToPassword(w, r, r.Form.Get("authRequestID"), "mfa.step_expired")
	}
	r, ar, page, err := h.stepContext(r, st)
	if err != nil {
		return postedStep{}, false, err
	}
	ctx := r.Context()
	if ar.Done { // a second submit of the same form
		redirect(w, r, h.afterDone(ctx, ar.ID))
		return postedStep{}, false, nil
	}
	u, err := h.Users.UserByID(ctx, st.UserID)
	if err != nil {
		return postedStep{}, false, fmt.Errorf("login: load user: %w", err)
	}
	// The account may have been disabled since the password was checked.
	if !u.CanSignIn(h.Now()) {
		h.endStep(w, r, id)
		return postedStep{}, false, h.backToPassword(w, r, st.AuthRequestID, "login.bad_credentials")
	}
	if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
		return postedStep{}, false, err
	} else if locked {
		h.endStep(w, r, id)
		return postedStep{}, false, h.backToPassword(w, r, st.AuthRequestID, "mfa.too_many")
	}
	return postedStep{id: id, st: st, r: r, ar: ar, page: page, u: u}, true, nil
}

// finishStep ends a step whose second factor was accepted: the session with
// amr, the audit event (detail gains the amr), and on to the application,
// through the page of new recovery codes if there are any.
func (h *Handler) finishStep(w http.ResponseWriter, p postedStep, amr []string, detail map[string]string, codes []string) error {
	r, u, ar := p.r, p.u, p.ar
	ctx := r.Context()
	h.endStep(w, r, p.id)
	h.mfaSucceeded(ctx, u.ID)
	s, err := h.startSession(w, r, u, amr...)
	if err != nil {
		return err
	}
	detail["amr"] = strings.Join(s.AMR, " ")
	h.audit(r, storage.AuditEvent{Action: "login.success", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID, Detail: detail})
	h.Logger.InfoContext(ctx, "signed in", "user_id", u.ID, "client_id", ar.ClientID, "method", detail["method"])
	if len(p.st.FirstAMR) == 0 { // the person proved the satupintu account itself
		h.afterSignIn(w, r, u)
	}

	next := h.takeReturn(w, r) // home, or the page that asked for the sign-in (return.go)
	if p.st.AuthRequestID != "" {
		if err := h.complete(ctx, ar.ID, s); err != nil {
			return err
		}
		next = h.afterDone(ctx, ar.ID)
	}
	if codes != nil {
		// The request is done; the page with the codes links on to it.
		return h.showRecoveryCodes(w, r, codes, next)
	}
	redirect(w, r, next)
	return nil
}

// submitMFAStep answers POST /login/mfa: check the code (or enrol the new
// authenticator), then start the session and finish the request.
func (h *Handler) submitMFAStep(w http.ResponseWriter, r *http.Request) error {
	p, ok, err := h.openStep(w, r)
	if err != nil || !ok {
		return err
	}
	r, st, u := p.r, p.st, p.u
	ctx := r.Context()
	code := strings.TrimSpace(r.PostForm.Get("code"))
	method := "totp"
	var codes []string // recovery codes of a new enrolment, shown once
	switch {
	case len(code) > 64:
		err = errWrongCode
	case st.Enrol:
		var secret []byte
		if secret, err = totp.Open(h.MFA.Key, st.Secret, st.UserID); err != nil {
			return fmt.Errorf("login: open pending secret: %w", err)
		}
		if err = h.verifyTOTP(ctx, u.ID, secret, code); err == nil {
			ev := storage.AuditEvent{Action: "mfa.enroll", ActorID: u.ID, Subject: u.ID, ClientID: p.ar.ClientID}
			codes, err = h.enrolUser(h.audited(r, ev), u.ID, secret)
			if errors.Is(err, errAlreadyEnrolled) {
				// Enrolled in another tab meanwhile: that authenticator
				// counts, this one was never stored. Start over.
				h.endStep(w, r, p.id)
				return h.backToPassword(w, r, st.AuthRequestID, "mfa.step_expired")
			}
		}
	default:
		method, err = h.checkSecondFactor(ctx, u, code)
	}
	if errors.Is(err, errWrongCode) || errors.Is(err, errCodeUsed) {
		return h.stepFailed(w, r, p.id, st, u, p.page, p.ar, err)
	}
	if err != nil {
		return err
	}
	if st.Enrol {
		method = "totp_enrol"
	}
	return h.finishStep(w, p, stepAMR(st, storage.AMROTP), map[string]string{"method": method}, codes)
}

// stepFailed counts a wrong code: the form again with a message, or after
// the last allowed one, the end of the step.
func (h *Handler) stepFailed(w http.ResponseWriter, r *http.Request, id string, st mfaStep, u storage.User, page stepPage, ar storage.AuthRequest, cause error) error {
	ctx := r.Context()
	locked, err := h.mfaFailed(ctx, u.ID)
	if err != nil {
		return err
	}
	reason := "mfa_wrong_code"
	switch {
	case errors.Is(cause, errCodeUsed):
		reason = "mfa_code_used"
	case errors.Is(cause, errPasskeyRefused):
		reason = "mfa_passkey_refused"
	}
	h.audit(r, storage.AuditEvent{Action: "login.failure", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID, Detail: map[string]string{"reason": reason}})
	h.Logger.InfoContext(ctx, "second factor refused", "reason", reason, "user_id", u.ID, "ip", web.RemoteIP(r))
	if locked {
		h.endStep(w, r, id)
		return h.backToPassword(w, r, st.AuthRequestID, "mfa.too_many")
	}
	page.ErrorKey = codeErrorKey(cause)
	return h.renderStep(w, r, st, u, page)
}
