package device

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/storage/storagetest"
	"satupintu/templates"
	"satupintu/web"
)

// env is the device pages on the embedded stores; a request is signed in
// as the user when it carries the header X-Test-Session (login's cookie is
// login's business, tested there).
type env struct {
	t       *testing.T
	h       *Handler
	mux     *http.ServeMux
	mem     *memory.Store
	clock   *conformance.Clock
	pages   *templates.Pages
	user    storage.User
	session storage.Session
	signIn  []string // the paths SignIn was asked to come back to
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: conformance.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))}
	mem, dur := storagetest.Embedded(t, e.clock.Now)
	e.mem = mem
	ctx := t.Context()
	if err := dur.CreateClient(ctx, storage.Client{ID: "cli", Name: "Bea Cukai CLI", Public: true,
		GrantTypes: []string{storage.GrantDeviceCode}, AccessTokenFormat: "opaque", CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.user = storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@contoh.co.id", Name: "Budi", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := dur.CreateUser(ctx, e.user); err != nil {
		t.Fatal(err)
	}
	e.session = storage.Session{ID: "sess", SID: "sid", UserID: e.user.ID, AuthTime: e.clock.Now(), AMR: []string{storage.AMRPassword}}
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	e.pages = pages
	e.h = &Handler{
		Authorizations: mem, Clients: dur, Counters: mem, Audit: dur, Pages: pages,
		CSRF: web.NewCSRF(securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)), false),
		CurrentSession: func(r *http.Request) (storage.Session, storage.User, bool) {
			if r.Header.Get("X-Test-Session") == "" {
				return storage.Session{}, storage.User{}, false
			}
			return e.session, e.user, true
		},
		SignIn: func(w http.ResponseWriter, r *http.Request, path string) {
			e.signIn = append(e.signIn, path)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		},
		WrongCodeLimit: quota.Limit{Name: "device-code", PerAddress: 3, Window: 15 * time.Minute},
		Now:            e.clock.Now,
	}
	e.mux = http.NewServeMux()
	e.h.Mount(e.mux)
	return e
}

// pending stores a pending authorization of "cli" with code.
func (e *env) pending(code string) storage.DeviceAuthorization {
	e.t.Helper()
	d := storage.DeviceAuthorization{ID: storage.NewID(), UserCode: code, ClientID: "cli", Scopes: []string{"openid", "profile"},
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(10 * time.Minute), Interval: 5 * time.Second, State: storage.DevicePending}
	if err := e.mem.CreateDeviceAuthorization(e.t.Context(), d, 15*time.Minute); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// browser keeps the CSRF cookie of one signed-in user at one address.
type browser struct {
	e       *env
	addr    string
	cookies []*http.Cookie
	token   string
}

var csrfField = regexp.MustCompile(`name="csrf_token"\s+value="([^"]*)"`)

func (e *env) browser(addr string) *browser {
	b := &browser{e: e, addr: addr}
	b.do(httptest.NewRequest(http.MethodGet, Path, nil))
	return b
}

func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	b.e.t.Helper()
	r.RemoteAddr = b.addr + ":1234"
	r.Header.Set("X-Test-Session", "1")
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.e.mux.ServeHTTP(w, r)
	b.cookies = append(b.cookies, w.Result().Cookies()...)
	if m := csrfField.FindStringSubmatch(w.Body.String()); m != nil {
		b.token = html.UnescapeString(m[1])
	}
	return w
}

func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	form.Set("csrf_token", b.token)
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

func (e *env) says(w *httptest.ResponseRecorder, key string) bool {
	return strings.Contains(w.Body.String(), html.EscapeString(e.pages.T("id", key)))
}

// Without a session the page sends the browser to sign in and back, with
// only a well-formed code in the way back.
func TestSignInAndBack(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"?user_code=bcdf-ghjk", "?user_code=//evil.example/", ""} {
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path+q, nil))
		if w.Code != http.StatusSeeOther {
			t.Errorf("GET %s without a session: %d", q, w.Code)
		}
	}
	want := []string{"/device?user_code=BCDF-GHJK", "/device", "/device"}
	if strings.Join(e.signIn, " ") != strings.Join(want, " ") {
		t.Errorf("ways back %q, want %q", e.signIn, want)
	}
}

// The wrong-code allowance is per address and per account: a user who
// moves to other addresses is still stopped, and so is the decision form.
func TestWrongCodesPerAddressAndAccount(t *testing.T) {
	e := newEnv(t)
	d := e.pending("BCDFGHJK")
	for i, addr := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"} {
		b := e.browser(addr)
		if w := b.post(Path, url.Values{"user_code": {"ZZZZ-ZZZZ"}}); w.Code != http.StatusOK || !e.says(w, keyInvalid) {
			t.Fatalf("wrong code %d: %d", i+1, w.Code)
		}
	}
	b := e.browser("198.51.100.9") // a fresh address, the same account
	w := b.post(Path, url.Values{"user_code": {"BCDF-GHJK"}})
	if w.Code != http.StatusTooManyRequests || !e.says(w, keyTooMany) || w.Header().Get("Retry-After") != "900" {
		t.Errorf("right code after three wrong ones from elsewhere: %d %v", w.Code, w.Header())
	}
	w = b.post(Path+"/decide", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"allow"}})
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("decision after the limit: %d", w.Code)
	}
	got, _ := e.mem.DeviceAuthorizationByUserCode(t.Context(), d.UserCode)
	if got.State != storage.DevicePending {
		t.Errorf("state %q after refused decisions", got.State)
	}
}

// A decision is taken once, and not after the code expired while the
// confirmation page was open.
func TestDecisionOnceAndInTime(t *testing.T) {
	e := newEnv(t)
	b := e.browser("192.0.2.1")

	first := e.pending("BCDFGHJK")
	if w := b.post(Path, url.Values{"user_code": {"bcdfghjk"}}); !strings.Contains(w.Body.String(), `id="device-allow"`) {
		t.Fatalf("no confirmation: %d\n%s", w.Code, w.Body)
	}
	if w := b.post(Path+"/decide", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"deny"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("deny: %d %s", w.Code, w.Body)
	}
	if w := b.post(Path+"/decide", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"allow"}}); !e.says(w, keyUsed) {
		t.Errorf("allow after deny: %d", w.Code)
	}
	got, _ := e.mem.DeviceAuthorizationByUserCode(t.Context(), first.UserCode)
	if got.State != storage.DeviceDenied || got.UserID != "" {
		t.Errorf("after deny then allow: %+v", got)
	}

	late := e.pending("MNPQRSTV")
	if w := b.post(Path, url.Values{"user_code": {"MNPQ-RSTV"}}); !strings.Contains(w.Body.String(), `id="device-allow"`) {
		t.Fatalf("no confirmation: %d", w.Code)
	}
	e.clock.Advance(10 * time.Minute)
	if w := b.post(Path+"/decide", url.Values{"user_code": {"MNPQ-RSTV"}, "decision": {"allow"}}); !e.says(w, keyInvalid) {
		t.Errorf("allow after expiry: %d", w.Code)
	}
	got, _ = e.mem.DeviceAuthorizationByUserCode(t.Context(), late.UserCode)
	if got.State != storage.DevicePending {
		t.Errorf("expired code approved: %+v", got)
	}
	if w := b.post(Path+"/decide", url.Values{"user_code": {"MNPQ-RSTV"}, "decision": {"maybe"}}); w.Code != http.StatusBadRequest {
		t.Errorf("unknown decision: %d", w.Code)
	}
}

// Approving records who, how and when, from the session.
func TestApproveRecordsTheSession(t *testing.T) {
	e := newEnv(t)
	d := e.pending("BCDFGHJK")
	b := e.browser("192.0.2.1")
	b.post(Path, url.Values{"user_code": {"BCDF-GHJK"}})
	if w := b.post(Path+"/decide", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"allow"}}); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != Path+"/done?result=approved" {
		t.Fatalf("allow: %d %q", w.Code, w.Header().Get("Location"))
	}
	got, _ := e.mem.DeviceAuthorizationByUserCode(t.Context(), d.UserCode)
	s := e.session
	if got.State != storage.DeviceApproved || got.UserID != s.UserID || got.SessionID != s.ID || got.SID != s.SID ||
		!got.AuthTime.Equal(s.AuthTime) || strings.Join(got.AMR, " ") != strings.Join(s.AMR, " ") {
		t.Errorf("approved authorization %+v", got)
	}
}
