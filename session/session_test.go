package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/session"
	"satupintu/storage"
	"satupintu/web"
)

type fakeStore struct {
	sessions map[string]storage.Session
	users    map[string]storage.User
}

func (f *fakeStore) SessionByID(_ context.Context, id string) (storage.Session, error) {
	s, ok := f.sessions[id]
	if !ok {
		return storage.Session{}, storage.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) UserByID(_ context.Context, id string) (storage.User, error) {
	u, ok := f.users[id]
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return u, nil
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newManager(t *testing.T, now *time.Time) (*session.Manager, *fakeStore) {
	t.Helper()
	st := &fakeStore{sessions: map[string]storage.Session{}, users: map[string]storage.User{}}
	m := &session.Manager{
		Cookie:   session.Cookie{Codec: securecookie.New(securecookie.GenerateRandomKey(32), nil), TTL: time.Hour},
		Sessions: st, Users: st, Now: func() time.Time { return *now },
	}
	return m, st
}

// signedRequest returns a request carrying a cookie for session id.
func signedRequest(t *testing.T, m *session.Manager, method, target, id string) *http.Request {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.Cookie.Set(rec, id); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, target, nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestCurrentSession(t *testing.T) {
	now := t0
	m, st := newManager(t, &now)
	st.users["u1"] = storage.User{ID: "u1"}
	st.users["u2"] = storage.User{ID: "u2", Disabled: true}
	st.sessions["s1"] = storage.Session{ID: "s1", UserID: "u1", AuthTime: t0, ExpiresAt: t0.Add(time.Hour)}
	st.sessions["s2"] = storage.Session{ID: "s2", UserID: "u2", AuthTime: t0, ExpiresAt: t0.Add(time.Hour)}

	if _, u, ok := m.CurrentSession(signedRequest(t, m, "GET", "/", "s1")); !ok || u.ID != "u1" {
		t.Fatalf("CurrentSession = %v, %v; want u1", u.ID, ok)
	}
	if _, ok := m.CurrentUser(signedRequest(t, m, "GET", "/", "s2")); ok {
		t.Error("a disabled user's session still counts")
	}
	if _, ok := m.CurrentUser(signedRequest(t, m, "GET", "/", "gone")); ok {
		t.Error("a cookie for an unknown session counts")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: m.Cookie.Name(), Value: "forged"})
	if _, ok := m.CurrentUser(r); ok {
		t.Error("a forged cookie counts")
	}
	now = t0.Add(time.Hour)
	if _, ok := m.CurrentUser(signedRequest(t, m, "GET", "/", "s1")); ok {
		t.Error("an expired session counts")
	}
}

func TestCookieName(t *testing.T) {
	if got := (session.Cookie{Secure: true}).Name(); got != "__Host-satupintu_session" {
		t.Errorf("secure name = %q", got)
	}
	if got := (session.Cookie{}).Name(); got != "satupintu_session" {
		t.Errorf("name = %q", got)
	}
}

// fixture is a guard over one signed-in user, u1, authenticated at t0.
type fixture struct {
	m      *session.Manager
	st     *fakeStore
	g      *session.Guard
	now    time.Time
	signIn []string // paths SignIn was asked to return to
	ran    int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: t0}
	f.m, f.st = newManager(t, &f.now)
	f.st.users["u1"] = storage.User{ID: "u1"}
	f.st.sessions["s1"] = storage.Session{ID: "s1", UserID: "u1", AuthTime: t0, ExpiresAt: t0.Add(8 * time.Hour)}
	f.g = f.m.Guard()
	f.g.SignIn = func(w http.ResponseWriter, r *http.Request, path string) {
		f.signIn = append(f.signIn, path)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	return f
}

func (f *fixture) handler(w http.ResponseWriter, r *http.Request) error {
	who, ok := session.From(r.Context())
	if !ok || who.User.ID != "u1" {
		return errors.New("handler ran without the signed-in user")
	}
	f.ran++
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func serve(t *testing.T, fn web.HandlerFunc, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	return rec, fn(rec, r)
}

func TestRequireUser(t *testing.T) {
	f := newFixture(t)
	fn := f.g.RequireUser(f.handler)

	rec, err := serve(t, fn, httptest.NewRequest("GET", "/apps?x=1", nil))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("anonymous GET: %d %q %v", rec.Code, rec.Header().Get("Location"), err)
	}
	if len(f.signIn) != 1 || f.signIn[0] != "/apps?x=1" {
		t.Errorf("return path = %v; want [/apps?x=1]", f.signIn)
	}
	// A POST cannot be replayed after sign-in: plain sign-in, no return.
	rec, err = serve(t, fn, httptest.NewRequest("POST", "/apps", nil))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" || len(f.signIn) != 1 {
		t.Fatalf("anonymous POST: %d %q %v (sign-ins %v)", rec.Code, rec.Header().Get("Location"), err, f.signIn)
	}
	if f.ran != 0 {
		t.Fatal("the handler ran for an anonymous request")
	}
	rec, err = serve(t, fn, signedRequest(t, f.m, "GET", "/apps", "s1"))
	if err != nil || rec.Code != http.StatusNoContent || f.ran != 1 {
		t.Fatalf("signed-in GET: %d %v ran %d", rec.Code, err, f.ran)
	}
}

func TestRequireRole(t *testing.T) {
	f := newFixture(t)
	fn := f.g.RequireRole(storage.RoleAdmin)(f.handler)
	_, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1"))
	var we *web.Error
	if !errors.As(err, &we) || we.Status != http.StatusForbidden || we.MessageKey != "session.forbidden" {
		t.Fatalf("without the role: %v; want a 403 web.Error", err)
	}
	if f.ran != 0 {
		t.Fatal("the handler ran without the role")
	}
	f.g.ForbiddenKey = "officer.forbidden"
	if _, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); !errors.As(err, &we) || we.MessageKey != "officer.forbidden" {
		t.Errorf("ForbiddenKey not used: %v", err)
	}
	f.st.users["u1"] = storage.User{ID: "u1", Roles: []string{storage.RoleAdmin}}
	rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1"))
	if err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("with the role: %d %v", rec.Code, err)
	}
	// Anonymous: sign in first, not 403.
	rec, err = serve(t, fn, httptest.NewRequest("GET", "/admin", nil))
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("anonymous: %d %v", rec.Code, err)
	}
}

func TestRequireSecondFactor(t *testing.T) {
	f := newFixture(t)
	fn := f.g.RequireSecondFactor(f.handler)
	rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1"))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/mfa?need=second_factor" || f.ran != 0 {
		t.Fatalf("no second factor: %d %q %v ran %d", rec.Code, rec.Header().Get("Location"), err, f.ran)
	}
	// A passkey counts.
	f.g.HasPasskey = func(_ context.Context, id string) (bool, error) { return id == "u1", nil }
	if rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("passkey: %d %v", rec.Code, err)
	}
	// So does TOTP.
	f.g.HasPasskey = nil
	f.st.users["u1"] = storage.User{ID: "u1", MFAEnrolledAt: t0}
	if rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("totp: %d %v", rec.Code, err)
	}
	// A failing lookup fails closed.
	f.st.users["u1"] = storage.User{ID: "u1"}
	f.g.HasPasskey = func(context.Context, string) (bool, error) { return false, storage.ErrUnavailable }
	if _, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("lookup failure: %v", err)
	}
}

func TestRequireFreshAuth(t *testing.T) {
	f := newFixture(t)
	fn := f.g.RequireFreshAuth(5 * time.Minute)(f.handler)

	f.now = t0.Add(5 * time.Minute)
	if rec, err := serve(t, fn, signedRequest(t, f.m, "POST", "/admin/clients", "s1")); err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("fresh POST: %d %v", rec.Code, err)
	}
	f.now = t0.Add(5*time.Minute + time.Second)
	rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin/clients?page=2", "s1"))
	loc := rec.Header().Get("Location")
	if err != nil || rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, session.ReauthPath+"?") {
		t.Fatalf("stale GET: %d %q %v", rec.Code, loc, err)
	}
	u, _ := url.Parse(loc)
	if got := u.Query().Get(session.ReturnParam); got != "/admin/clients?page=2" {
		t.Errorf("return = %q; want the original GET", got)
	}
	rec, err = serve(t, fn, signedRequest(t, f.m, "POST", "/admin/clients", "s1"))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != session.ReauthURL("/") {
		t.Fatalf("stale POST: %d %q %v", rec.Code, rec.Header().Get("Location"), err)
	}
	if f.ran != 1 {
		t.Fatalf("the handler ran %d times; want once (the fresh POST only)", f.ran)
	}
	f.g.Home = "/admin"
	rec, _ = serve(t, fn, signedRequest(t, f.m, "POST", "/admin/clients", "s1"))
	if rec.Header().Get("Location") != session.ReauthURL("/admin") {
		t.Errorf("stale POST with Home: %q", rec.Header().Get("Location"))
	}
}

func TestChainOrder(t *testing.T) {
	f := newFixture(t)
	fn := session.Chain(f.handler, f.g.RequireUser, f.g.RequireRole(storage.RoleAdmin), f.g.RequireSecondFactor)
	// Without the role the 403 comes before the enrolment redirect.
	if _, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); err == nil {
		t.Fatal("no error without the role")
	}
	f.st.users["u1"] = storage.User{ID: "u1", Roles: []string{storage.RoleAdmin}, MFAEnrolledAt: t0}
	if rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("all checks pass: %d %v", rec.Code, err)
	}
}

func TestRequireSecondFactorUsed(t *testing.T) {
	f := newFixture(t)
	f.g.Home = "/admin"
	fn := f.g.RequireSecondFactorUsed(f.handler)
	f.st.users["u1"] = storage.User{ID: "u1", MFAEnrolledAt: t0}

	// Opened with the password alone: re-authenticate, nothing runs.
	f.st.sessions["s1"] = storage.Session{ID: "s1", UserID: "u1", AuthTime: t0, ExpiresAt: t0.Add(8 * time.Hour), AMR: []string{storage.AMRPassword}}
	rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin/users?q=budi", "s1"))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != session.ReauthURL("/admin/users?q=budi") {
		t.Fatalf("password-only GET: %d %q %v", rec.Code, rec.Header().Get("Location"), err)
	}
	rec, err = serve(t, fn, signedRequest(t, f.m, "POST", "/admin/keys/rotate", "s1"))
	if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != session.ReauthURL("/admin") {
		t.Fatalf("password-only POST: %d %q %v", rec.Code, rec.Header().Get("Location"), err)
	}
	// A passkey-only user cannot re-authenticate with a code: 403.
	f.st.users["u1"] = storage.User{ID: "u1"}
	var we *web.Error
	if _, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); !errors.As(err, &we) || we.Status != http.StatusForbidden {
		t.Fatalf("passkey-only: %v", err)
	}
	// Opened with the second factor: runs.
	f.st.sessions["s1"] = storage.Session{ID: "s1", UserID: "u1", AuthTime: t0, ExpiresAt: t0.Add(8 * time.Hour), AMR: []string{storage.AMRPassword, storage.AMRMFA}}
	if rec, err := serve(t, fn, signedRequest(t, f.m, "GET", "/admin", "s1")); err != nil || rec.Code != http.StatusNoContent {
		t.Fatalf("mfa session: %d %v", rec.Code, err)
	}
	if f.ran != 1 {
		t.Fatalf("the handler ran %d times; want once", f.ran)
	}
}
