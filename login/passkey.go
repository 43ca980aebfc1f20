package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// Passkeys configures passkeys (WebAuthn Level 3, through go-webauthn): sign
// in with a passkey alone, a passkey as the second factor after the
// password, and the list on the Security page (/mfa). Set it as
// Handler.Passkeys before Mount; nil: off.
//
// Every ceremony's challenge lives in the ephemeral store under a random id
// that only the browser's cookie holds, and is taken once: a challenge works
// on any node, cannot be answered twice, and cannot be answered from another
// browser. Sign-in challenges are created for anonymous visitors, so each
// takes ChallengeLimit.
type Passkeys struct {
	Store      storage.Passkeys
	Ceremonies storage.OneTime
	// ChallengeLimit bounds the sign-in challenges one client address (and
	// everyone together) may have the service store.
	ChallengeLimit quota.Limit
	// RPID is the WebAuthn relying party id, the issuer's host name; Origin
	// the issuer's origin, the only one whose answers count.
	RPID   string
	Origin string
	// MaxPerUser is how many passkeys one account may hold
	// (DefaultMaxPasskeys if zero).
	MaxPerUser int

	webauthn *webauthn.WebAuthn
}

const (
	// DefaultMaxPasskeys: a phone, a laptop, an office PC and a spare key or
	// two for each person, with room to spare.
	DefaultMaxPasskeys = 10
	// PasskeyChallengeTTL is how long a ceremony waits for the browser's
	// answer: long enough to find a security key.
	PasskeyChallengeTTL = 5 * time.Minute
	// maxPasskeyName bounds the name a user gives a passkey.
	maxPasskeyName = 64
	// maxCredentialJSON bounds an authenticator's answer; real ones are
	// about 1 KiB (a registration with attestation up to a few).
	maxCredentialJSON = 16 << 10
)

func (h *Handler) setupPasskeys() error {
	p := h.Passkeys
	if p == nil {
		return nil
	}
	switch {
	case p.Store == nil, p.Ceremonies == nil:
		return fmt.Errorf("login: a passkey storage dependency is nil")
	case p.RPID == "" || p.Origin == "":
		return fmt.Errorf("login: passkeys need the relying party id and origin")
	case h.MFA == nil:
		// Registering a passkey asks for the password and the second
		// factor (mfa_enroll.go); the step after the password is MFA's.
		return fmt.Errorf("login: passkeys need MFA configured")
	}
	if !h.Pages.Has("passkey_new") {
		return fmt.Errorf("login: template %q missing", "passkey_new")
	}
	if p.MaxPerUser <= 0 {
		p.MaxPerUser = DefaultMaxPasskeys
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          p.RPID,
		RPDisplayName: "satupintu",
		RPOrigins:     []string{p.Origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: PasskeyChallengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: PasskeyChallengeTTL},
		},
	})
	if err != nil {
		return fmt.Errorf("login: webauthn: %w", err)
	}
	p.webauthn = w
	return nil
}

// passkeyUser is a user as go-webauthn sees it. The user handle is the
// user's id: random, never shown, and the OIDC sub already.
type passkeyUser struct {
	user  storage.User
	keys  []storage.Passkey
	creds []webauthn.Credential // keys' records, in the same order
}

func (u *passkeyUser) WebAuthnID() []byte   { return []byte(u.user.ID) }
func (u *passkeyUser) WebAuthnName() string { return u.user.Username }
func (u *passkeyUser) WebAuthnDisplayName() string {
	if u.user.Name != "" {
		return u.user.Name
	}
	return u.user.Username
}
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// key returns the stored passkey of credential id.
func (u *passkeyUser) key(credentialID []byte) (storage.Passkey, bool) {
	for i, c := range u.creds {
		if string(c.ID) == string(credentialID) {
			return u.keys[i], true
		}
	}
	return storage.Passkey{}, false
}

// loadPasskeyUser reads u's passkeys and decodes their records.
func (h *Handler) loadPasskeyUser(ctx context.Context, u storage.User) (*passkeyUser, error) {
	keys, err := h.Passkeys.Store.PasskeysOf(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("login: list passkeys: %w", err)
	}
	return newPasskeyUser(u, keys)
}

// newPasskeyUser decodes keys' records for u.
func newPasskeyUser(u storage.User, keys []storage.Passkey) (*passkeyUser, error) {
	pu := &passkeyUser{user: u, keys: keys, creds: make([]webauthn.Credential, len(keys))}
	for i, k := range keys {
		if err := json.Unmarshal(k.Record, &pu.creds[i]); err != nil {
			return nil, fmt.Errorf("login: decode passkey %s: %w", k.ID, err)
		}
	}
	return pu, nil
}

// hasPasskeys reports whether u has a passkey; with passkeys off, never.
func (h *Handler) hasPasskeys(ctx context.Context, u storage.User) (bool, error) {
	if h.Passkeys == nil {
		return false, nil
	}
	keys, err := h.Passkeys.Store.PasskeysOf(ctx, u.ID)
	if err != nil {
		return false, fmt.Errorf("login: list passkeys: %w", err)
	}
	return len(keys) > 0, nil
}

// recordPasskeyUse stores the counter and flags the authenticator reported
// and when it was used.
func (h *Handler) recordPasskeyUse(ctx context.Context, key storage.Passkey, cred *webauthn.Credential) error {
	rec, err := jsonBytes(cred)
	if err != nil {
		return err
	}
	err = h.Passkeys.Store.UpdatePasskey(ctx, key.ID, func(p *storage.Passkey) error {
		p.Record, p.LastUsedAt = rec, h.Now()
		return nil
	})
	if err != nil {
		return fmt.Errorf("login: record passkey use: %w", err)
	}
	return nil
}

// Ceremony purposes: a challenge answers only the step it was made for.
const (
	ceremonySignIn   = "signin"
	ceremonySecond   = "second_factor"
	ceremonyRegister = "register"
)

// ceremony is a challenge waiting for the browser's answer.
type ceremony struct {
	Purpose   string               `json:"purpose"`
	UserID    string               `json:"user_id,omitempty"`    // second factor, register: whose
	SessionID string               `json:"session_id,omitempty"` // register: the SSO session that asked
	Data      webauthn.SessionData `json:"data"`
}

func ceremonyKey(id string) string { return "passkey:" + id }

func (h *Handler) ceremonyCookieName() string {
	if h.Secure {
		return "__Host-satupintu_passkey"
	}
	return "satupintu_passkey"
}

// saveCeremony stores c and gives the browser the cookie that names it; a
// new ceremony replaces the browser's previous one.
func (h *Handler) saveCeremony(w http.ResponseWriter, r *http.Request, c ceremony) error {
	b, err := jsonBytes(c)
	if err != nil {
		return err
	}
	id := storage.NewID()
	if err := h.Passkeys.Ceremonies.PutOnce(r.Context(), ceremonyKey(id), b, PasskeyChallengeTTL); err != nil {
		return fmt.Errorf("login: save passkey ceremony: %w", err)
	}
	v, err := h.Cookies.Encode(h.ceremonyCookieName(), id)
	if err != nil {
		return fmt.Errorf("login: encode passkey cookie: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.ceremonyCookieName(), Value: v, Path: "/", MaxAge: int(PasskeyChallengeTTL / time.Second),
		Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// takeCeremony returns and forgets the browser's pending ceremony for
// purpose; ok is false when there is none (no cookie, a forged one, used,
// expired, or made for another step).
func (h *Handler) takeCeremony(w http.ResponseWriter, r *http.Request, purpose string) (ceremony, bool, error) {
	ck, err := r.Cookie(h.ceremonyCookieName())
	if err != nil {
		return ceremony{}, false, nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.ceremonyCookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	var id string
	if err := h.Cookies.Decode(h.ceremonyCookieName(), ck.Value, &id); err != nil || id == "" {
		return ceremony{}, false, nil
	}
	b, err := h.Passkeys.Ceremonies.TakeOnce(r.Context(), ceremonyKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return ceremony{}, false, nil
	}
	if err != nil {
		return ceremony{}, false, fmt.Errorf("login: take passkey ceremony: %w", err)
	}
	var c ceremony
	if err := json.Unmarshal(b, &c); err != nil {
		return ceremony{}, false, fmt.Errorf("login: decode passkey ceremony: %w", err)
	}
	return c, c.Purpose == purpose, nil
}

// jsonBytes encodes v for the store or a page.
func jsonBytes(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("login: encode %T: %w", v, err)
	}
	return b, nil
}

// writeOptions answers a fetch for a ceremony's options with JSON.
func writeOptions(w http.ResponseWriter, options any) error {
	b, err := jsonBytes(options)
	if err != nil {
		return err
	}
	web.NoStore(w)
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// credentialField is the authenticator's answer as the page posts it.
func credentialField(r *http.Request) ([]byte, bool) {
	v := r.PostForm.Get("credential")
	if v == "" || len(v) > maxCredentialJSON {
		return nil, false
	}
	return []byte(v), true
}

// passkeyFactors is what a passkey proves (RFC 8176 §2): possession of a
// key, hardware-bound (hwk) or synced between devices and so held in
// software (swk, the backup-eligible flag); the user's presence (user); and
// when the authenticator verified the user (its PIN, pattern or
// biometrics: WebAuthn does not say which), that second factor (pin).
func passkeyFactors(flags protocol.AuthenticatorFlags) []string {
	amr := []string{storage.AMRHardwareKey}
	if flags.HasBackupEligible() {
		amr[0] = storage.AMRSoftwareKey
	}
	if flags.HasUserPresent() {
		amr = append(amr, storage.AMRUserPresence)
	}
	if flags.HasUserVerified() {
		amr = append(amr, storage.AMRPIN)
	}
	return amr
}

// passkeyAMR is what a sign-in with a passkey alone records: its factors,
// as two (mfa) when the authenticator verified the user.
func passkeyAMR(flags protocol.AuthenticatorFlags) []string {
	amr := passkeyFactors(flags)
	if flags.HasUserVerified() {
		amr = append(amr, storage.AMRMFA)
	}
	return amr
}

// passkeyTake bounds anonymous sign-in challenges: over the allowance the
// fetch gets 429 with Retry-After, and the page keeps the password form.
func (h *Handler) passkeyTake(w http.ResponseWriter, r *http.Request) error {
	return web.TakeQuota(w, r, h.Passkeys.ChallengeLimit, h.Counters, "passkey.too_many", h.Logger)
}
