package login

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
)

// withPasskeys turns passkeys on with a small challenge allowance.
func withPasskeys(perAddress int64) func(*Handler, *memory.Store, *sqlite.Store) {
	return func(h *Handler, eph *memory.Store, dur *sqlite.Store) {
		h.Passkeys = &Passkeys{Store: dur, Ceremonies: eph, RPID: "localhost", Origin: "http://localhost",
			ChallengeLimit: quota.Limit{Name: "passkey", PerAddress: perAddress, Window: PasskeyChallengeTTL}}
	}
}

// addPasskey stores a passkey for u as a registration would.
func (e *env) addPasskey(u storage.User, name string) storage.Passkey {
	e.t.Helper()
	rec, err := json.Marshal(webauthn.Credential{ID: []byte("cred-" + name), PublicKey: []byte{0xa5}})
	if err != nil {
		e.t.Fatal(err)
	}
	k := storage.Passkey{ID: storage.NewID(), UserID: u.ID, CredentialID: []byte("cred-" + name), Name: name,
		Record: rec, CreatedAt: e.clock.Now()}
	if err := e.dur.CreatePasskey(e.t.Context(), k, DefaultMaxPasskeys); err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) ceremonyCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "satupintu_passkey" {
			return c
		}
	}
	return nil
}

// Sign-in challenges are anonymous writes: each needs the page's CSRF
// token, asks for user verification, is bound to the browser by an
// HttpOnly SameSite=Strict cookie, and takes the per-address allowance.
func TestPasskeyChallengesAreBounded(t *testing.T) {
	e := newEnv(t, false, withPasskeys(2))
	c := e.newClient()
	page := e.get(c, "/login")
	if !strings.Contains(page.Body, `id="passkey-form"`) || !strings.Contains(page.Body, `autocomplete="username webauthn"`) {
		t.Fatalf("sign-in page offers no passkey:\n%s", page.Body)
	}
	if res := e.post(c, "/login/passkey/options", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("options without a CSRF token: %d", res.StatusCode)
	}
	form := url.Values{"csrf_token": {csrfToken(t, page.Body)}}
	for i := range 2 {
		res := e.post(c, "/login/passkey/options", form)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("options %d: %d %s", i, res.StatusCode, res.Body)
		}
		var opts struct {
			PublicKey struct {
				Challenge        string `json:"challenge"`
				RPID             string `json:"rpId"`
				UserVerification string `json:"userVerification"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(res.Body), &opts); err != nil || len(opts.PublicKey.Challenge) < 43 ||
			opts.PublicKey.RPID != "localhost" || opts.PublicKey.UserVerification != "required" {
			t.Fatalf("options %d: %+v (%v)", i, opts, err)
		}
		ck := e.ceremonyCookie(res.Response)
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != int(PasskeyChallengeTTL/time.Second) {
			t.Fatalf("options %d: ceremony cookie %+v", i, ck)
		}
	}
	res := e.post(c, "/login/passkey/options", form)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("options over the allowance: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

// An answer that is missing, forged, or comes without this browser's
// challenge signs nobody in; the sign-in page says so.
func TestPasskeyForgedAnswersAreRefused(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	u := e.createUser("siti", nil)
	e.addPasskey(u, "Laptop")
	arID := e.newAuthRequest(nil)
	c := e.newClient()
	page := e.get(c, "/login?authRequestID="+arID)
	token := csrfToken(t, page.Body)
	forged := `{"id":"Y3JlZC1MYXB0b3A","rawId":"Y3JlZC1MYXB0b3A","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":"` + u.ID + `"}}`
	for _, tc := range []struct {
		name, credential, wantKey string
		challenge                 bool
	}{
		{"no challenge", forged, "passkey.expired", false},
		{"no answer", "", "passkey.failed", true},
		{"not JSON", "{", "passkey.failed", true},
		{"forged answer", forged, "passkey.failed", true},
		{"oversized answer", `{"id":"` + strings.Repeat("A", maxCredentialJSON) + `"}`, "passkey.failed", true},
	} {
		if tc.challenge {
			if res := e.post(c, "/login/passkey/options", url.Values{"csrf_token": {token}}); res.StatusCode != http.StatusOK {
				t.Fatalf("%s: options %d", tc.name, res.StatusCode)
			}
		}
		res := e.post(c, "/login/passkey", url.Values{"csrf_token": {token}, "authRequestID": {arID}, "credential": {tc.credential}})
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, e.tr(tc.wantKey)) {
			t.Fatalf("%s: %d, want the sign-in page saying %q:\n%s", tc.name, res.StatusCode, tc.wantKey, res.Body)
		}
		if e.sessionCookie(res) != nil || e.authRequest(arID).Done {
			t.Fatalf("%s: signed in", tc.name)
		}
	}
}

// Adding a passkey adds a way into the account: it needs the password again
// (and the second factor of an enrolled user), never the session alone.
func TestPasskeyRegistrationNeedsFreshAuthentication(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	c, u, _ := e.signedIn("siti")
	page := e.get(c, "/mfa")
	if !strings.Contains(page.Body, `id="passkeys"`) || !strings.Contains(page.Body, `id="passkeys-none"`) {
		t.Fatalf("Security page lists no passkeys section:\n%s", page.Body)
	}
	res := e.postForm(c, page, "/passkeys/new", url.Values{"password": {"salah sekali"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, e.tr("mfa.password_wrong")) || e.ceremonyCookie(res.Response) != nil {
		t.Fatalf("wrong password: %d, cookie %v:\n%s", res.StatusCode, e.ceremonyCookie(res.Response), res.Body)
	}
	res = e.postForm(c, page, "/passkeys/new", url.Values{"password": {testPassword}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `data-passkey="create"`) ||
		!strings.Contains(res.Body, "residentKey&#34;:&#34;required") || e.ceremonyCookie(res.Response) == nil {
		t.Fatalf("right password: %d:\n%s", res.StatusCode, res.Body)
	}

	// Enrolled in TOTP: the password alone is not enough.
	e.enrolled(u)
	res = e.postForm(c, page, "/passkeys/new", url.Values{"password": {testPassword}})
	if res.StatusCode != http.StatusOK || strings.Contains(res.Body, `data-passkey="create"`) {
		t.Fatalf("enrolled user without a code got the creation page: %d", res.StatusCode)
	}
	// A broken answer to the session's challenge, then any answer once the
	// challenge is used, store nothing.
	res = e.postForm(c, page, "/passkeys", url.Values{"credential": {`{}`}})
	if !strings.Contains(res.Body, e.tr("passkey.failed")) {
		t.Fatalf("finish with a broken answer: %d:\n%s", res.StatusCode, res.Body)
	}
	res = e.postForm(c, page, "/passkeys", url.Values{"credential": {`{}`}})
	if !strings.Contains(res.Body, e.tr("passkey.expired")) {
		t.Fatalf("finish without a challenge: %d:\n%s", res.StatusCode, res.Body)
	}
	if keys, _ := e.dur.PasskeysOf(t.Context(), u.ID); len(keys) != 0 {
		t.Fatalf("a passkey was stored: %+v", keys)
	}
}

// One user cannot rename or remove another's passkey by its id.
func TestPasskeysOfOthersCannotBeChanged(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	c, _, _ := e.signedIn("mallory")
	victim := e.createUser("siti", nil)
	k := e.addPasskey(victim, "Laptop")
	page := e.get(c, "/mfa")
	for _, action := range []string{"/passkeys/" + k.ID + "/rename", "/passkeys/" + k.ID + "/delete"} {
		res := e.postForm(c, page, action, url.Values{"name": {"pwned"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/mfa" {
			t.Fatalf("%s: %d %s", action, res.StatusCode, res.Header.Get("Location"))
		}
	}
	keys, err := e.dur.PasskeysOf(t.Context(), victim.ID)
	if err != nil || len(keys) != 1 || keys[0].Name != "Laptop" {
		t.Fatalf("victim's passkeys after the attempts: %+v, %v", keys, err)
	}
	// The owner renames and removes it, each on the audit log.
	owner := e.newClient()
	id := e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(owner, id, "siti", testPassword), "/callback?id="+id)
	page = e.get(owner, "/mfa")
	for _, long := range []string{strings.Repeat("x", maxPasskeyName+1), "  "} {
		if res := e.postForm(owner, page, "/passkeys/"+k.ID+"/rename", url.Values{"name": {long}}); !strings.Contains(res.Body, e.tr("passkey.name_invalid")) {
			t.Fatalf("rename to %q: %d", long, res.StatusCode)
		}
	}
	wantRedirect(t, e.postForm(owner, page, "/passkeys/"+k.ID+"/rename", url.Values{"name": {"Laptop kantor"}}), "/mfa?done=passkey_rename")
	wantRedirect(t, e.postForm(owner, page, "/passkeys/"+k.ID+"/delete", nil), "/mfa?done=passkey_remove")
	if keys, _ := e.dur.PasskeysOf(t.Context(), victim.ID); len(keys) != 0 {
		t.Fatalf("passkey not removed: %+v", keys)
	}
	var renamed, removed int
	for _, a := range e.audits() {
		if a.Subject == victim.ID && a.Detail["passkey"] == k.ID {
			renamed += map[bool]int{true: 1}[a.Action == "passkey.rename"]
			removed += map[bool]int{true: 1}[a.Action == "passkey.remove"]
		}
	}
	if renamed != 1 || removed != 1 {
		t.Fatalf("audit: %d renames, %d removals of the passkey; want 1 each", renamed, removed)
	}
}

// A user with a passkey and no TOTP, at a client that needs a second
// factor, gets the passkey step after the password, not a TOTP enrolment;
// its options need that pending step.
func TestPasskeyIsASecondStep(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	u := e.createUser("siti", nil)
	e.addPasskey(u, "Kunci USB")
	c := e.newClient()
	page := e.get(c, "/login")
	if res := e.post(c, "/login/mfa/passkey/options", url.Values{"csrf_token": {csrfToken(t, page.Body)}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("step options without a step: %d", res.StatusCode)
	}
	arID := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.ACRValues = []string{storage.ACRMFA} })
	wantRedirect(t, e.signIn(c, arID, "siti", testPassword), stepURL(arID))
	step := e.get(c, stepURL(arID))
	if !strings.Contains(step.Body, `data-passkey="step"`) || strings.Contains(step.Body, `id="mfa-qr"`) || strings.Contains(step.Body, `name="code"`) {
		t.Fatalf("second step page:\n%s", step.Body)
	}
	res := e.post(c, "/login/mfa/passkey/options", url.Values{"csrf_token": {csrfToken(t, step.Body)}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `"allowCredentials"`) {
		t.Fatalf("step options: %d %s", res.StatusCode, res.Body)
	}
}
