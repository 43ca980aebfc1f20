package login

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/securecookie"

	"satupintu/storage"
	"satupintu/web/webtest"
)

// deviceCookie returns the device cookie res set, if any.
func (e *env) deviceCookie(res webtest.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == e.h.deviceCookieName() {
			return c
		}
	}
	return nil
}

// signedInBefore is a browser that signed in to name with the right
// password and whose session has since ended (as after a working day): it
// keeps only its device cookie.
func (e *env) signedInBefore(name string) *http.Client {
	e.t.Helper()
	c := e.newClient()
	res := e.open(c, "").submit(name, testPassword, true)
	wantRedirect(e.t, res, "/")
	if e.deviceCookie(res) == nil {
		e.t.Fatalf("a successful sign-in set no device cookie")
	}
	e.setCookie(c, &http.Cookie{Name: e.h.cookieName(), Value: "", Path: "/", MaxAge: -1})
	return c
}

// setCookie puts cookie in c's jar for the test server, as a browser that
// received it would hold it.
func (e *env) setCookie(c *http.Client, cookie *http.Cookie) {
	e.t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Jar.SetCookies(u, []*http.Cookie{cookie})
}

// jarCookie is the cookie named name in c's jar for the test server.
func (e *env) jarCookie(c *http.Client, name string) *http.Cookie {
	e.t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// failTenTimes fails name's sign-in ten times from c, answering challenges
// and waiting out the delays on the test clock, and returns the form.
func failTenTimes(t *testing.T, e *env, c *http.Client, name string) *signInForm {
	t.Helper()
	f := e.open(c, "")
	for i := int64(1); i <= 10; i++ {
		wantText(t, f.submit(name, "salah", true), http.StatusOK, e.msg("login.bad_credentials"))
		e.clock.Advance(DefaultThrottlePolicy.Device.Delay(i)) // same as the account's
	}
	return f
}

// signsIn signs in as name with the right password from c, answering any
// challenge, and reports whether a session began.
func (e *env) signsIn(c *http.Client, name string) (webtest.Response, bool) {
	e.t.Helper()
	res := e.open(c, "").submit(name, testPassword, true)
	return res, res.StatusCode == http.StatusSeeOther && e.sessionCookie(res) != nil
}

func TestDeviceCookieIsIssuedOnEverySuccess(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			e := newEnv(t, secure)
			e.createUser("budi", nil)
			c := e.newClient()
			res := e.open(c, "").submit("budi", testPassword, true)
			first := e.deviceCookie(res)
			if first == nil {
				t.Fatalf("no device cookie after a correct password: %v", res.Header["Set-Cookie"])
			}
			wantName := map[bool]string{false: "satupintu_device", true: "__Host-satupintu_device"}[secure]
			if first.Name != wantName || !first.HttpOnly || first.Secure != secure || first.SameSite != http.SameSiteLaxMode ||
				first.Path != "/" || first.Domain != "" || first.MaxAge != int(DeviceCookieTTL/time.Second) {
				t.Errorf("device cookie %+v: want %s, HttpOnly, SameSite=Lax, Path=/, Max-Age a year, Secure only under https", first, wantName)
			}
			// A failure sets none; the next success a new one.
			e.setCookie(c, &http.Cookie{Name: e.h.cookieName(), Value: "", Path: "/", MaxAge: -1})
			if res := e.open(c, "").submit("budi", "salah", true); e.deviceCookie(res) != nil {
				t.Error("a failed sign-in set a device cookie")
			}
			res = e.open(c, "").submit("budi", testPassword, true)
			if again := e.deviceCookie(res); again == nil || again.Value == first.Value {
				t.Error("the next success did not renew the device cookie")
			}
		})
	}
}

// OWASP's device cookies: an attacker's failures lock the account for
// unknown devices only; the owner's browser that signed in before still
// gets in with the right password.
func TestLockoutSparesTheOwnersDevice(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	e.createUser("siti", nil)
	owner := e.signedInBefore("budi")
	sitisBrowser := e.signedInBefore("siti")
	laterOwner := e.signedInBefore("budi") // a second browser of budi's

	// (a) The attacker's failures lock budi for unknown devices.
	failUntilLocked(t, e, "budi")
	locked := e.msg("protection.locked", 15)
	if res, ok := e.signsIn(e.newClient(), "budi"); ok {
		t.Fatal("an unknown device signed in to a locked account")
	} else {
		wantText(t, res, http.StatusTooManyRequests, locked)
	}

	// (b) The owner's device signs in during the lock.
	id := e.newAuthRequest(nil)
	res := e.open(owner, id).submit("budi", testPassword, true)
	wantRedirect(t, res, "/callback?id="+id)
	if e.sessionCookie(res) == nil || !e.authRequest(id).Done {
		t.Fatal("the owner's device did not get a session")
	}
	// ... with the same email, the other name of the account.
	e.setCookie(laterOwner, &http.Cookie{Name: e.h.cookieName(), Value: "", Path: "/", MaxAge: -1})
	if _, ok := e.signsIn(laterOwner, u.Email); !ok {
		t.Fatal("the owner's device refused by email")
	}
	// The owner signing in did not lift the lock for the attacker.
	if res, ok := e.signsIn(e.newClient(), "budi"); ok || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the owner's sign-in unlocked budi for unknown devices: %d", res.StatusCode)
	}

	// (c) A device trusted for another account is unknown for this one.
	res, ok := e.signsIn(sitisBrowser, "budi")
	if ok {
		t.Fatal("siti's device cookie opened budi's locked account")
	}
	wantText(t, res, http.StatusTooManyRequests, locked)

	// (d) A tampered or forged device cookie is ignored.
	real := e.jarCookie(owner, e.h.deviceCookieName())
	if real == nil {
		t.Fatal("the owner's browser lost its device cookie")
	}
	forger := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	forged, err := forger.Encode(e.h.deviceCookieName(), deviceCookie{Account: deviceAccount(u.ID), Nonce: "forged", Issued: e.clock.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(real.Value)
	tampered[len(tampered)/2] ^= 1
	for name, value := range map[string]string{"tampered": string(tampered), "forged": forged, "empty": ""} {
		c := e.newClient()
		e.setCookie(c, &http.Cookie{Name: e.h.deviceCookieName(), Value: value, Path: "/"})
		if res, ok := e.signsIn(c, "budi"); ok || res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s device cookie: %d, want the lock", name, res.StatusCode)
		}
	}
	// Nor is the session cookie, authentic as it is.
	c := e.newClient()
	sess := e.jarCookie(owner, e.h.cookieName())
	e.setCookie(c, &http.Cookie{Name: e.h.deviceCookieName(), Value: sess.Value, Path: "/"})
	if res, ok := e.signsIn(c, "budi"); ok || res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a session cookie as the device cookie: %d, want the lock", res.StatusCode)
	}
}

// (e) Failures that carry a valid device cookie are counted against that
// device and lock it alone: not the account, not the owner's other devices.
func TestFailuresOnATrustedDeviceLockOnlyThatDevice(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	stolen := e.signedInBefore("budi") // say, a cookie copied off a shared computer
	owner := e.signedInBefore("budi")

	f := failTenTimes(t, e, stolen, "budi")
	res := f.submit("budi", testPassword, true)
	wantText(t, res, http.StatusTooManyRequests, e.msg("protection.locked", 15))
	if e.sessionCookie(res) != nil {
		t.Fatal("a locked device signed in")
	}
	var scopes []string
	for _, ev := range e.audits() {
		if ev.Action == "login.locked" {
			scopes = append(scopes, ev.Detail["scope"])
		}
	}
	if len(scopes) != 1 || scopes[0] != "device" {
		t.Errorf("login.locked scopes %v, want [device]", scopes)
	}

	if _, ok := e.signsIn(owner, "budi"); !ok {
		t.Error("the account's other trusted device was locked too")
	}
	if _, ok := e.signsIn(e.newClient(), "budi"); !ok {
		t.Error("the device's failures locked the account for unknown devices")
	}
	// The lock ends by itself.
	e.clock.Advance(DefaultThrottlePolicy.LockFor)
	if _, ok := e.signsIn(stolen, "budi"); !ok {
		t.Error("the device is still locked after LockFor")
	}
}

// A device cookie vouches for a year from the sign-in that issued it.
func TestDeviceCookieExpires(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	owner := e.signedInBefore("budi")
	issued := e.clock.Now()
	r, err := http.NewRequest(http.MethodGet, e.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AddCookie(e.jarCookie(owner, e.h.deviceCookieName()))
	u, err := e.dur.UserByLogin(t.Context(), "budi")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after   time.Duration
		trusted bool
	}{{0, true}, {DeviceCookieTTL - time.Second, true}, {DeviceCookieTTL, false}} {
		e.clock.Advance(issued.Add(tt.after).Sub(e.clock.Now()))
		if got := e.h.trustedDevice(r, u.ID) != ""; got != tt.trusted {
			t.Errorf("%v after issue: trusted %v, want %v", tt.after, got, tt.trusted)
		}
	}
	if e.h.trustedDevice(r, "someone-else") != "" {
		t.Error("trusted for another user id")
	}
}

// The cap on sessions per account: the oldest end, and are signed out like
// any other (audit, logout fan-out).
func TestSessionCapEndsTheOldest(t *testing.T) {
	var ended []string
	e := newEnv(t, false)
	e.h.OnSessionEnd = func(_ context.Context, s storage.Session) { ended = append(ended, s.ID) }
	u := e.createUser("budi", nil)
	var first []string
	for i := range MaxSessionsPerUser + 2 {
		res, ok := e.signsIn(e.newClient(), "budi")
		if !ok {
			t.Fatalf("sign-in %d: %d", i+1, res.StatusCode)
		}
		e.clock.Advance(time.Second)
		if i < 2 {
			sessions, err := e.eph.UserSessions(t.Context(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			first = append(first, sessions[len(sessions)-1].ID)
		}
	}
	sessions, err := e.eph.UserSessions(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != MaxSessionsPerUser {
		t.Errorf("%d live sessions, want the cap %d", len(sessions), MaxSessionsPerUser)
	}
	if diff := cmp.Diff(first, ended); diff != "" {
		t.Errorf("ended sessions (-want +got):\n%s", diff)
	}
	if n := e.countAudit("session.end", "session_limit"); n != 2 {
		t.Errorf("%d session.end audits, want 2", n)
	}
}

// An address many people share (a carrier's CGNAT, an office, a /64) is
// locked by one attacker's failures; the owner's browser that signed in
// before still gets in there, a browser unknown to the account does not.
func TestAddressLockSparesTheOwnersDevice(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	e.createUser("siti", nil)
	owner := e.signedInBefore("budi")
	stolen := e.signedInBefore("budi") // a cookie copied off a shared computer
	sitisBrowser := e.signedInBefore("siti")

	// The attacker sprays other names from the shared address (the test
	// server sees every browser at 127.0.0.1) until it locks.
	th := &Throttle{Counters: e.eph, Now: e.clock.Now}
	var f Failure
	for i := range DefaultThrottlePolicy.Address.LockAfter {
		var err error
		if f, err = th.Failed(t.Context(), fmt.Sprint("user", i), "127.0.0.1", ""); err != nil {
			t.Fatal(err)
		}
	}
	if !f.LockedAddress {
		t.Fatalf("the address did not lock: %+v", f)
	}
	locked := e.msg("protection.locked", 15)
	res, ok := e.signsIn(e.newClient(), "budi")
	if ok {
		t.Fatal("an unknown device signed in from the locked address")
	}
	wantText(t, res, http.StatusTooManyRequests, locked)
	if res, ok := e.signsIn(sitisBrowser, "budi"); ok || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another account's device from the locked address: %d, want the lock", res.StatusCode)
	}

	// The owner's device signs in, neither locked nor delayed.
	id := e.newAuthRequest(nil)
	res = e.open(owner, id).submit("budi", testPassword, true)
	wantRedirect(t, res, "/callback?id="+id)
	if e.sessionCookie(res) == nil || !e.authRequest(id).Done {
		t.Fatal("the owner's device did not get a session behind the locked address")
	}

	// A stolen device cookie is no unlimited oracle there: its own ten
	// failures lock it.
	g := failTenTimes(t, e, stolen, "budi")
	wantText(t, g.submit("budi", testPassword, true), http.StatusTooManyRequests, locked)
	if res, ok := e.signsIn(e.newClient(), "budi"); ok || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an unknown device after the address lock: %d, want the lock", res.StatusCode)
	}
}
