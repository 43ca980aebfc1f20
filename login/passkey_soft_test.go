package login

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/login/passkeytest"
	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
)

// newSoftKey makes a software credential for u and stores it as a
// registration would have.
func (e *env) newSoftKey(u storage.User) *passkeytest.Key {
	e.t.Helper()
	k, err := passkeytest.New(u.ID, "localhost", "http://localhost")
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := k.Record()
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.dur.CreatePasskey(e.t.Context(), storage.Passkey{ID: storage.NewID(), UserID: u.ID, CredentialID: k.ID,
		Name: "Soft", Record: rec, CreatedAt: e.clock.Now()}, DefaultMaxPasskeys)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// answer is k's answer to options.
func (e *env) answer(k *passkeytest.Key, options string) string {
	e.t.Helper()
	a, err := k.Answer(options)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// passkeySignIn runs one passkey sign-in for authorization request arID
// in c: options, then k's answer.
func (e *env) passkeySignIn(c *http.Client, arID string, k *passkeytest.Key) (res, optionsRes *http.Response, body string) {
	e.t.Helper()
	page := e.get(c, "/login?authRequestID="+arID)
	token := csrfToken(e.t, page.Body)
	opts := e.post(c, "/login/passkey/options", url.Values{"csrf_token": {token}})
	if opts.StatusCode != http.StatusOK {
		e.t.Fatalf("options: %d %s", opts.StatusCode, opts.Body)
	}
	got := e.post(c, "/login/passkey", url.Values{"csrf_token": {token}, "authRequestID": {arID}, "credential": {e.answer(k, opts.Body)}})
	return got.Response, opts.Response, got.Body
}

func TestPasskeySignInWithSoftAuthenticator(t *testing.T) {
	var proved []string // users the AfterSignIn hook saw (an upstream link waits for it)
	e := newEnv(t, false, withPasskeys(0), func(h *Handler, _ *memory.Store, _ *sqlite.Store) {
		h.AfterSignIn = func(_ http.ResponseWriter, _ *http.Request, u storage.User) { proved = append(proved, u.ID) }
	})
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
	if !slices.Equal(proved, []string{u.ID}) {
		t.Fatalf("AfterSignIn saw %v, want the passkey's user once", proved)
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
		forge  func(e *env, k *passkeytest.Key)
		reason string
	}{
		{"another origin", func(_ *env, k *passkeytest.Key) { k.Origin = "https://satupintu.evil.example" }, "passkey_invalid"},
		{"another relying party", func(_ *env, k *passkeytest.Key) { k.RPID = "evil.example" }, "passkey_invalid"},
		{"no user verification", func(_ *env, k *passkeytest.Key) { k.Flags = passkeytest.FlagUserPresent }, "passkey_invalid"},
		{"no user presence", func(_ *env, k *passkeytest.Key) { k.Flags = passkeytest.FlagUserVerified }, "passkey_invalid"},
		{"another user's handle", func(e *env, k *passkeytest.Key) { k.UserHandle = []byte(e.createUser("budi", nil).ID) }, "passkey_invalid"},
		{"a counter that went back", func(_ *env, k *passkeytest.Key) { k.Counter = 0 }, "passkey_cloned"},
		{"a disabled account", func(e *env, k *passkeytest.Key) {
			if err := e.dur.UpdateUser(e.t.Context(), string(k.UserHandle), func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
				e.t.Fatal(err)
			}
		}, "account_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false, withPasskeys(0))
			k := e.newSoftKey(e.createUser("siti", nil))
			if tc.reason == "passkey_cloned" {
				// A first sign-in leaves the stored counter at 5.
				k.Counter = 4
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
	answer := e.answer(k, opts.Body)
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
