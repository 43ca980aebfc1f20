package login

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"satupintu/web/webtest"
)

// changePassword fills in the change form in c.
func (e *env) changePassword(c *http.Client, current, pw, confirm string) webtest.Response {
	e.t.Helper()
	page := e.get(c, "/password/change")
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /password/change: %d\n%s", page.StatusCode, page.Body)
	}
	return e.post(c, "/password/change", url.Values{
		"csrf_token": {csrfToken(e.t, page.Body)}, "current": {current}, "password": {pw}, "confirm": {confirm},
	})
}

func TestChangeNeedsASession(t *testing.T) {
	e, _ := newPasswordEnv(t)
	wantRedirect(t, e.get(e.client, "/password/change"), "/login")
	page := e.get(e.client, "/login")
	res := e.post(e.client, "/password/change", url.Values{"csrf_token": {csrfToken(t, page.Body)},
		"current": {testPassword}, "password": {"kopi tubruk di teras"}, "confirm": {"kopi tubruk di teras"}})
	wantRedirect(t, res, "/login")
}

func TestChangeFormFields(t *testing.T) {
	e, _ := newPasswordEnv(t)
	c, _, _ := e.signedIn("budi")
	res := e.get(c, "/password/change")
	for _, want := range []string{
		`name="username" type="text" value="budi" autocomplete="username" readonly`,
		`name="current" type="password" autocomplete="current-password"`,
		`name="password" type="password" autocomplete="new-password" minlength="8"`,
		`name="confirm" type="password" autocomplete="new-password"`,
		`<label for="current">`, `<label for="password">`, `<label for="confirm">`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	if res := e.post(c, "/password/change", url.Values{"current": {testPassword}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", res.StatusCode)
	}
}

func TestChangeKeepsThisSessionAndEndsTheOthers(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	laptop, u, laptopSession := e.signedIn("budi")
	phone, phoneSession := e.secondSession("budi", testPassword)
	rt := e.addRefreshToken(u.ID)

	res := e.changePassword(laptop, "salah sekali sandinya", "kopi tubruk di teras", "kopi tubruk di teras")
	if !strings.Contains(res.Body, "Kata sandi saat ini salah.") {
		t.Fatalf("wrong current password: %d\n%s", res.StatusCode, res.Body)
	}
	if e.sessionGone(phoneSession) || e.refreshTokenGone(rt) {
		t.Fatal("a refused change ended sessions or tokens")
	}

	for _, tc := range []struct{ pw, confirm, want string }{
		{"qwerty123", "qwerty123", "terlalu umum"},
		{"budi2025!", "budi2025!", "tidak boleh sama dengan nama pengguna"},
		{"kopi tubruk di teras", "kopi tubruk", "Kedua kata sandi berbeda."},
		{testPassword, testPassword, "Kata sandi baru sama dengan kata sandi saat ini."},
	} {
		if res := e.changePassword(laptop, testPassword, tc.pw, tc.confirm); !strings.Contains(res.Body, tc.want) {
			t.Errorf("%q: %d, want %q\n%s", tc.pw, res.StatusCode, tc.want, res.Body)
		}
	}

	newPassword := "kopi tubruk di teras"
	res = e.changePassword(laptop, testPassword, newPassword, newPassword)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Kata sandi telah diganti") {
		t.Fatalf("change: %d\n%s", res.StatusCode, res.Body)
	}
	if e.sessionGone(laptopSession) {
		t.Error("the session that changed the password ended")
	}
	if !e.sessionGone(phoneSession) {
		t.Error("the other session survived the change")
	}
	if !e.refreshTokenGone(rt) {
		t.Error("the refresh token survived the change")
	}
	if home := e.get(laptop, "/"); !strings.Contains(home.Body, `action="/logout"`) {
		t.Error("this browser was signed out")
	}
	if home := e.get(phone, "/"); strings.Contains(home.Body, `action="/logout"`) {
		t.Error("the other browser is still signed in")
	}
	wantForm(t, e.signIn(e.newClient(), "", "budi", testPassword))
	wantRedirect(t, e.signIn(e.newClient(), "", "budi", newPassword), "/")

	got := strings.Join(e.auditActions(), ",")
	if !strings.Contains(got, "password.change_failure wrong_current_password") || !strings.Contains(got, "password.change ") {
		t.Errorf("audit %s", got)
	}
	e.waitMail()
	msgs := smtp.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "telah diganti") || msgs[0].To[0] != u.Email {
		t.Errorf("want one change notification to %s, got %d emails", u.Email, len(msgs))
	}
}

func TestChangeStopsGuessingTheCurrentPassword(t *testing.T) {
	e, _ := newPasswordEnv(t)
	c, u, _ := e.signedIn("budi")
	for range changeFailLimit {
		e.changePassword(c, "tebakan yang salah", "kopi tubruk di teras", "kopi tubruk di teras")
	}
	res := e.changePassword(c, testPassword, "kopi tubruk di teras", "kopi tubruk di teras")
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.Body, "Terlalu banyak percobaan") {
		t.Fatalf("after %d wrong passwords: %d, want 429", changeFailLimit, res.StatusCode)
	}
	stored, err := e.dur.UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash != u.PasswordHash {
		t.Fatal("the password changed while locked")
	}
	e.clock.Advance(changeFailWindow)
	if res := e.changePassword(c, testPassword, "kopi tubruk di teras", "kopi tubruk di teras"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Kata sandi telah diganti") {
		t.Fatalf("after the window: %d\n%s", res.StatusCode, res.Body)
	}
}
