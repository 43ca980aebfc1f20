package login

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"satupintu/storage"
	"satupintu/web"
)

// Sign-in by an upstream OpenID provider (package upstream): the provider
// authenticated the person, and a stored link named the satupintu user. This
// file is the whole of what the upstream package needs from this one.

// SignInExternal signs u in for authorization request authRequestID ("" for
// satupintu itself) after an upstream provider authenticated them. amr is
// what the sign-in counts as (it should contain storage.AMRFederated, and AMRMFA if
// the upstream attested a second factor); method names the upstream for the
// audit log. When the request needs a second factor that the upstream did
// not attest, or u has one of their own, satupintu's second step follows
// (mfa_signin.go) before any session exists. It answers the request: a
// redirect on success, or an error for the caller's renderer.
func (h *Handler) SignInExternal(w http.ResponseWriter, r *http.Request, u storage.User, authRequestID string, amr []string, method string) error {
	if err := h.init(); err != nil {
		return err
	}
	ctx := r.Context()
	var ar storage.AuthRequest
	if authRequestID != "" {
		var err error
		if ar, err = h.authRequest(ctx, authRequestID); err != nil {
			return err
		}
		r = web.WithUILocales(r, ar.UILocales)
		if ar.Done {
			redirect(w, r, h.afterDone(ctx, ar.ID))
			return nil
		}
	}
	if !u.CanSignIn(h.Now()) {
		reason, key := "account_expired", "login.account_expired"
		if u.Disabled {
			reason, key = "account_disabled", "login.account_disabled"
		}
		h.audit(r, storage.AuditEvent{Action: "login.failure", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID,
			Detail: map[string]string{"reason": reason, "method": "upstream", "upstream": method}})
		return &web.Error{Status: http.StatusForbidden, MessageKey: key}
	}
	// A second factor the upstream did not attest comes from satupintu's
	// own step, as after a password: for a request that needs one, and for
	// a user who enrolled one (the upstream must not be a way around it).
	if !slices.Contains(amr, storage.AMRMFA) {
		need, err := h.needsMFA(ctx, ar)
		if err != nil {
			return err
		}
		if need || u.MFAEnrolled() {
			done, err := h.beginMFAStep(w, r, u, ar, amr...)
			if done || err != nil {
				return err
			}
		}
	}
	s, err := h.startSession(w, r, u, amr...)
	if err != nil {
		return err
	}
	h.audit(r, storage.AuditEvent{Action: "login.success", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID,
		Detail: map[string]string{"amr": strings.Join(s.AMR, " "), "method": "upstream", "upstream": method}})
	h.Logger.InfoContext(ctx, "signed in", "user_id", u.ID, "client_id", ar.ClientID, "method", "upstream", "upstream", method)
	return h.continueTo(w, r, ar, s)
}

// RegisterURL is the registration wizard's start, where prompt=create
// leads.
const RegisterURL = "/register"

// LoginURL is the sign-in page for authorization request authRequestID
// ("" for satupintu itself).
func LoginURL(authRequestID string) string {
	if authRequestID == "" {
		return "/login"
	}
	return "/login?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

// stepAMR is what a sign-in whose second step st completed with second
// records: the first step's methods (the password unless an upstream signed
// in), the second's (otp, or a passkey's), as more than one factor (RFC
// 8176).
func stepAMR(st mfaStep, second ...string) []string {
	amr := []string{storage.AMRPassword}
	if len(st.FirstAMR) > 0 {
		amr = slices.Clone(st.FirstAMR)
	}
	for _, m := range append(second, storage.AMRMFA) {
		if !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	return amr
}

// firstStepEvent is the audit event of a first step that a second one
// follows: the password, or an upstream provider (firstAMR).
func firstStepEvent(u storage.User, ar storage.AuthRequest, next string, firstAMR []string) storage.AuditEvent {
	e := storage.AuditEvent{Action: "login.password_ok", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID,
		Detail: map[string]string{"next": next}}
	if len(firstAMR) > 0 {
		e = storage.AuditEvent{Action: "login.upstream_ok", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID,
			Detail: map[string]string{"next": next, "amr": strings.Join(firstAMR, " ")}}
	}
	return e
}

// afterSignIn runs the AfterSignIn hook, if any.
func (h *Handler) afterSignIn(w http.ResponseWriter, r *http.Request, u storage.User) {
	if h.AfterSignIn != nil {
		h.AfterSignIn(w, r, u)
	}
}
