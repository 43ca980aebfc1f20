package demorp

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// discoveryServer serves only what the relying party fetches before talking
// to a real provider: the discovery document and an (empty) JWKS. It is the
// one boundary these tests fake; the flow against the real provider is tested
// end to end elsewhere. up switches it between answering and failing.
type discoveryServer struct {
	*httptest.Server
	up atomic.Bool
	// tokenRequests receives what the app sent to the token endpoint, which
	// only records and refuses (invalid_grant): no tokens are ever issued.
	tokenRequests chan tokenRequest
}

type tokenRequest struct {
	form       url.Values
	user, pass string
	basic      bool
}

func newDiscoveryServer(t *testing.T) *discoveryServer {
	t.Helper()
	d := &discoveryServer{tokenRequests: make(chan tokenRequest, 10)}
	d.up.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := d.URL
		writeJSON(w, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                iss + "/authorize",
			"token_endpoint":                        iss + "/oauth/token",
			"userinfo_endpoint":                     iss + "/userinfo",
			"jwks_uri":                              iss + "/keys",
			"end_session_endpoint":                  iss + "/end_session",
			"scopes_supported":                      Scopes(),
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		user, pass, basic := r.BasicAuth()
		r.ParseForm()
		d.tokenRequests <- tokenRequest{form: r.PostForm, user: user, pass: pass, basic: basic}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"keys": []any{}})
	})
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// newTestApp serves a demo app under httptest the way NewHandler documents:
// listener first, so the ExternalURL is known before the handler is built.
func newTestApp(t *testing.T, issuer string) (*httptest.Server, App) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	app := App{
		Name:         "Aplikasi Uji (test app)",
		ClientID:     "demo-test",
		ClientSecret: "rahasia",
		Addr:         srv.Listener.Addr().String(),
		ExternalURL:  "http://" + srv.Listener.Addr().String(),
	}
	h, err := NewHandler(t.Context(), issuer, app, nil, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, app
}

// browser keeps cookies and stops at every redirect so tests can inspect it.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	return resp, readBody(t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHomeSignedOutShowsSignInLink(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, app := newTestApp(t, op.URL)

	resp, body := get(t, browser(t), srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		`<a id="signin" class="button" href="/login">Masuk dengan satupintu (Sign in)</a>`,
		app.Name,
		app.RedirectURI(),
		app.PostLogoutRedirectURI(),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, absent := range []string{`id="signout"`, `id="claims"`, `id="user-name"`} {
		if strings.Contains(body, absent) {
			t.Errorf("signed-out page has %s", absent)
		}
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+op.URL) {
		t.Errorf("CSP %q does not let the logout form redirect to the provider", csp)
	}
}

func TestLoginStartsCodeFlowWithPKCEAndNonce(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, app := newTestApp(t, op.URL)

	resp, _ := get(t, browser(t), srv.URL+"/login")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), op.URL+"/authorize?") {
		t.Fatalf("Location = %q, want the authorization endpoint", resp.Header.Get("Location"))
	}
	q := loc.Query()
	wantParams := map[string]string{
		"client_id":             app.ClientID,
		"redirect_uri":          app.RedirectURI(),
		"response_type":         "code",
		"scope":                 "openid profile email phone organization offline_access",
		"code_challenge_method": "S256",
	}
	for k, want := range wantParams {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("%s is missing", k)
		}
	}

	// The flow cookies are namespaced to this app (browsers ignore the port)
	// and the state, nonce and verifier travel only encrypted.
	prefix := cookiePrefix(app.ExternalURL)
	names := map[string]bool{}
	for _, c := range resp.Cookies() {
		names[c.Name] = true
		if !strings.HasPrefix(c.Name, prefix) {
			t.Errorf("cookie %q is not namespaced with %q", c.Name, prefix)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
			t.Errorf("cookie %q: HttpOnly=%v SameSite=%v Secure=%v, want HttpOnly, Lax, not Secure over http", c.Name, c.HttpOnly, c.SameSite, c.Secure)
		}
		if strings.Contains(c.Value, q.Get("state")) || strings.Contains(c.Value, q.Get("nonce")) {
			t.Errorf("cookie %q carries the state or nonce in clear", c.Name)
		}
	}
	for _, n := range []string{"state", "pkce", "nonce"} {
		if !names[prefix+n] {
			t.Errorf("no %s cookie; got %v", prefix+n, names)
		}
	}
}

func TestCallbackRejections(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, app := newTestApp(t, op.URL)
	sessionCookie := cookiePrefix(app.ExternalURL) + "session"

	tests := []struct {
		name  string
		login bool // start the flow first, so the flow cookies exist
		query func(state string) string
	}{
		{"wrong state is rejected", true, func(string) string { return "code=abc&state=forged" }},
		{"missing state is rejected", true, func(string) string { return "code=abc" }},
		{"callback without a started sign-in is rejected", false, func(string) string { return "code=abc&state=x" }},
		// The state matches, so the code goes to the token endpoint, which
		// refuses it: still no session.
		{"refused code exchange is rejected", true, func(s string) string { return "code=abc&state=" + url.QueryEscape(s) }},
	}
	var lastChallenge string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browser(t)
			var auth url.Values
			if tt.login {
				resp, _ := get(t, c, srv.URL+"/login")
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				auth = loc.Query()
				lastChallenge = auth.Get("code_challenge")
			}

			resp, body := get(t, c, srv.URL+"/callback?"+tt.query(auth.Get("state")))
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("status = %d, want 4xx", resp.StatusCode)
			}
			if !strings.Contains(body, msgSignInFailed) {
				t.Errorf("body lacks the short message:\n%s", body)
			}
			for _, leak := range []string{"does not compare", "failed to", "oauth2", "securecookie", "http://127.0.0.1"} {
				if strings.Contains(body, leak) {
					t.Errorf("body shows internal detail %q", leak)
				}
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie && ck.MaxAge >= 0 {
					t.Errorf("rejected callback set a session cookie")
				}
			}
			_, home := get(t, c, srv.URL+"/")
			if !strings.Contains(home, `id="signin"`) {
				t.Errorf("after a rejected callback the app shows a signed-in page")
			}
		})
	}

	// Only the last case reached the token endpoint. It must have used
	// client_secret_basic and the PKCE verifier behind the S256 challenge.
	select {
	case tr := <-op.tokenRequests:
		if !tr.basic || tr.user != app.ClientID || tr.pass != app.ClientSecret {
			t.Errorf("token request auth: basic=%v user=%q, want client_secret_basic", tr.basic, tr.user)
		}
		if tr.form.Has("client_secret") {
			t.Error("token request also sent client_secret in the body (RFC 6749 §2.3: one method only)")
		}
		if tr.form.Get("grant_type") != "authorization_code" || tr.form.Get("code") != "abc" || tr.form.Get("redirect_uri") != app.RedirectURI() {
			t.Errorf("token request form = %v", tr.form)
		}
		if v := tr.form.Get("code_verifier"); v == "" || oidc.NewSHACodeChallenge(v) != lastChallenge {
			t.Errorf("code_verifier %q does not match the S256 challenge %q", v, lastChallenge)
		}
	default:
		t.Error("the matching state did not lead to a token request")
	}
	if len(op.tokenRequests) > 0 {
		t.Error("a rejected state still led to a token request")
	}
}

func TestLogoutNeedsPOSTFromSameOrigin(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, _ := newTestApp(t, op.URL)
	c := browser(t)

	resp, _ := get(t, c, srv.URL+"/logout")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: status = %d, want 405", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/logout", strings.NewReader("csrf_token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, msgForbidden) {
		t.Errorf("cross-site POST /logout: status = %d, want 403 with the short message", resp.StatusCode)
	}

	// Without a session there is nothing to end: back to the start page.
	resp, err = c.PostForm(srv.URL+"/logout", url.Values{"csrf_token": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("POST /logout without session: %d %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, _ = get(t, c, srv.URL+"/refresh")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /refresh: status = %d, want 405", resp.StatusCode)
	}
}

func TestDiscoveryIsRetriedUntilProviderIsUp(t *testing.T) {
	op := newDiscoveryServer(t)
	op.up.Store(false)
	srv, _ := newTestApp(t, op.URL)
	c := browser(t)

	// The start page does not need the provider.
	if resp, _ := get(t, c, srv.URL+"/"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / with provider down: status = %d, want 200", resp.StatusCode)
	}
	resp, body := get(t, c, srv.URL+"/login")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, msgProviderDown) {
		t.Errorf("GET /login with provider down: status = %d, want 503 with the short message", resp.StatusCode)
	}
	if strings.Contains(body, "discover") || strings.Contains(body, "503") {
		t.Errorf("body shows internal detail:\n%s", body)
	}

	op.up.Store(true)
	resp, _ = get(t, c, srv.URL+"/login")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), op.URL+"/authorize") {
		t.Errorf("GET /login after provider came up: %d %q, want 302 to the provider", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestNewHandlerRejectsBadInput(t *testing.T) {
	good := App{Name: "A", ClientID: "a", ClientSecret: "s", ExternalURL: "http://localhost:8081"}
	tests := []struct {
		name   string
		issuer string
		app    App
	}{
		{"relative issuer", "localhost:8080", good},
		{"missing secret", "http://localhost:8080", App{Name: "A", ClientID: "a", ExternalURL: "http://localhost:8081"}},
		{"url with path", "http://localhost:8080", App{Name: "A", ClientID: "a", ClientSecret: "s", ExternalURL: "http://localhost:8081/app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHandler(t.Context(), tt.issuer, tt.app, nil, nil); err == nil {
				t.Error("NewHandler succeeded, want error")
			}
		})
	}
}
