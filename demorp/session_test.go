package demorp

import (
	"encoding/base64"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A verified ID token as the provider would issue it; the signature part is
// irrelevant here because sessions are only created after rp verified it.
const testIDTokenPayload = `{"iss":"http://localhost:8080","sub":"u-123","aud":["demo-test"],
"exp":1700003600,"iat":1700000000,"auth_time":1699999990,"nonce":"n-1","amr":["pwd","otp"],
"name":"Siti Rahma","email":"siti@example.co.id",
"organization":{"nib":"8120001234567","npwp":"01.234.567.8-901.000","name":"PT Maju Jaya",
"trader_type":"importer","business_type":"PT","address":{"city":"Jakarta"},"position":"Direktur"}}`

func testIDToken() string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(testIDTokenPayload)) + ".c2ln"
}

// signedInApp serves an app whose store already holds a session, standing in
// for a completed code flow (which needs the real provider).
func signedInApp(t *testing.T, op *discoveryServer, refreshToken string) (srv *httptest.Server, h *handler, c *http.Client, csrf string) {
	t.Helper()
	srv = httptest.NewUnstartedServer(nil)
	app := App{Name: "Aplikasi Uji", ClientID: "demo-test", ClientSecret: "rahasia", ExternalURL: "http://" + srv.Listener.Addr().String()}
	h, err := newHandler(op.URL, app, nil, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h.routes()
	srv.Start()
	t.Cleanup(srv.Close)

	claims, err := decodeClaims(testIDToken())
	if err != nil {
		t.Fatal(err)
	}
	csrf = "csrf-token-1"
	h.sessions.put("sid-1", session{
		IDToken:  testIDToken(),
		Claims:   claims,
		Userinfo: map[string]any{"sub": "u-123", "name": "Siti Rahma", "organization": map[string]any{"nib": "8120001234567"}},
		Nonce:    "n-1", AccessToken: "at-1", TokenType: "Bearer", Expiry: time.Unix(1700003600, 0),
		RefreshToken: refreshToken,
		CSRF:         csrf,
	})
	c = browser(t)
	u, _ := url.Parse(srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: h.prefix + "session", Value: "sid-1", Path: "/"}})
	return srv, h, c, csrf
}

func TestHomeSignedInShowsClaims(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, _, c, _ := signedInApp(t, op, "")

	resp, body := get(t, c, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	text := html.UnescapeString(body)
	for _, want := range []string{
		`<strong id="user-name">Siti Rahma</strong>`,
		`<dd id="org-nib">8120001234567</dd>`,
		`<dd id="org-npwp">01.234.567.8-901.000</dd>`,
		`<button id="signout" type="submit">Keluar (Sign out)</button>`,
		`<table id="claims">`,
		`<pre id="userinfo">{`,
		`<th scope="row">nonce</th><td>n-1</td>`,
		`<th scope="row">auth_time</th><td>1699999990 (2023-11-14 22:13:10 UTC)</td>`,
		`<th scope="row">amr</th><td>["pwd","otp"]</td>`,
		"<th scope=\"row\">organization</th><td><pre>{\n  \"address\": {\n    \"city\": \"Jakarta\"\n  },",
		`name="csrf_token" value="csrf-token-1"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="signin"`) {
		t.Error("signed-in page still offers sign-in")
	}
}

func TestLogout(t *testing.T) {
	op := newDiscoveryServer(t)

	t.Run("bad csrf token is refused and keeps the session", func(t *testing.T) {
		srv, h, c, _ := signedInApp(t, op, "")
		resp, err := c.PostForm(srv.URL+"/logout", url.Values{"csrf_token": {"wrong"}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
		if _, ok := h.sessions.get("sid-1"); !ok {
			t.Error("session was ended by a request without the csrf token")
		}
	})

	t.Run("ends the session and redirects to end_session", func(t *testing.T) {
		srv, h, c, csrf := signedInApp(t, op, "")
		resp, err := c.PostForm(srv.URL+"/logout", url.Values{"csrf_token": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status = %d, want 303", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != op.URL+"/end_session" {
			t.Fatalf("Location = %q, want the end_session_endpoint", resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("id_token_hint") != testIDToken() || q.Get("client_id") != "demo-test" ||
			q.Get("post_logout_redirect_uri") != srv.URL+"/" || q.Get("state") == "" {
			t.Errorf("end session query = %v", q)
		}
		if _, ok := h.sessions.get("sid-1"); ok {
			t.Error("session survived logout")
		}

		_, body := get(t, c, srv.URL+"/?state=forged")
		if strings.Contains(body, `id="signed-out"`) || !strings.Contains(body, `id="signin"`) {
			t.Error("a forged state shows the signed-out notice, or the user is still signed in")
		}
		_, body = get(t, c, srv.URL+"/?state="+url.QueryEscape(q.Get("state")))
		if !strings.Contains(body, `id="signed-out"`) {
			t.Error("returning from the provider with our state does not show the signed-out notice")
		}
	})
}

func TestRefresh(t *testing.T) {
	op := newDiscoveryServer(t)

	t.Run("without a refresh token says so", func(t *testing.T) {
		srv, _, c, csrf := signedInApp(t, op, "")
		resp, err := c.PostForm(srv.URL+"/refresh", url.Values{"csrf_token": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status = %d, want 303", resp.StatusCode)
		}
		_, body := get(t, c, srv.URL+"/")
		if !strings.Contains(html.UnescapeString(body), msgNoRefresh) {
			t.Error("page does not explain that there is no refresh token")
		}
		// The notice is shown once.
		if _, body = get(t, c, srv.URL+"/"); strings.Contains(body, `id="flash"`) {
			t.Error("flash message shown twice")
		}
	})

	t.Run("refused refresh keeps the session and uses client_secret_basic", func(t *testing.T) {
		srv, h, c, csrf := signedInApp(t, op, "rt-1")
		resp, err := c.PostForm(srv.URL+"/refresh", url.Values{"csrf_token": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status = %d, want 303", resp.StatusCode)
		}
		tr := <-op.tokenRequests
		if !tr.basic || tr.user != "demo-test" || tr.pass != "rahasia" || tr.form.Has("client_secret") {
			t.Errorf("refresh auth: basic=%v user=%q body secret=%v, want client_secret_basic only", tr.basic, tr.user, tr.form.Has("client_secret"))
		}
		if tr.form.Get("grant_type") != "refresh_token" || tr.form.Get("refresh_token") != "rt-1" {
			t.Errorf("refresh form = %v", tr.form)
		}
		// Omitted scope means "as granted"; re-sending all requested scopes
		// fails when the provider granted fewer.
		if tr.form.Has("scope") {
			t.Errorf("refresh sent scope %q", tr.form.Get("scope"))
		}
		sess, ok := h.sessions.get("sid-1")
		if !ok || sess.RefreshToken != "rt-1" {
			t.Error("a refused refresh lost the session")
		}
		_, body := get(t, c, srv.URL+"/")
		if !strings.Contains(html.UnescapeString(body), msgRefreshFailed) {
			t.Error("page does not say the refresh failed")
		}
	})
}

func TestSessionStoreExpires(t *testing.T) {
	s := newSessionStore(time.Hour)
	now := time.Unix(1700000000, 0)
	s.now = func() time.Time { return now }
	s.put("a", session{CSRF: "x"})
	if got, ok := s.get("a"); !ok || got.CSRF != "x" {
		t.Fatal("fresh session not found")
	}
	now = now.Add(2 * time.Hour)
	if _, ok := s.get("a"); ok {
		t.Error("expired session still served")
	}
	if s.update("a", func(*session) {}) {
		t.Error("expired session updated")
	}
	s.put("b", session{})
	if len(s.m) != 1 {
		t.Errorf("store holds %d sessions, want expired ones pruned", len(s.m))
	}
}

func TestScopeRPCookies(t *testing.T) {
	const prefix = "demorp_aaaa_"
	var seen []string
	h := scopeRPCookies(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			seen = append(seen, c.Name+"="+c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: "state", Value: "new", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: prefix + "session", Value: "s"})
		w.WriteHeader(http.StatusFound)
	}))
	req := httptest.NewRequest(http.MethodGet, "/callback", nil)
	req.Header.Set("Cookie", "state=other-app; "+prefix+"state=mine; "+prefix+"pkce=v; unrelated=1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if got, want := strings.Join(seen, " "), "state=mine pkce=v unrelated=1"; got != want {
		t.Errorf("handler saw cookies %q, want %q", got, want)
	}
	set := rec.Result().Cookies()
	if len(set) != 2 || set[0].Name != prefix+"state" || set[0].Value != "new" || !set[0].HttpOnly ||
		set[0].SameSite != http.SameSiteLaxMode || set[1].Name != prefix+"session" {
		t.Errorf("Set-Cookie = %v, want the state cookie renamed and attributes kept", rec.Header()["Set-Cookie"])
	}
}

func TestClaimHelpers(t *testing.T) {
	claims := map[string]any{"sub": "u-1", "preferred_username": "siti"}
	info := map[string]any{"organization": map[string]any{"nib": "123", "npwp": "456"}}
	if got := displayName(claims, info); got != "siti" {
		t.Errorf("displayName = %q, want the preferred_username when name is absent", got)
	}
	if got := orgField(claims, info, "npwp"); got != "456" {
		t.Errorf("orgField from userinfo = %q", got)
	}
	if got := orgField(claims, nil, "nib"); got != "" {
		t.Errorf("orgField without organization = %q, want empty", got)
	}
	if _, err := decodeClaims("not-a-jwt"); err == nil {
		t.Error("decodeClaims accepted a non-JWT")
	}
}
