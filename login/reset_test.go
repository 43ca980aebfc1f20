package login

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
	"satupintu/templates"
	"satupintu/web/webtest"
)

// testBaseURL is the issuer the emails' links start with; the tests take
// the path from the link and ask the test server.
const testBaseURL = "https://satupintu.test"

var resetLink = regexp.MustCompile(regexp.QuoteMeta(testBaseURL) + `(/password/reset\?token=([A-Za-z0-9_-]{43}))`)

// newPasswordEnv is newEnv with password reset and change on, sending
// email through a real SMTP exchange with mailtest.
func newPasswordEnv(t *testing.T) (*env, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: smtp.Host(), Port: smtp.Port(), TLS: mail.TLSNone, From: "satupintu <noreply@satupintu.test>"})
	if err != nil {
		t.Fatal(err)
	}
	var outbox *jobstest.Outbox
	e := newEnv(t, false, func(h *Handler, eph *memory.Store, dur *sqlite.Store) {
		outbox = jobstest.Start(t, dur, sender)
		h.Passwords = &Passwords{Users: dur, Tokens: dur, Counters: eph, Sessions: eph, RefreshTokens: dur, Mail: outbox, BaseURL: testBaseURL}
	})
	e.outbox = outbox
	// Background emails must be done before the stores close.
	t.Cleanup(e.h.waitBackground)
	return e, smtp
}

// requestReset fills in the forgot-password form for email and returns the
// response to the POST.
func (e *env) requestReset(c *http.Client, email string) webtest.Response {
	e.t.Helper()
	page := e.get(c, "/password/forgot")
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /password/forgot: %d\n%s", page.StatusCode, page.Body)
	}
	return e.post(c, "/password/forgot", url.Values{"csrf_token": {csrfToken(e.t, page.Body)}, "email": {email}})
}

// resetLinkFor asks for a reset of email and returns the path of the
// link that arrives by mail.
func (e *env) resetLinkFor(smtp *mailtest.Server, email string) string {
	e.t.Helper()
	e.waitMail() // earlier emails (change notices) are in
	before := len(smtp.Messages())
	wantRedirect(e.t, e.requestReset(e.newClient(), email), "/password/forgot/sent")
	e.waitMail()
	msgs := smtp.Messages()
	if len(msgs) != before+1 {
		e.t.Fatalf("%d new emails, want 1", len(msgs)-before)
	}
	m := resetLink.FindStringSubmatch(msgs[before].Body)
	if m == nil {
		e.t.Fatalf("no reset link in:\n%s", msgs[before].Body)
	}
	return m[1]
}

// setPassword opens link in c and submits the new password twice.
func (e *env) setPassword(c *http.Client, link, pw, confirm string) webtest.Response {
	e.t.Helper()
	page := e.get(c, link)
	if page.StatusCode != http.StatusOK {
		return page
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page.Body)
	if token == nil {
		e.t.Fatalf("no token field in:\n%s", page.Body)
	}
	return e.post(c, "/password/reset", url.Values{
		"csrf_token": {csrfToken(e.t, page.Body)}, "token": {token[1]}, "password": {pw}, "confirm": {confirm},
	})
}

// secondSession signs u in from a new browser and returns it and its session id.
func (e *env) secondSession(username, secret string) (*http.Client, string) {
	e.t.Helper()
	c := e.newClient()
	id := e.newAuthRequest(nil)
	wantRedirect(e.t, e.signIn(c, id, username, secret), "/callback?id="+id)
	return c, e.authRequest(id).SessionID
}

func (e *env) addRefreshToken(userID string) string {
	e.t.Helper()
	now := e.clock.Now()
	rt := storage.RefreshToken{ID: storage.NewID(), FamilyID: storage.NewID(), ClientID: clientID, UserID: userID,
		Scopes: []string{"openid", "offline_access"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := e.dur.CreateRefreshToken(e.t.Context(), rt); err != nil {
		e.t.Fatal(err)
	}
	return rt.ID
}

func (e *env) refreshTokenGone(id string) bool {
	_, err := e.dur.RefreshTokenByID(e.t.Context(), id)
	return errors.Is(err, storage.ErrNotFound)
}

func TestForgotAnswersTheSameForEveryAddress(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	e.createUser("budi", nil)
	e.createUser("dina", func(u *storage.User) { u.Disabled = true })
	e.createUser("eko", func(u *storage.User) { u.ExpiresAt = e.clock.Now().Add(-time.Hour) })
	e.createUser("fani", func(u *storage.User) { u.PasswordHash = "" }) // approved, not yet activated

	var pages []string
	for _, email := range []string{
		"budi@example.co.id",     // known
		"nobody@example.co.id",   // unknown
		"dina@example.co.id",     // disabled
		"eko@example.co.id",      // expired
		"fani@example.co.id",     // not activated
		"  BUDI@Example.co.id  ", // known, typed differently
	} {
		c := e.newClient()
		res := e.requestReset(c, email)
		wantRedirect(t, res, "/password/forgot/sent")
		if res.Body != "" && !strings.Contains(res.Body, "/password/forgot/sent") {
			t.Errorf("%s: unexpected redirect body %q", email, res.Body)
		}
		sent := e.get(c, "/password/forgot/sent")
		if sent.StatusCode != http.StatusOK {
			t.Fatalf("%s: sent page %d", email, sent.StatusCode)
		}
		pages = append(pages, sent.Body)
	}
	for i, p := range pages[1:] {
		if p != pages[0] {
			t.Errorf("page %d differs from the page for a known address", i+1)
		}
	}
	if !strings.Contains(pages[0], "Jika email tersebut terdaftar, kami telah mengirim tautan") {
		t.Errorf("sent page does not say what happened:\n%s", pages[0])
	}

	e.waitMail()
	msgs := smtp.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d emails, want 2 (only to budi)", len(msgs))
	}
	for _, m := range msgs {
		if len(m.To) != 1 || m.To[0] != "budi@example.co.id" {
			t.Errorf("email to %v", m.To)
		}
		if !strings.Contains(m.Subject, "Atur ulang kata sandi") || !strings.Contains(m.Subject, "Reset your satupintu password") {
			t.Errorf("subject %q", m.Subject)
		}
		id, en := strings.Index(m.Body, "Buat kata sandi baru"), strings.Index(m.Body, "Set a new password")
		if id < 0 || en < id {
			t.Errorf("body is not Indonesian then English:\n%s", m.Body)
		}
		if n := len(resetLink.FindAllString(m.Body, -1)); n != 2 {
			t.Errorf("%d links in the body, want one per language", n)
		}
	}
	if a, b := resetLink.FindString(msgs[0].Body), resetLink.FindString(msgs[1].Body); a == b {
		t.Error("two requests got the same link")
	}
	if got := strings.Join(e.auditActions(), ","); strings.Count(got, "password.reset_request") != 2 {
		t.Errorf("audit %s, want two password.reset_request", got)
	}
}

func TestForgotFormChecks(t *testing.T) {
	e, _ := newPasswordEnv(t)
	page := e.get(e.client, "/password/forgot")
	for _, want := range []string{`action="/password/forgot"`, `name="email" type="email"`, `autocomplete="email"`, `<label for="email">`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	res := e.post(e.client, "/password/forgot", url.Values{"email": {"budi@example.co.id"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", res.StatusCode)
	}
	for email, want := range map[string]string{
		"":                                 "Masukkan alamat email.",
		"budi":                             "Alamat email tidak valid.",
		"Budi <budi@example.co.id>":        "Alamat email tidak valid.",
		strings.Repeat("a", 250) + "@x.id": "Alamat email tidak valid.",
	} {
		res := e.requestReset(e.client, email)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, want) {
			t.Errorf("email %q: %d, want the form with %q", email, res.StatusCode, want)
		}
	}
	login := e.get(e.client, "/login")
	if !strings.Contains(login.Body, `href="/password/forgot"`) {
		t.Error("sign-in page does not link to the forgot-password page")
	}
}

func TestForgotIsRateLimited(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	e.createUser("budi", nil)
	// Per address: three links an hour, whoever asks.
	for range forgotEmailLimit {
		wantRedirect(t, e.requestReset(e.newClient(), "budi@example.co.id"), "/password/forgot/sent")
	}
	res := e.requestReset(e.newClient(), "budi@example.co.id")
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.Body, "Terlalu banyak permintaan") {
		t.Fatalf("fourth request for one address: %d, want 429 with a message", res.StatusCode)
	}
	// An unknown address is limited the same way: the limit says nothing.
	for range forgotEmailLimit {
		e.requestReset(e.newClient(), "nobody@example.co.id")
	}
	if res := e.requestReset(e.newClient(), "nobody@example.co.id"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth request for an unknown address: %d, want 429", res.StatusCode)
	}
	e.waitMail()
	if n := len(smtp.Messages()); n != forgotEmailLimit {
		t.Errorf("%d emails, want %d", n, forgotEmailLimit)
	}
	// Per browser address: 10 requests in 15 minutes, for any addresses;
	// 8 were made above.
	e.requestReset(e.newClient(), "a@example.co.id")
	e.requestReset(e.newClient(), "b@example.co.id")
	if res := e.requestReset(e.newClient(), "c@example.co.id"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th request from one IP: %d, want 429", res.StatusCode)
	}
	e.clock.Advance(forgotIPWindow + time.Second)
	if res := e.requestReset(e.newClient(), "c@example.co.id"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want 303", res.StatusCode)
	}
}

func TestResetEndsEverySessionAndRefreshToken(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	phone, u, phoneSession := e.signedIn("budi")
	laptop, laptopSession := e.secondSession("budi", testPassword)
	rt := e.addRefreshToken(u.ID)
	other, _, otherSession := e.signedIn("siti")

	link := e.resetLinkFor(smtp, u.Email)
	// The link is opened in the laptop's browser, which is signed in.
	newPassword := "kereta pagi ke bogor"
	res := e.setPassword(laptop, link, newPassword, newPassword)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Kata sandi telah diganti") || !strings.Contains(res.Body, `href="/login"`) {
		t.Fatalf("reset: %d\n%s", res.StatusCode, res.Body)
	}
	for name, id := range map[string]string{"phone": phoneSession, "laptop": laptopSession} {
		if !e.sessionGone(id) {
			t.Errorf("the %s's session survived the reset", name)
		}
	}
	if !e.refreshTokenGone(rt) {
		t.Error("the refresh token survived the reset")
	}
	if e.sessionGone(otherSession) {
		t.Error("another user's session ended")
	}
	cleared := false
	for _, c := range res.Cookies() {
		cleared = cleared || (c.Name == e.h.cookieName() && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("the dead session cookie was not cleared")
	}
	home := e.get(phone, "/")
	if strings.Contains(home.Body, `action="/logout"`) {
		t.Error("the phone is still signed in")
	}
	if home := e.get(other, "/"); !strings.Contains(home.Body, "Siti siti") {
		t.Error("another user was signed out")
	}

	// The new password works, the old one does not, and nothing signed the
	// user in: a second factor would still be asked.
	wantForm(t, e.signIn(e.newClient(), "", "budi", testPassword))
	wantRedirect(t, e.signIn(e.newClient(), "", "budi", newPassword), "/")

	stored, err := e.dur.UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.PasswordChangedAt.Equal(e.clock.Now()) {
		t.Errorf("PasswordChangedAt = %v, want %v", stored.PasswordChangedAt, e.clock.Now())
	}
	if got := strings.Join(e.auditActions(), ","); !strings.Contains(got, "password.reset ") {
		t.Errorf("audit %s lacks password.reset", got)
	}
	e.waitMail()
	last := smtp.Messages()[len(smtp.Messages())-1]
	if !strings.Contains(last.Subject, "telah diganti") || strings.Contains(last.Body, newPassword) {
		t.Errorf("no change notification, or it holds the password: %q\n%s", last.Subject, last.Body)
	}
}

func TestResetLinkWorksOnceAndExpires(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	u := e.createUser("budi", nil)
	invalid := func(res webtest.Response, what string) {
		t.Helper()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "Tautan tidak berlaku") {
			t.Errorf("%s: %d, want the invalid-link page", what, res.StatusCode)
		}
	}

	link := e.resetLinkFor(smtp, u.Email)
	// Opening the link (a mail scanner, a preview) does not use it up.
	for range 2 {
		if res := e.get(e.newClient(), link); res.StatusCode != http.StatusOK {
			t.Fatalf("GET link: %d", res.StatusCode)
		}
	}
	pw := "kopi tubruk di teras"
	if res := e.setPassword(e.newClient(), link, pw, pw); res.StatusCode != http.StatusOK {
		t.Fatalf("first use: %d\n%s", res.StatusCode, res.Body)
	}
	invalid(e.setPassword(e.newClient(), link, "teh manis di dapur", "teh manis di dapur"), "replayed link")

	expired := e.resetLinkFor(smtp, u.Email)
	e.clock.Advance(ResetTTL + time.Second)
	invalid(e.setPassword(e.newClient(), expired, "teh manis di dapur", "teh manis di dapur"), "expired link")

	invalid(e.get(e.client, "/password/reset?token=abc"), "malformed link")
	form := e.get(e.client, link) // shows the form; the POST decides
	invalid(e.post(e.client, "/password/reset", url.Values{"csrf_token": {csrfToken(t, form.Body)},
		"token": {strings.Repeat("A", resetSecretLen)}, "password": {pw + "!"}, "confirm": {pw + "!"}}), "unknown link")
}

func TestOlderLinksDieWithAPasswordChange(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	u := e.createUser("budi", nil)
	first := e.resetLinkFor(smtp, u.Email)
	e.clock.Advance(time.Minute)
	second := e.resetLinkFor(smtp, u.Email)
	e.clock.Advance(time.Minute)
	pw := "kopi tubruk di teras"
	if res := e.setPassword(e.newClient(), second, pw, pw); res.StatusCode != http.StatusOK {
		t.Fatalf("second link: %d", res.StatusCode)
	}
	if res := e.setPassword(e.newClient(), first, "teh manis di dapur", "teh manis di dapur"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a link older than the change: %d, want 400", res.StatusCode)
	}
}

func TestResetRefusesWeakPasswordsWithoutSpendingTheLink(t *testing.T) {
	e, smtp := newPasswordEnv(t)
	u := e.createUser("rahmatkurnia", nil)
	link := e.resetLinkFor(smtp, u.Email)
	c := e.newClient()

	tests := []struct{ pw, confirm, want string }{
		{"pendek", "pendek", "Kata sandi minimal 8 karakter."},
		{"Password1", "Password1", "terlalu umum"},
		{"kopi tubruk di teras", "kopi tubruk di teraz", "Kedua kata sandi berbeda."},
	}
	for _, tc := range tests {
		res := e.setPassword(c, link, tc.pw, tc.confirm)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, tc.want) || !strings.Contains(res.Body, `aria-invalid="true"`) {
			t.Fatalf("%q: %d, want the form with %q\n%s", tc.pw, res.StatusCode, tc.want, res.Body)
		}
	}
	// The username is only known once the link is spent: the form comes
	// back with a fresh link, and that one works.
	page := e.get(c, link)
	res := e.post(c, "/password/reset", url.Values{"csrf_token": {csrfToken(t, page.Body)},
		"token": {strings.TrimPrefix(link, "/password/reset?token=")}, "password": {"RahmatKurnia2025"}, "confirm": {"RahmatKurnia2025"}})
	if !strings.Contains(res.Body, "tidak boleh sama dengan nama pengguna") {
		t.Fatalf("username as password: %d\n%s", res.StatusCode, res.Body)
	}
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(res.Body)
	if m == nil || "/password/reset?token="+m[1] == link {
		t.Fatalf("no fresh link in the form")
	}
	pw := "kopi tubruk di teras"
	if res := e.setPassword(c, "/password/reset?token="+m[1], pw, pw); res.StatusCode != http.StatusOK {
		t.Fatalf("fresh link: %d\n%s", res.StatusCode, res.Body)
	}
	if res := e.setPassword(c, link, pw, pw); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("the spent link: %d, want 400", res.StatusCode)
	}
}

func TestResetFormFields(t *testing.T) {
	e, _ := newPasswordEnv(t)
	res := e.get(e.client, "/password/reset?token="+strings.Repeat("A", resetSecretLen))
	for _, want := range []string{
		`name="password" type="password" autocomplete="new-password" minlength="8"`,
		`name="confirm" type="password" autocomplete="new-password"`,
		`<label for="password">`, `<label for="confirm">`,
		"kami sarankan 15 karakter atau lebih",
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(res.Body, "onpaste") {
		t.Error("paste blocked (ASVS 6.2.7)")
	}
}

// Every password.* message key the Go code names must exist in the catalogs.
func TestPasswordMessageKeysExist(t *testing.T) {
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`"(password\.[a-z_.]+)"`)
	found := 0
	for _, f := range []string{"reset.go", "password_change.go", "../password/policy.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			if strings.HasPrefix(m[1], "password.reset_request") || m[1] == "password.reset" || strings.HasPrefix(m[1], "password.change") && !strings.HasPrefix(m[1], "password.change.") {
				continue // audit actions
			}
			found++
			if !pages.Catalog().Has(m[1]) {
				t.Errorf("%s: unknown message key %q", f, m[1])
			}
		}
	}
	if found < 15 {
		t.Errorf("found only %d keys; is the regexp broken?", found)
	}
}

func TestPasswordPagesAreOffWithoutConfiguration(t *testing.T) {
	e := newEnv(t, false)
	if res := e.get(e.client, "/password/forgot"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /password/forgot without Passwords: %d, want 404", res.StatusCode)
	}
}
