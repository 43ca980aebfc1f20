package login

import (
	"bytes"
	"encoding/base32"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"satupintu/storage"
	"satupintu/totp"
	"satupintu/web/webtest"
)

// testMFAKey seals TOTP secrets in the tests.
var testMFAKey = bytes.Repeat([]byte{0x5a}, totp.KeySize)

var (
	secretText    = regexp.MustCompile(`<code id="mfa-secret">([A-Z2-7 ]+)</code>`)
	recoveryCodes = regexp.MustCompile(`<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})</code></li>`)
	continueLink  = regexp.MustCompile(`<a class="button" href="([^"]+)" id="recovery-saved">`)
)

// enrolled gives u a second factor directly in storage, as a confirmed
// enrolment would, and returns the secret and the recovery codes.
func (e *env) enrolled(u storage.User) ([]byte, []string) {
	e.t.Helper()
	secret := totp.NewSecret()
	sealed, err := totp.Seal(testMFAKey, secret, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, hashes, err := totp.NewRecoveryCodes(cheap)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.dur.UpdateUser(e.t.Context(), u.ID, func(cur *storage.User) error {
		cur.TOTPSecret, cur.MFAEnrolledAt, cur.RecoveryCodes = sealed, e.clock.Now(), hashes
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, codes
}

func (e *env) user(id string) storage.User {
	e.t.Helper()
	u, err := e.dur.UserByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// postForm posts fields with the CSRF token of page to action.
func (e *env) postForm(c *http.Client, page webtest.Response, action string, fields url.Values) webtest.Response {
	e.t.Helper()
	form := url.Values{"csrf_token": {csrfToken(e.t, page.Body)}}
	for k, v := range fields {
		form[k] = v
	}
	return e.post(c, action, form)
}

// submitCode answers the second step's page with code.
func (e *env) submitCode(c *http.Client, arID, code string) webtest.Response {
	e.t.Helper()
	page := e.get(c, stepURL(arID))
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET second step: %d\n%s", page.StatusCode, page.Body)
	}
	m := formAction.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("no form on the second step:\n%s", page.Body)
	}
	return e.postForm(c, page, html.UnescapeString(m[1]), url.Values{"code": {code}})
}

func wantStep(t *testing.T, e *env, res webtest.Response, arID string) {
	t.Helper()
	wantRedirect(t, res, stepURL(arID))
	if e.sessionCookie(res) != nil {
		t.Fatal("a session cookie was set before the second factor")
	}
}

func wantBody(t *testing.T, res webtest.Response, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(res.Body, w) {
			t.Errorf("page lacks %q (status %d)\n%s", w, res.StatusCode, res.Body)
		}
	}
}

// tr is the Indonesian text of key, as the pages show by default.
func (e *env) tr(key string, args ...any) string {
	return html.EscapeString(e.h.Pages.T("id", key, args...))
}

func TestMFASignInWithCode(t *testing.T) {
	e := newEnv(t, true)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	id := e.newAuthRequest(nil)

	res := e.signIn(e.client, id, "budi", testPassword)
	wantStep(t, e, res, id)
	if e.authRequest(id).Done {
		t.Fatal("request done after the password alone")
	}
	for _, c := range res.Cookies() {
		if c.Name == "__Host-satupintu_mfa" && (!c.HttpOnly || !c.Secure || c.MaxAge != 300) {
			t.Errorf("step cookie %+v", c)
		}
	}

	page := e.get(e.client, stepURL(id))
	wantBody(t, page, `name="code"`, `autocomplete="one-time-code"`, clientName, e.tr("mfa.use_recovery"))
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}

	wrong := "000000"
	if _, ok := totp.Match(secret, wrong, e.clock.Now()); ok {
		wrong = "999999" // one in 333,333: both cannot be in the window
	}
	res = e.submitCode(e.client, id, wrong)
	wantBody(t, res, e.tr("mfa.code_wrong"))

	res = e.submitCode(e.client, id, totp.Code(secret, e.clock.Now()))
	wantRedirect(t, res, "/callback?id="+id)
	if e.sessionCookie(res) == nil {
		t.Fatal("no session after the second factor")
	}
	ar := e.authRequest(id)
	if diff := cmp.Diff([]string{"pwd", "otp", "mfa"}, ar.AMR); !ar.Done || diff != "" {
		t.Fatalf("done %v, amr (-want +got):\n%s", ar.Done, diff)
	}
	if got := e.auditActions(); !slices.Contains(got, "login.success ") || !slices.Contains(got, "login.failure mfa_wrong_code") {
		t.Errorf("audit %v", got)
	}

	// The step is over: its page leads back to the password.
	wantRedirect(t, e.get(e.client, stepURL("")), "/login")
}

func TestMFACodeIsSingleUse(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	code := totp.Code(secret, e.clock.Now())

	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	wantRedirect(t, e.submitCode(e.client, id, code), "/callback?id="+id)

	// Someone who saw the code and knows the password, a moment later.
	other := e.newClient()
	id2 := e.newAuthRequest(nil)
	e.clock.Advance(10 * time.Second)
	wantStep(t, e, e.signIn(other, id2, "budi", testPassword), id2)
	res := e.submitCode(other, id2, code)
	wantBody(t, res, e.tr("mfa.code_used"))
	if e.authRequest(id2).Done {
		t.Fatal("a used code completed a request")
	}
}

func TestMFARecoveryCodeIsSingleUse(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	_, codes := e.enrolled(u)

	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	// Typed in lower case with a space instead of the dash.
	wantRedirect(t, e.submitCode(e.client, id, strings.ToLower(strings.Replace(codes[4], "-", " ", 1))), "/callback?id="+id)
	if got := e.authRequest(id).AMR; !slices.Contains(got, "mfa") {
		t.Fatalf("amr %v", got)
	}
	if n := len(e.user(u.ID).RecoveryCodes); n != 9 {
		t.Fatalf("%d recovery codes left, want 9", n)
	}

	other := e.newClient()
	id2 := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(other, id2, "budi", testPassword), id2)
	wantBody(t, e.submitCode(other, id2, codes[4]), e.tr("mfa.code_wrong"))
	wantRedirect(t, e.submitCode(other, id2, codes[5]), "/callback?id="+id2)
}

func TestMFAWrongCodesEndTheStep(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	wrong := "123456"
	if _, ok := totp.Match(secret, wrong, e.clock.Now()); ok {
		wrong = "654321"
	}
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	for i := range 4 {
		res := e.submitCode(e.client, id, wrong)
		if !strings.Contains(res.Body, e.tr("mfa.code_wrong")) {
			t.Fatalf("attempt %d:\n%s", i+1, res.Body)
		}
	}
	res := e.submitCode(e.client, id, wrong)
	wantForm(t, res)
	wantBody(t, res, e.tr("mfa.too_many"))

	// The step is gone, and the password does not open a new one for a while.
	wantRedirect(t, e.get(e.client, stepURL(id)), "/login?authRequestID="+id)
	res = e.signIn(e.client, id, "budi", testPassword)
	wantForm(t, res)
	wantBody(t, res, e.tr("mfa.too_many"))

	e.clock.Advance(16 * time.Minute)
	id = e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	wantRedirect(t, e.submitCode(e.client, id, totp.Code(secret, e.clock.Now())), "/callback?id="+id)
}

func TestMFAStepExpires(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	page := e.get(e.client, stepURL(id))

	e.clock.Advance(mfaStepTTL + time.Second)
	res := e.postForm(e.client, page, stepURL(id), url.Values{"code": {totp.Code(secret, e.clock.Now())}, "authRequestID": {id}})
	wantForm(t, res)
	wantBody(t, res, e.tr("mfa.step_expired"))
	if e.authRequest(id).Done {
		t.Fatal("an expired step completed the request")
	}
}

func TestMFAStepNeedsItsCookie(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)

	// Another browser with the request id but not the step's cookie.
	other := e.newClient()
	page := e.get(other, "/login?authRequestID="+id)
	res := e.postForm(other, page, stepURL(id), url.Values{"code": {totp.Code(secret, e.clock.Now())}, "authRequestID": {id}})
	wantForm(t, res)
	if e.authRequest(id).Done {
		t.Fatal("the step was finished from another browser")
	}
}

func TestMFAOwnSignIn(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, _ := e.enrolled(u)
	wantStep(t, e, e.signIn(e.client, "", "budi", testPassword), "")
	if res := e.get(e.client, "/"); strings.Contains(res.Body, "Siti budi") {
		t.Fatal("signed in after the password alone")
	}
	wantRedirect(t, e.submitCode(e.client, "", totp.Code(secret, e.clock.Now())), "/")
	wantBody(t, e.get(e.client, "/"), "Siti budi")
}

func TestMFAEnrolment(t *testing.T) {
	e := newEnv(t, false)
	c, u, _ := e.signedIn("budi")

	page := e.get(c, "/mfa")
	wantBody(t, page, e.tr("mfa.status_off"), `action="/mfa/enroll"`)
	// GET changes nothing; the start is a POST with CSRF.
	wantRedirect(t, e.get(c, "/mfa/enroll"), "/mfa")
	if res := e.post(c, "/mfa/enroll", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("enrol without CSRF: %d", res.StatusCode)
	}
	wantRedirect(t, e.postForm(c, page, "/mfa/enroll", nil), "/mfa/enroll")

	page = e.get(c, "/mfa/enroll")
	wantBody(t, page, `<img src="data:image/png;base64,`, `id="mfa-secret"`, `name="password"`, `action="/mfa/confirm"`)
	m := secretText.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", page.Body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil || len(secret) != totp.SecretSize {
		t.Fatalf("secret %q: %v", m[1], err)
	}
	if stored := e.user(u.ID); stored.MFAEnrolled() {
		t.Fatal("enrolled before the confirmation")
	}

	// The password is asked too; a wrong one stores nothing.
	res := e.postForm(c, page, "/mfa/confirm", url.Values{"password": {"salah"}, "code": {totp.Code(secret, e.clock.Now())}})
	wantBody(t, res, e.tr("mfa.password_wrong"))
	if stored := e.user(u.ID); stored.MFAEnrolled() {
		t.Fatal("enrolled with a wrong password")
	}
	e.clock.Advance(totp.Period)
	res = e.postForm(c, res, "/mfa/confirm", url.Values{"password": {testPassword}, "code": {totp.Code(secret, e.clock.Now())}})
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("confirm: %d %v\n%s", res.StatusCode, res.Header, res.Body)
	}
	codes := recoveryCodes.FindAllStringSubmatch(res.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), res.Body)
	}
	if m := continueLink.FindStringSubmatch(res.Body); m == nil || html.UnescapeString(m[1]) != "/mfa?done=enrolled" {
		t.Fatalf("continue link %v", m)
	}

	stored := e.user(u.ID)
	if !stored.MFAEnrolled() || len(stored.RecoveryCodes) != 10 {
		t.Fatalf("stored %+v", stored)
	}
	if bytes.Contains(stored.TOTPSecret, secret) {
		t.Fatal("the secret is stored in clear")
	}
	if opened, err := totp.Open(testMFAKey, stored.TOTPSecret, u.ID); err != nil || !bytes.Equal(opened, secret) {
		t.Fatalf("stored secret opens to %x, %v", opened, err)
	}
	for i, h := range stored.RecoveryCodes {
		if strings.Contains(h, codes[i][1]) || strings.Contains(h, strings.ReplaceAll(codes[i][1], "-", "")) {
			t.Fatalf("recovery code %d stored in clear", i)
		}
	}

	// Shown once: neither the status page nor the enrolment page repeats them.
	page = e.get(c, "/mfa?done=enrolled")
	wantBody(t, page, e.tr("mfa.enrolled_notice"), e.tr("mfa.recovery_left", 10))
	for _, p := range []webtest.Response{page, e.get(c, "/mfa/enroll")} {
		if strings.Contains(p.Body, codes[0][1]) {
			t.Fatal("a recovery code is shown again")
		}
	}

	// The next sign-in asks for a code, and a recovery code works.
	other := e.newClient()
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(other, id, "budi", testPassword), id)
	wantRedirect(t, e.submitCode(other, id, codes[0][1]), "/callback?id="+id)
}

func TestMFAEnrolmentNeedsTheSameSession(t *testing.T) {
	e := newEnv(t, false)
	c, _, _ := e.signedIn("budi")
	page := e.get(c, "/mfa")
	wantRedirect(t, e.postForm(c, page, "/mfa/enroll", nil), "/mfa/enroll")

	// A second session of the same user has no pending secret.
	c2 := e.newClient()
	wantRedirect(t, e.signIn(c2, "", "budi", testPassword), "/")
	wantRedirect(t, e.get(c2, "/mfa/enroll"), "/mfa")
	// And signed out, the pages lead to the sign-in.
	wantRedirect(t, e.get(e.newClient(), "/mfa"), "/login")
}

func TestMFADisableNeedsPasswordAndCode(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, codes := e.enrolled(u)
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	wantRedirect(t, e.submitCode(e.client, id, totp.Code(secret, e.clock.Now())), "/callback?id="+id)

	page := e.get(e.client, "/mfa")
	wantBody(t, page, `action="/mfa/disable"`, `formaction="/mfa/recovery"`)
	e.clock.Advance(totp.Period)
	code := totp.Code(secret, e.clock.Now())
	for _, tc := range []struct {
		name     string
		password string
		code     string
		key      string
	}{
		{"wrong password", "salah", code, "mfa.password_wrong"},
		{"no code", testPassword, "", "mfa.code_wrong"},
		{"wrong code", testPassword, "12345", "mfa.code_wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.postForm(e.client, page, "/mfa/disable", url.Values{"password": {tc.password}, "code": {tc.code}})
			wantBody(t, res, e.tr(tc.key))
			if stored := e.user(u.ID); !stored.MFAEnrolled() {
				t.Fatal("disabled")
			}
		})
	}
	if res := e.post(e.client, "/mfa/disable", url.Values{"password": {testPassword}, "code": {code}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", res.StatusCode)
	}

	// New recovery codes replace the old ones, shown once.
	res := e.postForm(e.client, page, "/mfa/recovery", url.Values{"password": {testPassword}, "code": {codes[1]}})
	fresh := recoveryCodes.FindAllStringSubmatch(res.Body, -1)
	if len(fresh) != 10 {
		t.Fatalf("%d new codes:\n%s", len(fresh), res.Body)
	}
	if _, err := totp.MatchRecoveryCode(codes[2], e.user(u.ID).RecoveryCodes); err != nil {
		t.Fatal(err)
	} else if i, _ := totp.MatchRecoveryCode(codes[2], e.user(u.ID).RecoveryCodes); i >= 0 {
		t.Fatal("an old recovery code survived the renewal")
	}

	wantRedirect(t, e.postForm(e.client, page, "/mfa/disable", url.Values{"password": {testPassword}, "code": {code}}), "/mfa?done=disabled")
	stored := e.user(u.ID)
	if stored.MFAEnrolled() || len(stored.TOTPSecret) != 0 || len(stored.RecoveryCodes) != 0 {
		t.Fatalf("after disable: %+v", stored)
	}
	wantBody(t, e.get(e.client, "/mfa?done=disabled"), e.tr("mfa.disabled_notice"), e.tr("mfa.status_off"))
	// The password alone signs in again.
	id = e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(e.newClient(), id, "budi", testPassword), "/callback?id="+id)
}

func TestClientRequiringMFALeadsToEnrolment(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	if err := e.dur.UpdateClient(t.Context(), clientID, func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)

	page := e.get(e.client, stepURL(id))
	wantBody(t, page, e.tr("mfa.required_client", clientName), `<img src="data:image/png;base64,`)
	if strings.Contains(page.Body, `name="password"`) {
		t.Error("the password is asked again right after it was given")
	}
	m := secretText.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret:\n%s", page.Body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}

	res := e.postForm(e.client, page, stepURL(id), url.Values{"code": {"99999x"}})
	wantBody(t, res, e.tr("mfa.code_wrong"), `<img src="data:image/png;base64,`)
	res = e.postForm(e.client, res, stepURL(id), url.Values{"code": {totp.Code(secret, e.clock.Now())}})
	if len(recoveryCodes.FindAllStringSubmatch(res.Body, -1)) != 10 {
		t.Fatalf("no recovery codes:\n%s", res.Body)
	}
	if m := continueLink.FindStringSubmatch(res.Body); m == nil || html.UnescapeString(m[1]) != "/callback?id="+id {
		t.Fatalf("continue link %v", m)
	}
	if e.sessionCookie(res) == nil {
		t.Fatal("no session")
	}
	ar := e.authRequest(id)
	if !ar.Done || !slices.Contains(ar.AMR, "mfa") {
		t.Fatalf("request %+v", ar)
	}
	if stored := e.user(u.ID); !stored.MFAEnrolled() {
		t.Fatal("not enrolled")
	}
}

func TestSessionWithoutMFANotReused(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	id := e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(e.client, id, "budi", testPassword), "/callback?id="+id)

	// acr_values asking for MFA: the password-only session does not answer.
	id2 := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.ACRValues = []string{storage.ACRMFA} })
	wantForm(t, e.get(e.client, "/login?authRequestID="+id2))
	if e.authRequest(id2).Done {
		t.Fatal("completed by a session without a second factor")
	}
	// Nor does it for a client that requires MFA.
	if err := e.dur.UpdateClient(t.Context(), clientID, func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	id3 := e.newAuthRequest(nil)
	wantForm(t, e.get(e.client, "/login?authRequestID="+id3))

	// After the second factor, the session serves such requests.
	secret, _ := e.enrolled(u)
	wantStep(t, e, e.signIn(e.client, id3, "budi", testPassword), id3)
	wantRedirect(t, e.submitCode(e.client, id3, totp.Code(secret, e.clock.Now())), "/callback?id="+id3)
	wantRedirect(t, e.get(e.client, "/login?authRequestID="+id2), "/callback?id="+id2)
	if ar := e.authRequest(id2); !ar.Done || !slices.Contains(ar.AMR, "mfa") {
		t.Fatalf("request %+v", ar)
	}
}

func TestUsableForACR(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	pwd := storage.Session{UserID: "u", AuthTime: now, AMR: []string{"pwd"}}
	mfa := storage.Session{UserID: "u", AuthTime: now, AMR: []string{"pwd", "otp", "mfa"}}
	for _, tc := range []struct {
		name string
		acr  []string
		s    storage.Session
		want bool
	}{
		{"no acr_values, password session", nil, pwd, true},
		{"pwd class, password session", []string{storage.ACRPassword}, pwd, true},
		{"mfa class, password session", []string{storage.ACRMFA}, pwd, false},
		{"mfa among others, password session", []string{storage.ACRPassword, storage.ACRMFA}, pwd, false},
		{"mfa class, mfa session", []string{storage.ACRMFA}, mfa, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := usableFor(storage.AuthRequest{ACRValues: tc.acr}, tc.s, now); got != tc.want {
				t.Fatalf("usableFor = %v, want %v", got, tc.want)
			}
		})
	}
}
