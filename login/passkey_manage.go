package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/storage"
	"satupintu/web"
)

// passkeyRow is one passkey on the Security page.
type passkeyRow struct {
	ID        string
	Name      string
	CreatedAt string // YYYY-MM-DD
	LastUsed  string // YYYY-MM-DD HH:MM UTC; empty: never
}

// passkeyRows lists u's passkeys for the Security page.
func (h *Handler) passkeyRows(r *http.Request, u storage.User) ([]passkeyRow, error) {
	keys, err := h.Passkeys.Store.PasskeysOf(r.Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("login: list passkeys: %w", err)
	}
	rows := make([]passkeyRow, len(keys))
	for i, k := range keys {
		rows[i] = passkeyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.Format(time.DateOnly)}
		if !k.LastUsedAt.IsZero() {
			rows[i].LastUsed = k.LastUsedAt.UTC().Format("2006-01-02 15:04") + " UTC"
		}
	}
	return rows, nil
}

// passkeyNewPage is the data of the "passkey_new" page: the creation
// options for the browser and the name field.
type passkeyNewPage struct {
	Options string // JSON for navigator.credentials.create, in a data attribute
	Name    string
}

// startPasskeyRegistration answers POST /passkeys/new: after fresh
// authentication (the password, and the second factor of an enrolled user:
// a session alone must not add a way into the account, ASVS 7.5.1), the
// page that asks the browser to create a passkey.
func (h *Handler) startPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
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
	if locked, err := h.mfaLocked(ctx, u.ID); err != nil {
		return err
	} else if locked {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "mfa.too_many_wait"})
	}
	if err := h.reauthenticate(ctx, u, parseReauthForm(r)); err != nil {
		if key, ok := h.reauthFailed(r, u, "passkey.add", err); ok {
			return h.renderMFA(w, r, u, mfaPage{ErrorKey: key})
		}
		return err
	}
	h.mfaSucceeded(ctx, u.ID)
	pu, err := h.loadPasskeyUser(ctx, u)
	if err != nil {
		return err
	}
	if len(pu.keys) >= h.Passkeys.MaxPerUser {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.limit"})
	}
	exclude := make([]protocol.CredentialDescriptor, len(pu.creds))
	for i := range pu.creds {
		exclude[i] = pu.creds[i].Descriptor()
	}
	options, data, err := h.Passkeys.webauthn.BeginRegistration(pu,
		webauthn.WithExclusions(exclude),
		// Discoverable, so it signs in without a user name; verification
		// preferred: a key without a PIN still serves as a second factor.
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		}))
	if err != nil {
		return fmt.Errorf("login: begin passkey registration: %w", err)
	}
	if err := h.saveCeremony(w, r, ceremony{Purpose: ceremonyRegister, UserID: u.ID, SessionID: s.ID, Data: *data}); err != nil {
		return err
	}
	b, err := jsonBytes(options)
	if err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "passkey_new", passkeyNewPage{Options: string(b)})
}

// finishPasskeyRegistration answers POST /passkeys: the new passkey, as the
// browser created it for the session's own challenge.
func (h *Handler) finishPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
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
	c, ok, err := h.takeCeremony(w, r, ceremonyRegister)
	if err != nil {
		return err
	}
	if !ok || c.UserID != u.ID || c.SessionID != s.ID {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.expired"})
	}
	refused := func(reason string, cause error) error {
		h.audit(r, storage.AuditEvent{Action: "passkey.add.failure", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"reason": reason}})
		h.Logger.InfoContext(ctx, "passkey registration refused", "user_id", u.ID, "reason", reason, "error", cause)
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.failed"})
	}
	name, ok := passkeyName(r.PostForm.Get("name"))
	if !ok {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.name_invalid"})
	}
	raw, ok := credentialField(r)
	if !ok {
		return refused("malformed", nil)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(raw)
	if err != nil {
		return refused("malformed", err)
	}
	pu, err := h.loadPasskeyUser(ctx, u)
	if err != nil {
		return err
	}
	cred, err := h.Passkeys.webauthn.CreateCredential(pu, c.Data, parsed)
	if err != nil {
		return refused("invalid", err)
	}
	rec, err := jsonBytes(cred)
	if err != nil {
		return err
	}
	if name == "" {
		name = fmt.Sprintf("%s %d", h.Pages.T(web.Locale(r), "passkey.default_name"), len(pu.keys)+1)
	}
	key := storage.Passkey{ID: storage.NewID(), UserID: u.ID, CredentialID: cred.ID, Name: name, Record: rec, CreatedAt: h.Now()}
	ev := storage.AuditEvent{Action: "passkey.add", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"passkey": key.ID, "name": name}}
	err = h.Passkeys.Store.CreatePasskey(h.audited(r, ev), key, h.Passkeys.MaxPerUser)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.limit"})
	case errors.Is(err, storage.ErrAlreadyExists):
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: "passkey.already"})
	case err != nil:
		return fmt.Errorf("login: store passkey: %w", err)
	}
	h.Logger.InfoContext(ctx, "passkey added", "user_id", u.ID, "passkey", key.ID)
	redirect(w, r, "/mfa?done=passkey_added")
	return nil
}

// passkeyName trims a name the user gave a passkey; ok is false for one
// too long or with control characters. Empty means "give it a default".
func passkeyName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxPasskeyName || !utf8.ValidString(s) {
		return "", false
	}
	for _, c := range s {
		if unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c) {
			return "", false
		}
	}
	return s, true
}

// renamePasskey answers POST /passkeys/{id}/rename.
func (h *Handler) renamePasskey(w http.ResponseWriter, r *http.Request) error {
	return h.changePasskey(w, r, "passkey.rename", func(ctx context.Context, u storage.User, id string) (string, error) {
		name, ok := passkeyName(r.PostForm.Get("name"))
		if !ok || name == "" {
			return "passkey.name_invalid", nil
		}
		err := h.Passkeys.Store.UpdatePasskey(ctx, id, func(p *storage.Passkey) error {
			if p.UserID != u.ID {
				return storage.ErrNotFound
			}
			p.Name = name
			return nil
		})
		return "", err
	})
}

// deletePasskey answers POST /passkeys/{id}/delete. Removing needs no
// fresh authentication: it takes a way in away, never adds one.
func (h *Handler) deletePasskey(w http.ResponseWriter, r *http.Request) error {
	return h.changePasskey(w, r, "passkey.remove", func(ctx context.Context, u storage.User, id string) (string, error) {
		return "", h.Passkeys.Store.DeletePasskey(ctx, u.ID, id)
	})
}

// changePasskey runs change on the signed-in user's passkey {id}, records
// it and goes back to the Security page. change returns a message key for a
// refused input; another user's or a missing passkey changes nothing. Its
// ctx carries the event for its one write, so nothing changed records none.
func (h *Handler) changePasskey(w http.ResponseWriter, r *http.Request, action string, change func(context.Context, storage.User, string) (string, error)) error {
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
	id := r.PathValue("id")
	key, err := change(h.audited(r, storage.AuditEvent{Action: action, ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"passkey": id}}), u, id)
	if errors.Is(err, storage.ErrNotFound) {
		redirect(w, r, "/mfa")
		return nil
	}
	if err != nil {
		return fmt.Errorf("login: %s: %w", action, err)
	}
	if key != "" {
		return h.renderMFA(w, r, u, mfaPage{ErrorKey: key})
	}
	redirect(w, r, "/mfa?done="+strings.ReplaceAll(action, ".", "_"))
	return nil
}
