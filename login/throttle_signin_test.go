package login

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
	"satupintu/storage"
	"satupintu/web/webtest"
)

// signInForm is the sign-in form as a browser holds it: the last page it
// got, whose CSRF token, action and challenge the next post uses.
type signInForm struct {
	e    *env
	c    *http.Client
	arID string
	page webtest.Response
}

// open loads the sign-in page of authorization request arID.
func (e *env) open(c *http.Client, arID string) *signInForm {
	e.t.Helper()
	path := "/login"
	if arID != "" {
		path += "?authRequestID=" + url.QueryEscape(arID)
	}
	f := &signInForm{e: e, c: c, arID: arID, page: e.get(c, path)}
	if f.page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d\n%s", path, f.page.StatusCode, f.page.Body)
	}
	return f
}

func (f *signInForm) post(extra url.Values) webtest.Response {
	f.e.t.Helper()
	m := formAction.FindStringSubmatch(f.page.Body)
	if m == nil {
		f.e.t.Fatalf("no form on the page:\n%s", f.page.Body)
	}
	form := url.Values{"csrf_token": {csrfToken(f.e.t, f.page.Body)}}
	if f.arID != "" {
		form.Set("authRequestID", f.arID)
	}
	for k, v := range extra {
		form[k] = v
	}
	f.page = f.e.post(f.c, html.UnescapeString(m[1]), form)
	return f.page
}

// hasCaptcha reports whether the current page asks for a challenge.
func (f *signInForm) hasCaptcha() bool { return captchatest.Has(f.page.Body) }

// switchTo presses "Use an image code" (or "New image"): the form comes
// back with a challenge of that kind.
func (f *signInForm) switchTo(kind captcha.Kind, username string) webtest.Response {
	f.e.t.Helper()
	form := url.Values{captcha.FieldSwitch: {string(kind)}, "username": {username}}
	if id := captchatest.ID(f.page.Body); id != "" {
		form.Set(captcha.FieldID, id)
	}
	return f.post(form)
}

// submit signs in with username and secret; with solve, it passes the
// page's check first, if there is one, as a browser with JavaScript does:
// the proof of work.
func (f *signInForm) submit(username, secret string, solve bool) webtest.Response {
	f.e.t.Helper()
	form := url.Values{"username": {username}, "password": {secret}}
	if solve && f.hasCaptcha() {
		for k, v := range captchatest.Form(f.e.t, f.page.Body) {
			form[k] = v
		}
	}
	return f.post(form)
}

func (e *env) audits() []storage.AuditEvent {
	e.t.Helper()
	events, err := e.dur.ListAudit(e.t.Context(), 0, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	return events
}

func (e *env) countAudit(action, reason string) int {
	n := 0
	for _, ev := range e.audits() {
		if ev.Action == action && (reason == "" || ev.Detail["reason"] == reason) {
			n++
		}
	}
	return n
}

func wantText(t *testing.T, res webtest.Response, status int, texts ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", res.StatusCode, status, res.Body)
	}
	for _, s := range texts {
		if !strings.Contains(res.Body, html.EscapeString(s)) {
			t.Fatalf("page lacks %q:\n%s", s, res.Body)
		}
	}
}

func (e *env) msg(key string, args ...any) string { return e.h.Pages.T("id", key, args...) }

func TestAdaptiveCaptchaAfterAccountFailures(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	id := e.newAuthRequest(nil)
	f := e.open(e.client, id)
	if f.hasCaptcha() {
		t.Fatal("CAPTCHA before any failure")
	}
	for i := 1; i <= 2; i++ {
		wantText(t, f.submit("budi", "salah", false), http.StatusOK, e.msg("login.bad_credentials"))
		if f.hasCaptcha() {
			t.Fatalf("CAPTCHA after %d failures", i)
		}
	}
	// The third failure brings the challenge: the proof of work, which the
	// page's own script does, with an image code for browsers without it.
	wantText(t, f.submit("budi", "salah", false), http.StatusOK, e.msg("login.bad_credentials"), e.msg("protection.captcha.legend"))
	if captchatest.Kind(f.page.Body) != captcha.Proof || !strings.Contains(f.page.Body, `<script src="/static/captcha.js?v=`) ||
		!strings.Contains(f.page.Body, `<noscript><button type="submit" name="captcha" value="image"`) {
		t.Fatalf("no proof-of-work challenge:\n%s", f.page.Body)
	}

	// Another browser, which never saw the challenge: the right password
	// alone is not enough now, and is not checked.
	other := e.open(e.newClient(), id)
	res := other.submit("budi", testPassword, false)
	wantText(t, res, http.StatusOK, e.msg("protection.captcha.required"))
	if e.sessionCookie(res) != nil || !other.hasCaptcha() {
		t.Fatalf("signed in without the CAPTCHA, or no challenge offered:\n%s", res.Body)
	}

	// A wrong number is refused, counted, and brings a new challenge.
	before := captchatest.Challenge(t, f.page.Body)
	wrong, err := captchatest.Solve(before)
	if err != nil {
		t.Fatal(err)
	}
	wrong.Number++
	res = f.post(url.Values{"username": {"budi"}, "password": {testPassword}, captcha.FieldProof: {wrong.Encode()}})
	wantText(t, res, http.StatusOK, e.msg("protection.captcha.wrong"))
	if e.sessionCookie(res) != nil || captchatest.Kind(res.Body) != captcha.Proof || captchatest.Challenge(t, res.Body).Challenge == before.Challenge {
		t.Fatalf("wrong CAPTCHA: signed in, or challenge not replaced:\n%s", res.Body)
	}

	// Solved, with the right password: signed in, and the count starts over.
	res = f.submit("budi", testPassword, true)
	wantRedirect(t, res, "/callback?id="+id)
	// (The address keeps its failures: seen from another one, budi is clean.)
	if need, err := e.h.throttle.NeedsCaptcha(t.Context(), "budi", "192.0.2.1"); err != nil || need {
		t.Error("the successful sign-in did not reset the account's failures")
	}
	if n := e.countAudit("login.failure", "captcha_failed"); n != 1 {
		t.Errorf("%d captcha_failed audits, want 1", n)
	}
}

func TestAdaptiveCaptchaAfterAddressFailures(t *testing.T) {
	e := newEnv(t, false)
	f := e.open(e.client, "")
	for _, name := range []string{"a", "b", "c", "d"} {
		f.submit(name, "salah", false)
	}
	if f.hasCaptcha() || e.open(e.newClient(), "").hasCaptcha() {
		t.Fatal("CAPTCHA after 4 failures from the address")
	}
	f.submit("e", "salah", false)
	if !f.hasCaptcha() {
		t.Fatal("no CAPTCHA after the 5th failure from the address")
	}
	// Even a fresh browser, for a name never tried, gets one on the form.
	fresh := e.open(e.newClient(), "")
	if !fresh.hasCaptcha() {
		t.Fatal("GET /login from the address shows no CAPTCHA")
	}
	e.createUser("siti", nil)
	wantText(t, fresh.submit("siti", testPassword, false), http.StatusOK, e.msg("protection.captcha.required"))
	if res := fresh.submit("siti", testPassword, true); e.sessionCookie(res) == nil {
		t.Fatalf("solved CAPTCHA and right password refused:\n%s", res.Body)
	}
}

func TestCaptchaModes(t *testing.T) {
	t.Run("always: every sign-in", func(t *testing.T) {
		e := newEnv(t, false)
		e.h.Captcha.Mode = captcha.Always
		e.createUser("budi", nil)
		f := e.open(e.client, "")
		if !f.hasCaptcha() {
			t.Fatal("no CAPTCHA on the first form")
		}
		wantText(t, f.post(url.Values{"username": {"budi"}, "password": {testPassword}}), http.StatusOK, e.msg("protection.captcha.required"))
		res := f.submit("budi", testPassword, true)
		wantRedirect(t, res, "/")
	})
	t.Run("off: never", func(t *testing.T) {
		e := newEnv(t, false)
		e.h.Captcha.Mode = captcha.Off
		e.createUser("budi", nil)
		f := e.open(e.client, "")
		for range 6 {
			f.submit("budi", "salah", false)
		}
		if f.hasCaptcha() {
			t.Fatal("CAPTCHA although off")
		}
		// The throttle still holds: the 6th failure spaces attempts.
		wantText(t, f.submit("budi", testPassword, false), http.StatusTooManyRequests)
	})
}

// A solution is good for one sign-in attempt, on the sign-in form only.
func TestCaptchaSolutionIsSingleUseAndForSignInOnly(t *testing.T) {
	e := newEnv(t, false)
	e.h.Captcha.Mode = captcha.Always
	e.createUser("budi", nil)
	f := e.open(e.client, "")
	proof := captchatest.Proof(t, f.page.Body)
	wantText(t, f.post(url.Values{"username": {"budi"}, "password": {"salah"}, captcha.FieldProof: {proof}}), http.StatusOK, e.msg("login.bad_credentials"))
	res := f.post(url.Values{"username": {"budi"}, "password": {testPassword}, captcha.FieldProof: {proof}})
	wantText(t, res, http.StatusOK, e.msg("protection.captcha.wrong"))
	if e.sessionCookie(res) != nil {
		t.Fatal("a replayed solution signed in")
	}

	// The registration form's challenge, solved, is refused here.
	c, err := e.h.Captcha.New(t.Context(), captcha.Registration, captcha.Proof)
	if err != nil {
		t.Fatal(err)
	}
	var pc captcha.ProofChallenge
	if err := json.Unmarshal([]byte(c.Proof), &pc); err != nil {
		t.Fatal(err)
	}
	sol, err := captchatest.Solve(pc)
	if err != nil {
		t.Fatal(err)
	}
	res = f.post(url.Values{"username": {"budi"}, "password": {testPassword}, captcha.FieldProof: {sol.Encode()}})
	wantText(t, res, http.StatusOK, e.msg("protection.captcha.wrong"))
	if e.sessionCookie(res) != nil {
		t.Fatal("registration's challenge passed the sign-in form")
	}
	if n := e.countAudit("login.failure", "captcha_failed"); n != 2 {
		t.Errorf("%d captcha_failed audits, want 2", n)
	}
	wantRedirect(t, f.submit("budi", testPassword, true), "/")
}

// Without JavaScript the person asks for an image code instead; "New
// image" draws another. Neither checks nor counts anything.
func TestCaptchaSwitchKeepsTheNameAndCountsNothing(t *testing.T) {
	e := newEnv(t, false)
	e.h.Captcha.Mode = captcha.Always
	f := e.open(e.client, "")
	if captchatest.Kind(f.page.Body) != captcha.Proof {
		t.Fatalf("the first challenge is not the proof of work:\n%s", f.page.Body)
	}
	res := f.switchTo(captcha.Image, "budi@example.co.id")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `value="budi@example.co.id"`) {
		t.Fatalf("name not kept: %d\n%s", res.StatusCode, res.Body)
	}
	first := captchatest.ID(res.Body)
	if captchatest.Kind(res.Body) != captcha.Image || first == "" || !strings.Contains(res.Body, `<img class="captcha-image" src="/captcha/`+first+`.png"`) {
		t.Fatalf("no image code:\n%s", res.Body)
	}
	if !strings.Contains(res.Body, `>Gambar lain</button>`) || strings.Contains(res.Body, "captcha.js") {
		t.Errorf("image code without its button, or with the script:\n%s", res.Body)
	}
	// "New image": another one, still an image.
	res = f.post(url.Values{captcha.FieldSwitch: {"new"}, captcha.FieldKind: {"image"}, captcha.FieldID: {first}})
	second := captchatest.ID(res.Body)
	if captchatest.Kind(res.Body) != captcha.Image || second == first {
		t.Fatalf("no other image:\n%s", res.Body)
	}
	// The replaced image is used up.
	if ok, _ := e.h.Captcha.Verify(t.Context(), captcha.SignIn, captcha.Answer{ID: first, Code: "ACDEF"}); ok {
		t.Errorf("replaced challenge %s still answerable", first)
	}
	if got := e.audits(); len(got) != 0 {
		t.Errorf("switching was audited or counted: %v", got)
	}
	// The image is served from this handler set.
	img := e.get(e.client, regexp.MustCompile(`src="(/captcha/[a-z0-9]+\.png)"`).FindStringSubmatch(res.Body)[1])
	if img.StatusCode != http.StatusOK || img.Header.Get("Content-Type") != "image/png" {
		t.Errorf("image: %d %s", img.StatusCode, img.Header.Get("Content-Type"))
	}
}

// failUntilLocked fails ten times for name, answering challenges and
// waiting out the growing delays, and returns the form.
func failUntilLocked(t *testing.T, e *env, name string) *signInForm {
	t.Helper()
	f := e.open(e.newClient(), "")
	for i := 1; i <= 10; i++ {
		res := f.submit(name, "salah", true)
		wantText(t, res, http.StatusOK, e.msg("login.bad_credentials"))
		if d := DefaultThrottlePolicy.Account.Delay(int64(i)); d > 0 && i < 10 {
			// Right away, the next attempt is refused with the time left
			// in the period (periods are aligned to the clock), its
			// password unchecked.
			left := d - time.Duration(e.clock.Now().UnixNano()%int64(d))
			secs := int(left / time.Second)
			res := f.submit(name, testPassword, true)
			wantText(t, res, http.StatusTooManyRequests, e.msg("protection.throttled", secs))
			if res.Header.Get("Retry-After") != strconv.Itoa(secs) || e.sessionCookie(res) != nil {
				t.Fatalf("throttled: Retry-After %q, want %d", res.Header.Get("Retry-After"), secs)
			}
			e.clock.Advance(left)
		}
	}
	return f
}

func TestLockoutRefusesEvenTheRightPassword(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	f := failUntilLocked(t, e, "budi")
	if n := e.countAudit("login.locked", ""); n != 1 {
		t.Fatalf("%d login.locked audits, want 1", n)
	}
	locked := e.msg("protection.locked", 15)
	id := e.newAuthRequest(nil)
	g := e.open(e.newClient(), id)
	res := g.submit("budi", testPassword, true)
	wantText(t, res, http.StatusTooManyRequests, locked)
	if e.sessionCookie(res) != nil || e.authRequest(id).Done || res.Header.Get("Retry-After") != "900" {
		t.Fatal("the right password signed in a locked account")
	}
	if strings.Contains(res.Body, e.msg("login.bad_credentials")) {
		t.Error("locked page also says the password was wrong")
	}
	if e.countAudit("login.failure", "locked") != 1 {
		t.Error("refused attempt not audited")
	}
	// The email is another name for the same account, with its own count.
	if res := f.submit(u.Email, testPassword, true); e.sessionCookie(res) == nil {
		t.Fatalf("email sign-in refused:\n%s", res.Body)
	}

	// An administrator lifts the lock.
	if err := (&Throttle{Counters: e.eph, Now: e.clock.Now}).Unlock(t.Context(), u.Username, u.Email); err != nil {
		t.Fatal(err)
	}
	res = g.submit("budi", testPassword, true)
	wantRedirect(t, res, "/callback?id="+id)
}

func TestLockoutEndsByItself(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	f := failUntilLocked(t, e, "budi")
	e.clock.Advance(DefaultThrottlePolicy.LockFor)
	if res := f.submit("budi", testPassword, true); e.sessionCookie(res) == nil {
		t.Fatalf("still locked after %v:\n%s", DefaultThrottlePolicy.LockFor, res.Body)
	}
}

// Unknown login names are counted, delayed, challenged and locked exactly
// like real ones: the pages cannot tell them apart (ASVS 6.3.8).
func TestUnknownAccountsBehaveLikeKnownOnes(t *testing.T) {
	volatile := regexp.MustCompile(`value="[^"]*"|data-challenge="[^"]*"|/captcha/[a-z0-9]+\.png`)
	run := func(name string) []string {
		e := newEnv(t, false)
		e.createUser("budi", nil)
		f := e.open(e.client, "")
		var pages []string
		add := func(res webtest.Response) {
			pages = append(pages, res.Status+"\n"+volatile.ReplaceAllString(res.Body, "…"))
		}
		for i := 1; i <= 11; i++ {
			add(f.submit(name, "salah", true))
			if d := DefaultThrottlePolicy.Account.Delay(int64(i)); d > 0 {
				add(f.submit(name, "salah", true)) // too soon
				e.clock.Advance(d)
			}
		}
		add(f.submit(name, testPassword, true)) // locked
		return pages
	}
	known, unknown := run("budi"), run("nobody")
	if len(known) != len(unknown) {
		t.Fatalf("%d pages vs %d", len(known), len(unknown))
	}
	for i := range known {
		if diff := cmp.Diff(strings.ReplaceAll(known[i], "budi", "NAME"), strings.ReplaceAll(unknown[i], "nobody", "NAME")); diff != "" {
			t.Fatalf("page %d differs (-known +unknown):\n%s", i, diff)
		}
	}
	if !strings.Contains(known[len(known)-1], "429") {
		t.Fatalf("the last attempt was not refused:\n%s", known[len(known)-1])
	}
}
