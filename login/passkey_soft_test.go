package login

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/storage"
)

// softKey is a software authenticator for HTTP tests: one ES256
// credential, answering challenges the way a browser and a platform
// authenticator would (WebAuthn §6.1 authenticator data, §5.8.1 client
// data). The browser tests use Chromium's virtual authenticator instead.
type softKey struct {
	t       *testing.T
	key     *ecdsa.PrivateKey
	id      []byte
	user    string // user handle
	counter uint32
	// What the answer claims; tests change them to forge answers.
	origin, rpID string
	flags        byte
}

const (
	flagUP = 0x01
	flagUV = 0x04
)

// newSoftKey makes a credential for u and stores it as a registration
// would have.
func (e *env) newSoftKey(u storage.User) *softKey {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	k := &softKey{t: e.t, key: key, id: []byte(storage.NewID()), user: u.ID, origin: "http://localhost", rpID: "localhost", flags: flagUP | flagUV}
	rec, err := json.Marshal(webauthn.Credential{ID: k.id, PublicKey: k.cosePublicKey(), AttestationType: "none",
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: true}})
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.dur.CreatePasskey(e.t.Context(), storage.Passkey{ID: storage.NewID(), UserID: u.ID, CredentialID: k.id,
		Name: "Soft", Record: rec, CreatedAt: e.clock.Now()}, DefaultMaxPasskeys)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// cosePublicKey is the EC2 P-256 key in COSE (RFC 9053), CBOR by hand:
// {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
func (k *softKey) cosePublicKey() []byte {
	pub, err := k.key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		k.t.Fatal(err)
	}
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	out = append(out, pub[1:33]...)
	out = append(out, 0x22, 0x58, 0x20)
	return append(out, pub[33:65]...)
}

// answer signs the challenge of options (the JSON /login/passkey/options
// returned) and returns the credential JSON the page would post.
func (k *softKey) answer(options string) string {
	k.t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &o); err != nil || o.PublicKey.Challenge == "" {
		k.t.Fatalf("options %q: %v", options, err)
	}
	client, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": o.PublicKey.Challenge, "origin": k.origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(k.rpID))
	k.counter++
	auth := append(rp[:], k.flags)
	auth = binary.BigEndian.AppendUint32(auth, k.counter)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(slices.Clone(auth), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(client), "authenticatorData": b64(auth), "signature": b64(sig), "userHandle": b64([]byte(k.user))},
	})
	return string(out)
}

// passkeySignIn runs one passkey sign-in for authorization request arID
// in c: options, then k's answer.
func (e *env) passkeySignIn(c *http.Client, arID string, k *softKey) (res, optionsRes *http.Response, body string) {
	e.t.Helper()
	page := e.get(c, "/login?authRequestID="+arID)
	token := csrfToken(e.t, page.Body)
	opts := e.post(c, "/login/passkey/options", url.Values{"csrf_token": {token}})
	if opts.StatusCode != http.StatusOK {
		e.t.Fatalf("options: %d %s", opts.StatusCode, opts.Body)
	}
	got := e.post(c, "/login/passkey", url.Values{"csrf_token": {token}, "authRequestID": {arID}, "credential": {k.answer(opts.Body)}})
	return got.Response, opts.Response, got.Body
}

func TestPasskeySignInWithSoftAuthenticator(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	u := e.createUser("siti", nil)
	k := e.newSoftKey(u)
	c := e.newClient()
	arID := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.ACRValues = []string{storage.ACRMFA} })
	res, _, body := e.passkeySignIn(c, arID, k)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/callback?id="+arID {
		t.Fatalf("passkey sign-in: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	ar := e.authRequest(arID)
	if !ar.Done || ar.UserID != u.ID || !slices.Equal(ar.AMR, []string{"hwk", "user", "pin", "mfa"}) {
		t.Fatalf("auth request after passkey sign-in: done %v user %q amr %v", ar.Done, ar.UserID, ar.AMR)
	}
	keys, _ := e.dur.PasskeysOf(t.Context(), u.ID)
	if len(keys) != 1 || !keys[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Fatalf("last use not recorded: %+v", keys)
	}
	var cred webauthn.Credential
	if err := json.Unmarshal(keys[0].Record, &cred); err != nil || cred.Authenticator.SignCount != 1 {
		t.Fatalf("signature counter not stored: %d (%v)", cred.Authenticator.SignCount, err)
	}
	var success int
	for _, a := range e.audits() {
		if a.Action == "login.success" && a.Detail["method"] == "passkey" && a.Subject == u.ID {
			success++
		}
	}
	if success != 1 {
		t.Fatalf("%d login.success events for the passkey, want 1", success)
	}
}

// Each forged answer signs nobody in and leaves the sign-in page with a
// message (WebAuthn §7.2 verification steps the library performs, and our
// own checks around it).
func TestPasskeyAnswersThatMustFail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forge  func(e *env, k *softKey)
		reason string
	}{
		{"another origin", func(_ *env, k *softKey) { k.origin = "https://satupintu.evil.example" }, "passkey_invalid"},
		{"another relying party", func(_ *env, k *softKey) { k.rpID = "evil.example" }, "passkey_invalid"},
		{"no user verification", func(_ *env, k *softKey) { k.flags = flagUP }, "passkey_invalid"},
		{"no user presence", func(_ *env, k *softKey) { k.flags = flagUV }, "passkey_invalid"},
		{"another user's handle", func(e *env, k *softKey) { k.user = e.createUser("budi", nil).ID }, "passkey_invalid"},
		{"a counter that went back", func(_ *env, k *softKey) { k.counter = 0 }, "passkey_cloned"},
		{"a disabled account", func(e *env, k *softKey) {
			if err := e.dur.UpdateUser(e.t.Context(), k.user, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
				e.t.Fatal(err)
			}
		}, "account_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false, withPasskeys(0))
			k := e.newSoftKey(e.createUser("siti", nil))
			if tc.reason == "passkey_cloned" {
				// A first sign-in leaves the stored counter at 5.
				k.counter = 4
				if res, _, body := e.passkeySignIn(e.newClient(), e.newAuthRequest(nil), k); res.StatusCode != http.StatusSeeOther {
					t.Fatalf("first sign-in: %d\n%s", res.StatusCode, body)
				}
			}
			tc.forge(e, k)
			arID := e.newAuthRequest(nil)
			res, _, body := e.passkeySignIn(e.newClient(), arID, k)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="form-error"`) || e.authRequest(arID).Done {
				t.Fatalf("%d, want the sign-in page with an error\n%s", res.StatusCode, body)
			}
			var refused bool
			for _, a := range e.audits() {
				refused = refused || (a.Action == "login.failure" && a.Detail["reason"] == tc.reason)
			}
			if !refused {
				t.Fatalf("no login.failure with reason %s in the audit log", tc.reason)
			}
		})
	}
}

// An answer is good for its own challenge once: posted again with a new
// challenge, or with the same (used) one, it signs nobody in.
func TestPasskeyAnswerCannotBeReplayed(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	k := e.newSoftKey(e.createUser("siti", nil))
	c := e.newClient()
	page := e.get(c, "/login")
	token := csrfToken(t, page.Body)
	opts := e.post(c, "/login/passkey/options", url.Values{"csrf_token": {token}})
	answer := k.answer(opts.Body)
	ceremony := e.ceremonyCookie(opts.Response)
	if res := e.post(c, "/login/passkey", url.Values{"csrf_token": {token}, "credential": {answer}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d\n%s", res.StatusCode, res.Body)
	}
	// The same challenge cookie again.
	again := e.newClient()
	e.setCookie(again, ceremony)
	page = e.get(again, "/login")
	token = csrfToken(t, page.Body)
	if res := e.post(again, "/login/passkey", url.Values{"csrf_token": {token}, "credential": {answer}}); !strings.Contains(res.Body, e.tr("passkey.expired")) || e.sessionCookie(res) != nil {
		t.Fatalf("replay with the used challenge: %d\n%s", res.StatusCode, res.Body)
	}
	// A fresh challenge that the old answer does not answer.
	e.post(again, "/login/passkey/options", url.Values{"csrf_token": {token}})
	if res := e.post(again, "/login/passkey", url.Values{"csrf_token": {token}, "credential": {answer}}); !strings.Contains(res.Body, e.tr("passkey.failed")) || e.sessionCookie(res) != nil {
		t.Fatalf("replay with a new challenge: %d\n%s", res.StatusCode, res.Body)
	}
}
