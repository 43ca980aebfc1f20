package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/storage"
	"satupintu/web"
)

// errPasskeyRefused is a passkey answer that did not verify; the user sees
// "passkey.failed", the log the reason.
var errPasskeyRefused = errors.New("login: passkey refused")

// passkeySignInOptions answers POST /login/passkey/options (a fetch from the
// sign-in page): a challenge any of the user's passkeys may answer, with the
// user's verification required, so the passkey alone is two factors.
func (h *Handler) passkeySignInOptions(w http.ResponseWriter, r *http.Request) error {
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	if err := h.passkeyTake(w, r); err != nil {
		return err
	}
	options, data, err := h.Passkeys.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return fmt.Errorf("login: begin passkey sign-in: %w", err)
	}
	if err := h.saveCeremony(w, r, ceremony{Purpose: ceremonySignIn, Data: *data}); err != nil {
		return err
	}
	return writeOptions(w, options)
}

// submitPasskeySignIn answers POST /login/passkey: the authenticator's
// answer to the browser's sign-in challenge. A verified answer starts the
// session and finishes the authorization request, as the password does.
func (h *Handler) submitPasskeySignIn(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	arID := r.Form.Get("authRequestID")
	var ar storage.AuthRequest
	if arID != "" {
		var err error
		if ar, err = h.authRequest(ctx, arID); err != nil {
			return err
		}
		r = web.WithUILocales(r, ar.UILocales)
		if ar.Done { // a second submit of the same form
			redirect(w, r, h.afterDone(ctx, ar.ID))
			return nil
		}
	}
	fail := func(reason, key, userID string, cause error) error {
		// Aggregated like password failures: a request without a
		// challenge costs an attacker nothing, and must not cost a row.
		h.auditFailure(r, storage.AuditEvent{Action: "login.failure", ActorID: userID, Subject: userID, ClientID: ar.ClientID,
			Detail: map[string]string{"reason": reason, "method": "passkey"}})
		h.Logger.InfoContext(ctx, "passkey sign-in refused", "reason", reason, "client_id", ar.ClientID, "ip", web.RemoteIP(r), "error", cause)
		return h.backToPassword(w, r, arID, key)
	}
	c, ok, err := h.takeCeremony(w, r, ceremonySignIn)
	if err != nil {
		return err
	}
	if !ok {
		return fail("passkey_no_challenge", "passkey.expired", "", nil)
	}
	raw, ok := credentialField(r)
	if !ok {
		return fail("passkey_malformed", "passkey.failed", "", nil)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return fail("passkey_malformed", "passkey.failed", "", err)
	}
	var pu *passkeyUser
	var lookupErr error
	_, cred, err := h.Passkeys.webauthn.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		pu, lookupErr = h.discoverPasskeyUser(ctx, rawID, userHandle)
		return pu, lookupErr
	}, c.Data, parsed)
	if lookupErr != nil && !errors.Is(lookupErr, errPasskeyRefused) {
		return lookupErr // the store failed, not the passkey
	}
	if err != nil {
		userID := ""
		if pu != nil {
			userID = pu.user.ID
		}
		return fail("passkey_invalid", "passkey.failed", userID, err)
	}
	u := pu.user
	if cred.Authenticator.CloneWarning {
		// The signature counter went back: two copies of one key exist.
		return fail("passkey_cloned", "passkey.failed", u.ID, errors.New("signature counter did not increase"))
	}
	switch {
	case u.Disabled:
		return fail("account_disabled", "login.account_disabled", u.ID, nil)
	case !u.CanSignIn(h.Now()):
		return fail("account_expired", "login.account_expired", u.ID, nil)
	}
	amr := passkeyAMR(parsed.Response.AuthenticatorData.Flags)
	// The challenge asked for user verification, so the passkey is two
	// factors; should that ever not hold, a request that needs two does
	// not get a session from one.
	if need, err := h.needsMFA(ctx, ar); err != nil {
		return err
	} else if need && !slices.Contains(amr, storage.AMRMFA) {
		return fail("passkey_not_enough", "passkey.failed", u.ID, errors.New("one factor for a request that needs two"))
	}
	key, _ := pu.key(cred.ID)
	if err := h.recordPasskeyUse(ctx, key, cred); err != nil {
		return err
	}
	if err := h.issueDeviceCookie(w, u.ID); err != nil {
		return fmt.Errorf("login: encode device cookie: %w", err)
	}
	s, err := h.startSession(w, r, u, amr...)
	if err != nil {
		return err
	}
	h.audit(r, storage.AuditEvent{Action: "login.success", ActorID: u.ID, Subject: u.ID, ClientID: ar.ClientID,
		Detail: map[string]string{"amr": strings.Join(s.AMR, " "), "method": "passkey", "passkey": key.ID}})
	h.Logger.InfoContext(ctx, "signed in", "user_id", u.ID, "client_id", ar.ClientID, "method", "passkey")
	h.afterSignIn(w, r, u) // a passkey proves the account as a password does
	return h.continueTo(w, r, ar, s)
}

// discoverPasskeyUser finds the account of a discoverable credential: the
// stored passkey of rawID, which must belong to the user the authenticator
// names (userHandle). Unknown keys are errPasskeyRefused.
func (h *Handler) discoverPasskeyUser(ctx context.Context, rawID, userHandle []byte) (*passkeyUser, error) {
	key, err := h.Passkeys.Store.PasskeyByCredentialID(ctx, rawID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown credential", errPasskeyRefused)
	}
	if err != nil {
		return nil, fmt.Errorf("login: find passkey: %w", err)
	}
	if string(userHandle) != key.UserID {
		return nil, fmt.Errorf("%w: user handle does not match the credential", errPasskeyRefused)
	}
	u, err := h.Users.UserByID(ctx, key.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: user gone", errPasskeyRefused)
	}
	if err != nil {
		return nil, fmt.Errorf("login: load passkey user: %w", err)
	}
	// The key the authenticator presented is the only one the check needs:
	// no second read of the user's passkeys.
	return newPasskeyUser(u, []storage.Passkey{key})
}

// passkeyStepOptions answers POST /login/mfa/passkey/options: a challenge
// for the passkeys of the user whose password the pending step checked.
func (h *Handler) passkeyStepOptions(w http.ResponseWriter, r *http.Request) error {
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	_, st, ok, err := h.loadStep(r)
	if err != nil {
		return err
	}
	if !ok {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "mfa.step_expired", Err: errors.New("login: passkey options without a pending step")}
	}
	if err := h.passkeyTake(w, r); err != nil {
		return err
	}
	u, err := h.Users.UserByID(r.Context(), st.UserID)
	if err != nil {
		return fmt.Errorf("login: load user: %w", err)
	}
	pu, err := h.loadPasskeyUser(r.Context(), u)
	if err != nil {
		return err
	}
	if len(pu.creds) == 0 {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "passkey.none", Err: errors.New("login: user has no passkey")}
	}
	// The password was the first factor: the key's presence is the second.
	options, data, err := h.Passkeys.webauthn.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return fmt.Errorf("login: begin passkey step: %w", err)
	}
	if err := h.saveCeremony(w, r, ceremony{Purpose: ceremonySecond, UserID: u.ID, Data: *data}); err != nil {
		return err
	}
	return writeOptions(w, options)
}

// submitPasskeyStep answers POST /login/mfa/passkey: a passkey as the
// second factor after the password.
func (h *Handler) submitPasskeyStep(w http.ResponseWriter, r *http.Request) error {
	p, ok, err := h.openStep(w, r)
	if err != nil || !ok {
		return err
	}
	key, cred, flags, err := h.verifyStepPasskey(w, p.r, p.u)
	if errors.Is(err, errPasskeyRefused) {
		h.Logger.InfoContext(p.r.Context(), "passkey second factor refused", "user_id", p.u.ID, "error", err)
		return h.stepFailed(w, p.r, p.id, p.st, p.u, p.page, p.ar, err)
	}
	if err != nil {
		return err
	}
	if err := h.recordPasskeyUse(p.r.Context(), key, cred); err != nil {
		return err
	}
	return h.finishStep(w, p, stepAMR(p.st, passkeyFactors(flags)...), map[string]string{"method": "passkey_second_factor", "passkey": key.ID}, nil)
}

// verifyStepPasskey checks the posted answer to the browser's second-factor
// challenge against u's passkeys. A refusal is errPasskeyRefused.
func (h *Handler) verifyStepPasskey(w http.ResponseWriter, r *http.Request, u storage.User) (storage.Passkey, *webauthn.Credential, protocol.AuthenticatorFlags, error) {
	c, ok, err := h.takeCeremony(w, r, ceremonySecond)
	if err != nil {
		return storage.Passkey{}, nil, 0, err
	}
	if !ok || c.UserID != u.ID {
		return storage.Passkey{}, nil, 0, fmt.Errorf("%w: no challenge for this step", errPasskeyRefused)
	}
	raw, ok := credentialField(r)
	if !ok {
		return storage.Passkey{}, nil, 0, fmt.Errorf("%w: no answer", errPasskeyRefused)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return storage.Passkey{}, nil, 0, fmt.Errorf("%w: %w", errPasskeyRefused, err)
	}
	pu, err := h.loadPasskeyUser(r.Context(), u)
	if err != nil {
		return storage.Passkey{}, nil, 0, err
	}
	cred, err := h.Passkeys.webauthn.ValidateLogin(pu, c.Data, parsed)
	if err != nil {
		return storage.Passkey{}, nil, 0, fmt.Errorf("%w: %w", errPasskeyRefused, err)
	}
	if cred.Authenticator.CloneWarning {
		return storage.Passkey{}, nil, 0, fmt.Errorf("%w: signature counter did not increase", errPasskeyRefused)
	}
	key, _ := pu.key(cred.ID)
	return key, cred, parsed.Response.AuthenticatorData.Flags, nil
}
