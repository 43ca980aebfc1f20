package login

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/securecookie"

	"satupintu/captcha"
	"satupintu/jobs/jobstest"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
	"satupintu/storage/storagetest"
	"satupintu/templates"
	"satupintu/web"
	"satupintu/web/webtest"
)

// cheap argon2id parameters: the tests check behaviour, not cost.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

const (
	testPassword = "kata sandi yang panjang sekali"
	clientID     = "ebpom"
	clientName   = "e-BPOM (demo)"
)

type env struct {
	t      *testing.T
	clock  *conformance.Clock
	eph    *memory.Store
	dur    *sqlite.Store
	h      *Handler
	srv    *httptest.Server
	client *http.Client
	// outbox delivers the password emails (newPasswordEnv).
	outbox *jobstest.Outbox
}

// waitMail waits for the background work of password requests, then for
// the outbox to deliver what they queued.
func (e *env) waitMail() {
	e.t.Helper()
	e.h.waitBackground()
	if e.outbox != nil {
		e.outbox.Settle(e.t)
	}
}

// newEnv starts the login UI on a test server backed by the real embedded
// stores. secure runs it over TLS with Secure=true.
// opts configure the handler before it is mounted.
func newEnv(t *testing.T, secure bool, opts ...func(h *Handler, eph *memory.Store, dur *sqlite.Store)) *env {
	t.Helper()
	ctx := t.Context()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	eph, dur := storagetest.Embedded(t, clk.Now)

	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	codec := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h := &Handler{
		Users:       dur,
		Clients:     dur,
		Requests:    eph,
		Sessions:    eph,
		OneTime:     eph,
		Audit:       dur,
		Counters:    eph,
		Captcha:     &captcha.Service{Store: eph, Now: clk.Now},
		Pages:       pages,
		CSRF:        web.NewCSRF(codec, secure),
		Cookies:     codec,
		CallbackURL: func(_ context.Context, id string) string { return "/callback?id=" + id },
		Secure:      secure,
		HashParams:  cheap,
		Now:         clk.Now,
		Logger:      logger,
		MFA:         &MFA{Users: dur, Drafts: eph, Counters: eph, Used: eph, Key: testMFAKey, RecoveryParams: cheap},
	}
	for _, o := range opts {
		o(h, eph, dur)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	h.Captcha.Mount(mux)
	handler := web.SecurityHeaders(web.LimitBody(mux, 0), secure)

	var srv *httptest.Server
	if secure {
		srv = httptest.NewTLSServer(handler)
	} else {
		srv = httptest.NewServer(handler)
	}
	t.Cleanup(srv.Close)

	e := &env{t: t, clock: clk, eph: eph, dur: dur, h: h, srv: srv}
	e.client = e.newClient()

	if err := dur.CreateClient(ctx, storage.Client{
		ID: clientID, Name: clientName, RedirectURIs: []string{"https://ebpom.example/cb"},
		PostLogoutRedirectURIs: []string{"https://ebpom.example/bye"}, GrantTypes: []string{storage.GrantAuthorizationCode},
		CreatedAt: clk.Now(), UpdatedAt: clk.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// newClient is a browser: a cookie jar, redirects not followed so the
// tests can look at each one.
func (e *env) newClient() *http.Client {
	return webtest.NewClient(e.t, e.srv)
}

func (e *env) createUser(username string, edit func(*storage.User)) storage.User {
	e.t.Helper()
	hash, err := password.Hash(testPassword, cheap)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	u := storage.User{
		ID: storage.NewID(), Username: username, Email: username + "@example.co.id",
		Name: "Siti " + username, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if edit != nil {
		edit(&u)
	}
	if err := e.dur.CreateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) newAuthRequest(edit func(*storage.AuthRequest)) string {
	e.t.Helper()
	ar := storage.AuthRequest{
		ID: storage.NewID(), ClientID: clientID, RedirectURI: "https://ebpom.example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: e.clock.Now(),
	}
	if edit != nil {
		edit(&ar)
	}
	if err := e.eph.CreateAuthRequest(e.t.Context(), ar, 30*time.Minute); err != nil {
		e.t.Fatal(err)
	}
	return ar.ID
}

func (e *env) authRequest(id string) storage.AuthRequest {
	e.t.Helper()
	ar, err := e.eph.AuthRequestByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ar
}

func (e *env) get(c *http.Client, path string) webtest.Response {
	e.t.Helper()
	return webtest.Get(e.t, c, e.srv.URL+path)
}

func (e *env) post(c *http.Client, path string, form url.Values) webtest.Response {
	e.t.Helper()
	return webtest.PostForm(e.t, c, e.srv.URL+path, form)
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func csrfToken(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", body)
	}
	return m[1]
}

// signIn fills in the sign-in form of authorization request arID (none if
// empty) and returns the response to the POST.
func (e *env) signIn(c *http.Client, arID, username, secret string) webtest.Response {
	e.t.Helper()
	path := "/login"
	if arID != "" {
		path += "?authRequestID=" + arID
	}
	page := e.get(c, path)
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d\n%s", path, page.StatusCode, page.Body)
	}
	form := url.Values{"csrf_token": {csrfToken(e.t, page.Body)}, "username": {username}, "password": {secret}}
	if arID != "" {
		form.Set("authRequestID", arID)
	}
	// Post where the browser would: the form's action.
	m := formAction.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("no form action in:\n%s", page.Body)
	}
	return e.post(c, html.UnescapeString(m[1]), form)
}

func (e *env) sessionCookie(res webtest.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == e.h.cookieName() {
			return c
		}
	}
	return nil
}

func wantRedirect(t *testing.T, res webtest.Response, want string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303\n%s", res.StatusCode, res.Body)
	}
	if got := res.Header.Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}
}

func wantForm(t *testing.T, res webtest.Response) {
	t.Helper()
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `name="password"`) {
		t.Fatalf("want the sign-in form, got %d\n%s", res.StatusCode, res.Body)
	}
}

func (e *env) auditActions() []string {
	e.t.Helper()
	events, err := e.dur.ListAudit(e.t.Context(), 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var actions []string
	for i := len(events) - 1; i >= 0; i-- {
		actions = append(actions, events[i].Action+" "+events[i].Detail["reason"])
	}
	return actions
}

func TestFormFields(t *testing.T) {
	e := newEnv(t, false)
	id := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.LoginHint = "budi@example.co.id" })
	res := e.get(e.client, "/login?authRequestID="+id)
	wantForm(t, res)
	for _, want := range []string{
		"<h1>Masuk ke e-BPOM (demo)</h1>",
		`<input type="hidden" name="csrf_token" value="`,
		`<input type="hidden" name="authRequestID" value="` + id + `">`,
		`name="username" type="text" value="budi@example.co.id" autocomplete="username"`,
		`name="password" type="password" autocomplete="current-password"`,
		`<label for="username">`, `<label for="password">`,
		`href="/register"`, `href="/track"`,
		`href="/login?authRequestID=` + id + `&amp;lang=en"`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(res.Body, "onpaste") {
		t.Error("paste blocked (ASVS 6.2.7)")
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// English through ui_locales.
	id2 := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.UILocales = []string{"en-US"} })
	if res := e.get(e.newClient(), "/login?authRequestID="+id2); !strings.Contains(res.Body, "<h1>Sign in to e-BPOM (demo)</h1>") {
		t.Errorf("ui_locales=en not honoured:\n%s", res.Body)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	id := e.newAuthRequest(nil)
	page := e.get(e.client, "/login?authRequestID="+id)
	token := csrfToken(t, page.Body)
	other := csrfToken(t, e.get(e.newClient(), "/login").Body) // valid elsewhere, not here

	for name, form := range map[string]url.Values{
		"no token":      {"username": {"budi"}, "password": {testPassword}, "authRequestID": {id}},
		"wrong token":   {"csrf_token": {"AAAA" + token[4:]}, "username": {"budi"}, "password": {testPassword}, "authRequestID": {id}},
		"foreign token": {"csrf_token": {other}, "username": {"budi"}, "password": {testPassword}, "authRequestID": {id}},
	} {
		res := e.post(e.client, "/login", form)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "Formulir sudah kedaluwarsa") {
			t.Errorf("%s: %d\n%s", name, res.StatusCode, res.Body)
		}
	}
	if e.authRequest(id).Done {
		t.Error("auth request completed without a CSRF token")
	}
	for name, path := range map[string]string{"logout": "/logout"} {
		if res := e.post(e.client, path, url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s without token: %d", name, res.StatusCode)
		}
	}
}

func TestWrongPasswordAndUnknownUserLookTheSame(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	id := e.newAuthRequest(nil)

	wrong := e.signIn(e.client, id, "budi", "bukan kata sandinya")
	unknown := e.signIn(e.client, id, "tidakada", "bukan kata sandinya")
	strip := func(r webtest.Response) string {
		s := csrfField.ReplaceAllString(r.Body, "")
		return strings.ReplaceAll(s, `value="tidakada"`, `value="budi"`)
	}
	if wrong.StatusCode != unknown.StatusCode {
		t.Errorf("status %d vs %d", wrong.StatusCode, unknown.StatusCode)
	}
	if diff := cmp.Diff(strip(wrong), strip(unknown)); diff != "" {
		t.Errorf("pages differ (-wrong password +unknown user):\n%s", diff)
	}
	if !strings.Contains(wrong.Body, "Nama pengguna atau kata sandi salah") {
		t.Errorf("no generic message:\n%s", wrong.Body)
	}
	if strings.Contains(wrong.Body, "bukan kata sandinya") {
		t.Error("password echoed")
	}
	if !strings.Contains(wrong.Body, `value="budi"`) {
		t.Error("username not kept")
	}
	if !strings.Contains(wrong.Body, `href="/login?authRequestID=`+id+`&amp;lang=en"`) {
		t.Error("language switch after a failed sign-in loses the auth request")
	}
	if e.sessionCookie(wrong) != nil || e.authRequest(id).Done {
		t.Error("failed sign-in started a session")
	}
	if diff := cmp.Diff([]string{"login.failure bad_credentials", "login.failure bad_credentials"}, e.auditActions()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestFieldValidation(t *testing.T) {
	e := newEnv(t, false)
	tests := []struct {
		name, username, password, want string
	}{
		{"empty username", "  ", testPassword, "Isi nama pengguna atau email."},
		{"empty password", "budi", "", "Isi kata sandi."},
		{"username too long", strings.Repeat("a", 255), testPassword, "terlalu panjang (paling banyak 254"},
		{"password too long", "budi", strings.Repeat("a", password.MaxLength+1), "Kata sandi terlalu panjang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.signIn(e.client, "", tt.username, tt.password)
			wantForm(t, res)
			if !strings.Contains(res.Body, tt.want) || !strings.Contains(res.Body, `aria-invalid="true"`) {
				t.Errorf("no field error %q:\n%s", tt.want, res.Body)
			}
		})
	}
	if got := e.auditActions(); len(got) != 0 {
		t.Errorf("validation errors audited as attempts: %v", got)
	}
}

func TestSuccess(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			e := newEnv(t, secure)
			u := e.createUser("budi", nil)
			id := e.newAuthRequest(nil)

			// Usernames are case-insensitive and surrounding spaces ignored.
			res := e.signIn(e.client, id, " BUDI ", testPassword)
			wantRedirect(t, res, "/callback?id="+id)

			c := e.sessionCookie(res)
			if c == nil {
				t.Fatalf("no session cookie in %v", res.Cookies())
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure || c.MaxAge != int(DefaultSessionTTL/time.Second) {
				t.Errorf("cookie %+v", c)
			}
			if wantName := map[bool]string{false: "satupintu_session", true: "__Host-satupintu_session"}[secure]; c.Name != wantName {
				t.Errorf("cookie name %q, want %q", c.Name, wantName)
			}
			if strings.Contains(c.Value, u.ID) {
				t.Error("cookie carries the user id in clear")
			}

			ar := e.authRequest(id)
			s, err := e.eph.SessionByID(t.Context(), ar.SessionID)
			if err != nil {
				t.Fatalf("session %q: %v", ar.SessionID, err)
			}
			want := storage.AuthRequest{Done: true, UserID: u.ID, AuthTime: e.clock.Now(), AMR: []string{"pwd"}, SessionID: s.ID}
			got := storage.AuthRequest{Done: ar.Done, UserID: ar.UserID, AuthTime: ar.AuthTime, AMR: ar.AMR, SessionID: ar.SessionID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("auth request (-want +got):\n%s", diff)
			}
			if s.UserID != u.ID || !s.ExpiresAt.Equal(e.clock.Now().Add(DefaultSessionTTL)) || s.IP == "" {
				t.Errorf("session %+v", s)
			}
			if diff := cmp.Diff([]string{"login.success "}, e.auditActions()); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}

			// The form for a done request goes straight to the callback.
			wantRedirect(t, e.get(e.client, "/login?authRequestID="+id), "/callback?id="+id)
		})
	}
}

func TestSingleSignOn(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	first := e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(e.client, first, "budi", testPassword), "/callback?id="+first)
	sessionID := e.authRequest(first).SessionID
	authTime := e.clock.Now()

	e.clock.Advance(time.Hour)
	second := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.MaxAge = ptr(int64(2 * 3600)) })
	wantRedirect(t, e.get(e.client, "/login?authRequestID="+second), "/callback?id="+second)
	ar := e.authRequest(second)
	if !ar.Done || ar.UserID != u.ID || ar.SessionID != sessionID || !ar.AuthTime.Equal(authTime) {
		t.Errorf("second request not completed from the session: %+v", ar)
	}

	// Another browser has no session.
	wantForm(t, e.get(e.newClient(), "/login?authRequestID="+e.newAuthRequest(nil)))
}

func ptr[T any](v T) *T { return &v }

func TestSessionNotUsed(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		edit    func(ar *storage.AuthRequest)
	}{
		{"prompt=login", 0, func(ar *storage.AuthRequest) { ar.Prompt = []string{"login"} }},
		{"max_age=0", 0, func(ar *storage.AuthRequest) { ar.MaxAge = ptr(int64(0)) }},
		{"max_age passed", 11 * time.Minute, func(ar *storage.AuthRequest) { ar.MaxAge = ptr(int64(600)) }},
		{"id_token_hint for another user", 0, func(ar *storage.AuthRequest) { ar.HintSubject = "someone-else" }},
		{"session expired", DefaultSessionTTL + time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false)
			e.createUser("budi", nil)
			first := e.newAuthRequest(nil)
			wantRedirect(t, e.signIn(e.client, first, "budi", testPassword), "/callback?id="+first)

			e.clock.Advance(tt.advance)
			id := e.newAuthRequest(tt.edit)
			wantForm(t, e.get(e.client, "/login?authRequestID="+id))
			if e.authRequest(id).Done {
				t.Error("completed from the session")
			}

			// With prompt=none the same situation goes back uncompleted, for
			// op to answer login_required.
			none := e.newAuthRequest(func(ar *storage.AuthRequest) {
				if tt.edit != nil {
					tt.edit(ar)
				}
				ar.Prompt = append(ar.Prompt, "none")
			})
			wantRedirect(t, e.get(e.client, "/login?authRequestID="+none), "/callback?id="+none)
			if e.authRequest(none).Done {
				t.Error("prompt=none completed from an unusable session")
			}
		})
	}
}

func TestPromptNoneWithoutSession(t *testing.T) {
	e := newEnv(t, false)
	id := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.Prompt = []string{"none"} })
	wantRedirect(t, e.get(e.client, "/login?authRequestID="+id), "/callback?id="+id)
	if e.authRequest(id).Done {
		t.Error("completed without a session")
	}
}

func TestPromptNoneWithSession(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	wantRedirect(t, e.signIn(e.client, "", "budi", testPassword), "/")
	id := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.Prompt = []string{"none"}; ar.HintSubject = u.ID })
	wantRedirect(t, e.get(e.client, "/login?authRequestID="+id), "/callback?id="+id)
	if ar := e.authRequest(id); !ar.Done || ar.UserID != u.ID {
		t.Errorf("prompt=none with a matching session not completed: %+v", ar)
	}
}

func TestSessionRotatesOnSignIn(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	first := e.newAuthRequest(nil)
	res1 := e.signIn(e.client, first, "budi", testPassword)
	old := e.authRequest(first).SessionID

	second := e.newAuthRequest(func(ar *storage.AuthRequest) { ar.Prompt = []string{"login"} })
	res2 := e.signIn(e.client, second, "budi", testPassword)
	wantRedirect(t, res2, "/callback?id="+second)
	current := e.authRequest(second).SessionID
	if current == old {
		t.Fatal("session id not rotated on re-authentication (ASVS 7.2.4)")
	}
	if e.sessionCookie(res1).Value == e.sessionCookie(res2).Value {
		t.Error("cookie value not rotated")
	}
	if _, err := e.eph.SessionByID(t.Context(), old); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("old session still stored: %v", err)
	}
	if _, err := e.eph.SessionByID(t.Context(), current); err != nil {
		t.Errorf("new session: %v", err)
	}
}

func TestAccountStateRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(u *storage.User)
		want string
	}{
		{"disabled", func(u *storage.User) { u.Disabled = true }, "Akun Anda dinonaktifkan; hubungi administrator."},
		{"expired", func(u *storage.User) { u.ExpiresAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }, "Akun Anda sudah kedaluwarsa; hubungi administrator."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false)
			e.createUser("budi", tt.edit)
			id := e.newAuthRequest(nil)
			res := e.signIn(e.client, id, "budi", testPassword)
			wantForm(t, res)
			if !strings.Contains(res.Body, tt.want) {
				t.Errorf("no %q:\n%s", tt.want, res.Body)
			}
			if e.sessionCookie(res) != nil || e.authRequest(id).Done {
				t.Error("refused account got a session")
			}
			// Without the password nobody learns the account's state.
			res = e.signIn(e.client, id, "budi", "salah")
			if strings.Contains(res.Body, tt.want) || !strings.Contains(res.Body, "Nama pengguna atau kata sandi salah") {
				t.Errorf("wrong password revealed the account state:\n%s", res.Body)
			}
		})
	}
}

func TestDisabledAccountLosesSession(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	wantRedirect(t, e.signIn(e.client, "", "budi", testPassword), "/")
	if err := e.dur.UpdateUser(t.Context(), u.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	id := e.newAuthRequest(nil)
	wantForm(t, e.get(e.client, "/login?authRequestID="+id))
	if e.authRequest(id).Done {
		t.Error("disabled user's session answered an auth request")
	}
}

func TestExpiredAuthRequest(t *testing.T) {
	e := newEnv(t, false)
	id := e.newAuthRequest(nil)
	e.clock.Advance(31 * time.Minute)
	for _, path := range []string{"/login?authRequestID=" + id, "/login?authRequestID=nope", "/login?authRequestID=" + strings.Repeat("x", 500)} {
		res := e.get(e.client, path)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "Permintaan masuk sudah kedaluwarsa; kembali ke aplikasi dan coba lagi") {
			t.Errorf("%s: %d\n%s", path, res.StatusCode, res.Body)
		}
	}
}

func TestOwnSignInAndHome(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)

	home := e.get(e.client, "/")
	if !strings.Contains(home.Body, `href="/login"`) || strings.Contains(home.Body, "Selamat datang") {
		t.Errorf("anonymous home:\n%s", home.Body)
	}
	wantRedirect(t, e.signIn(e.client, "", "budi", testPassword), "/")
	home = e.get(e.client, "/")
	if !strings.Contains(home.Body, "Selamat datang, Siti budi") || !strings.Contains(home.Body, `action="/logout"`) {
		t.Errorf("signed-in home:\n%s", home.Body)
	}
	// Signed in already: /login goes home.
	wantRedirect(t, e.get(e.client, "/login"), "/")

	// Sign out from the home page's button.
	res := e.post(e.client, "/logout", url.Values{"csrf_token": {csrfToken(t, home.Body)}})
	wantRedirect(t, res, "/logged-out")
	if out := e.get(e.client, "/logged-out"); !strings.Contains(out.Body, "Anda telah keluar") {
		t.Errorf("logged-out page:\n%s", out.Body)
	}
	if home := e.get(e.client, "/"); strings.Contains(home.Body, "Selamat datang") {
		t.Error("still signed in after logout")
	}
}

// signedIn returns a browser signed in as a new user, the user, and the
// session id.
func (e *env) signedIn(username string) (*http.Client, storage.User, string) {
	e.t.Helper()
	c := e.newClient()
	u := e.createUser(username, nil)
	id := e.newAuthRequest(nil)
	wantRedirect(e.t, e.signIn(c, id, username, testPassword), "/callback?id="+id)
	return c, u, e.authRequest(id).SessionID
}

func (e *env) sessionGone(id string) bool {
	_, err := e.eph.SessionByID(e.t.Context(), id)
	return errors.Is(err, storage.ErrNotFound)
}

func TestLogoutWithVerifiedHint(t *testing.T) {
	e := newEnv(t, false)
	c, u, sid := e.signedIn("budi")
	var ended []string
	e.h.OnSessionEnd = func(_ context.Context, s storage.Session) { ended = append(ended, s.ID) }

	to, err := e.h.StartLogout(t.Context(), LogoutRequest{UserID: u.ID, ClientID: clientID, RedirectURI: "https://ebpom.example/bye?state=xyz", HintVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(to, "/logout?id=") {
		t.Fatalf("StartLogout = %q", to)
	}
	res := e.get(c, to)
	wantRedirect(t, res, "https://ebpom.example/bye?state=xyz")
	if !e.sessionGone(sid) {
		t.Error("session not deleted")
	}
	if ck := e.sessionCookie(res); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("cookie not expired: %v", ck)
	}
	if diff := cmp.Diff([]string{sid}, ended); diff != "" {
		t.Errorf("OnSessionEnd (-want +got):\n%s", diff)
	}
	// The id was single-use.
	if res := e.get(c, to); res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" {
		t.Errorf("reused logout id: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The old session no longer signs in anywhere.
	wantForm(t, e.get(c, "/login?authRequestID="+e.newAuthRequest(nil)))
}

func TestLogoutWithoutHintAsksFirst(t *testing.T) {
	e := newEnv(t, false)
	c, _, sid := e.signedIn("budi")
	to, err := e.h.StartLogout(t.Context(), LogoutRequest{ClientID: clientID, RedirectURI: "https://ebpom.example/bye"})
	if err != nil {
		t.Fatal(err)
	}
	page := e.get(c, to)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Keluar dari satupintu?") || !strings.Contains(page.Body, `method="post" action="/logout"`) {
		t.Fatalf("no confirmation: %d\n%s", page.StatusCode, page.Body)
	}
	if e.sessionGone(sid) {
		t.Fatal("session ended before confirmation")
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatal("no pending id in the form")
	}
	if strings.Contains(to, m[1]) {
		t.Error("pending id not renewed")
	}
	res := e.post(c, "/logout", url.Values{"csrf_token": {csrfToken(t, page.Body)}, "id": {m[1]}})
	wantRedirect(t, res, "https://ebpom.example/bye")
	if !e.sessionGone(sid) {
		t.Error("session not deleted")
	}
	if diff := cmp.Diff([]string{"login.success ", "logout "}, e.auditActions()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestLogoutHintForAnotherUserAsksFirst(t *testing.T) {
	e := newEnv(t, false)
	c, _, sid := e.signedIn("budi")
	to, err := e.h.StartLogout(t.Context(), LogoutRequest{UserID: "someone-else", ClientID: clientID, RedirectURI: "https://ebpom.example/bye", HintVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	page := e.get(c, to)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Keluar dari satupintu?") || e.sessionGone(sid) {
		t.Errorf("hint for another user ended the session: %d", page.StatusCode)
	}
}

func TestLogoutGarbageIDRedirectsNowhere(t *testing.T) {
	e := newEnv(t, false)
	c, _, sid := e.signedIn("budi")
	for _, path := range []string{"/logout?id=garbage", "/logout?id=https://evil.example/", "/logout"} {
		page := e.get(c, path)
		if page.StatusCode != http.StatusOK || page.Header.Get("Location") != "" || strings.Contains(page.Body, `name="id"`) {
			t.Errorf("%s: %d %q", path, page.StatusCode, page.Header.Get("Location"))
		}
	}
	if e.sessionGone(sid) {
		t.Fatal("GET ended the session without confirmation")
	}
	page := e.get(c, "/logout?id=garbage")
	res := e.post(c, "/logout", url.Values{"csrf_token": {csrfToken(t, page.Body)}, "id": {"garbage"}})
	wantRedirect(t, res, "/logged-out")
	if !e.sessionGone(sid) {
		t.Error("confirmed logout did not end the session")
	}
}

// Every message key the Go code names must exist in the catalogs.
func TestMessageKeysExist(t *testing.T) {
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	// Audit actions look like keys but are not messages.
	key := regexp.MustCompile(`(Action:\s*)?"((?:login|logout|logged_out|home|error)\.[a-z_]+)"`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			if m[1] != "" {
				continue
			}
			found++
			if !pages.Catalog().Has(m[2]) {
				t.Errorf("%s: unknown message key %q", f, m[2])
			}
		}
	}
	if found < 5 {
		t.Errorf("found only %d keys; is the regexp broken?", found)
	}
}

func TestVerificationsAreBounded(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("budi", nil)
	if got, want := cap(e.h.verifying), runtime.GOMAXPROCS(0); got != want { // one per core
		t.Errorf("default slots %d, want %d", got, want)
	}
	// With every slot taken, a sign-in waits, and gives up with its request.
	for range cap(e.h.verifying) {
		e.h.verifying <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := e.h.checkPassword(ctx, "budi", testPassword); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with no free slot: err = %v", err)
	}
	<-e.h.verifying
	if _, ok, err := e.h.checkPassword(t.Context(), "budi", testPassword); err != nil || !ok {
		t.Errorf("with a free slot: ok=%v err=%v", ok, err)
	}
	if len(e.h.verifying) != cap(e.h.verifying)-1 {
		t.Error("slot not released after verifying")
	}
}

func TestHomeLinksOfficersToTheQueue(t *testing.T) {
	e := newEnv(t, false)
	for _, tc := range []struct {
		roles []string
		want  bool
	}{{nil, false}, {[]string{storage.RoleOfficer}, true}} {
		name := "trader"
		if tc.want {
			name = "officer"
		}
		c := e.newClient()
		e.createUser(name, func(u *storage.User) { u.Roles = tc.roles })
		e.signIn(c, "", name, testPassword)
		home := e.get(c, "/")
		if got := strings.Contains(home.Body, `href="/officer"`); got != tc.want {
			t.Errorf("%s: link to /officer shown = %v, want %v", name, got, tc.want)
		}
	}
}

// A password stored with weaker parameters than the handler's is hashed
// again at the next sign-in, the only moment it is known; one stored with
// the current parameters is left alone, and a wrong password changes
// nothing.
func TestSignInRehashesWeakerHashes(t *testing.T) {
	stronger := password.Params{Memory: 128, Time: 2, Threads: 1}
	e := newEnv(t, false, func(h *Handler, _ *memory.Store, _ *sqlite.Store) { h.HashParams = stronger })
	u := e.createUser("budi", nil) // hashed with cheap
	if !password.NeedsRehash(u.PasswordHash, stronger) {
		t.Fatal("the test's parameters are not stronger than the stored hash's")
	}
	stored := func() string {
		t.Helper()
		cur, err := e.dur.UserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur.PasswordHash
	}

	e.signIn(e.newClient(), e.newAuthRequest(nil), "budi", "not the password")
	if stored() != u.PasswordHash {
		t.Fatal("a failed sign-in changed the stored hash")
	}

	ar := e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(e.client, ar, "budi", testPassword), "/callback?id="+ar)
	rehashed := stored()
	if rehashed == u.PasswordHash || password.NeedsRehash(rehashed, stronger) {
		t.Fatalf("after sign-in the hash is %q, want one with the handler's parameters", rehashed)
	}
	if err := password.Verify(testPassword, rehashed); err != nil {
		t.Fatalf("the rehashed password does not verify: %v", err)
	}
	ar = e.newAuthRequest(nil)
	wantRedirect(t, e.signIn(e.newClient(), ar, "budi", testPassword), "/callback?id="+ar)
	if stored() != rehashed {
		t.Error("a hash with the current parameters was hashed again")
	}
}
