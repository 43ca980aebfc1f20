package op

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/quota"
)

// wantUnavailable checks a protocol answer is 503 temporarily_unavailable
// without internals.
func wantUnavailable(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	checkNoLeak(t, name, w)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503: %s", name, w.Code, w.Body)
		return
	}
	if tk := decode(t, w); tk.Error != "temporarily_unavailable" || !validDescription(tk.Description) {
		t.Errorf("%s: %s, want temporarily_unavailable", name, w.Body)
	}
}

// wantPage checks a browser answer is the page with key and status.
func wantPage(t *testing.T, name string, w *httptest.ResponseRecorder, status int, key string) {
	t.Helper()
	checkNoLeak(t, name, w)
	if w.Code != status || !strings.Contains(w.Body.String(), "page:"+key+"<") || w.Header().Get("Location") != "" {
		t.Errorf("%s: %d %q %s, want the %s page with %d", name, w.Code, w.Header().Get("Location"), w.Body, key, status)
	}
}

func TestDependencyFailureIsTemporarilyUnavailable(t *testing.T) {
	h := newHarness(t)
	tk := h.signedIn()
	pk := newPKCE()
	code := h.code(pk)

	t.Run("postgres down", func(t *testing.T) {
		h.dur.down.Store(true)
		defer h.dur.down.Store(false)
		// A refresh during an outage must not tell the relying party to
		// throw its refresh token away (invalid_grant). The client is
		// cached: the refresh token lookup is what fails.
		w := h.post("/oauth/token", "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
		wantUnavailable(t, "refresh", w)
		h.now = h.now.Add(time.Second) // past the client cache
		wantUnavailable(t, "client_credentials", h.post("/oauth/token", "service", url.Values{"grant_type": {"client_credentials"}}))
		wantUnavailable(t, "client id only at the token endpoint", h.post("/oauth/token", "",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}, "client_id": {"ghost"}}))
		wantUnavailable(t, "revocation", h.post("/revoke", "app", url.Values{"token": {tk.RefreshToken}, "token_type_hint": {"refresh_token"}}))
		wantUnavailable(t, "introspection", h.post("/oauth/introspect", "app", url.Values{"token": {tk.AccessToken}}))
		// Not "unknown client" while the database is down.
		wantPage(t, "authorize", h.get("/authorize?"+authorizeQuery(newPKCE()).Encode()), http.StatusServiceUnavailable, keyUnavailable)
		wantPage(t, "end_session", h.get("/end_session?client_id=app&post_logout_redirect_uri="+url.QueryEscape(testLogout)),
			http.StatusServiceUnavailable, keyUnavailable)
	})
	h.dur.down.Store(false)
	if w := h.post("/oauth/token", "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}); w.Code != http.StatusOK {
		t.Fatalf("the refresh token did not survive the outage: %d %s", w.Code, w.Body)
	}

	t.Run("redis down", func(t *testing.T) {
		h.eph.down.Store(true)
		defer h.eph.down.Store(false)
		wantUnavailable(t, "code exchange", h.post("/oauth/token", "app", url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}}))
		wantUnavailable(t, "client_credentials", h.post("/oauth/token", "service", url.Values{"grant_type": {"client_credentials"}}))
		wantUnavailable(t, "introspection", h.post("/oauth/introspect", "app", url.Values{"token": {tk.AccessToken}}))
		wantUnavailable(t, "revocation", h.post("/revoke", "app", url.Values{"token": {tk.AccessToken}, "token_type_hint": {"access_token"}}))
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
		wantUnavailable(t, "userinfo", h.serve(r))
		wantPage(t, "authorize", h.get("/authorize?"+authorizeQuery(newPKCE()).Encode()), http.StatusServiceUnavailable, keyUnavailable)
		wantPage(t, "callback", h.get("/authorize/callback?id=some-id"), http.StatusServiceUnavailable, keyUnavailable)
	})
}

func TestCredentialsInURLsAreRefused(t *testing.T) {
	h := newHarness(t)
	tk := h.signedIn()
	for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke"} {
		q := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}, "token": {tk.AccessToken},
			"client_id": {"app"}, "client_secret": {testSecret}}.Encode()
		w := h.get(path + "?" + q)
		if got := decode(t, w); w.Code != http.StatusMethodNotAllowed || got.AccessToken != "" || got.Error != "invalid_request" {
			t.Errorf("GET %s with credentials in the query: %d %s, want 405 invalid_request", path, w.Code, w.Body)
		}
		r := httptest.NewRequest(http.MethodPost, path+"?"+q, strings.NewReader(""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w = h.serve(r)
		if got := decode(t, w); w.Code != http.StatusBadRequest || got.AccessToken != "" || got.Error != "invalid_request" {
			t.Errorf("POST %s with credentials in the query: %d %s, want 400 invalid_request", path, w.Code, w.Body)
		}
	}
	// The refresh token is still good: the refused requests used nothing.
	if w := h.post("/oauth/token", "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}); w.Code != http.StatusOK {
		t.Fatalf("refresh in the body: %d %s", w.Code, w.Body)
	}
}

func TestUserinfoRefusesQueryAccessToken(t *testing.T) {
	h := newHarness(t)
	tk := h.signedIn()
	w := h.get("/userinfo?access_token=" + url.QueryEscape(tk.AccessToken))
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") ||
		!strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_request"`) || strings.Contains(w.Body.String(), h.user.Email) {
		t.Errorf("query access_token: %d %q %s, want 401 invalid_request with a Bearer challenge", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
	// RFC 6750 §2.2: a form body parameter on POST stays allowed.
	w = h.post("/userinfo", "", url.Values{"access_token": {tk.AccessToken}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), h.user.ID) {
		t.Errorf("form body access_token: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if w := h.serve(r); w.Code != http.StatusOK {
		t.Errorf("Authorization header: %d %s", w.Code, w.Body)
	}
	// A token that decrypts but was revoked: 401 invalid_token (RFC 6750 §3.1).
	if w := h.post("/revoke", "app", url.Values{"token": {tk.AccessToken}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	w = h.serve(r)
	if got := decode(t, w); w.Code != http.StatusUnauthorized || got.Error != "invalid_token" || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("revoked token: %d %s %q", w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
	}
}

func TestMalformedEndSessionIsBadRequest(t *testing.T) {
	h := newHarness(t)
	for name, query := range map[string]string{
		"undecodable state":  "state=%zz",
		"undecodable name":   "%zz=1",
		"repeated state":     "state=a&state=b",
		"oversized state":    "state=" + strings.Repeat("s", 1025),
		"oversized redirect": "post_logout_redirect_uri=" + strings.Repeat("r", 2049),
		"oversized locales":  "ui_locales=" + url.QueryEscape(strings.Repeat("id ", 30)),
	} {
		wantPage(t, name, h.get("/end_session?"+query), http.StatusBadRequest, keyLogoutInvalid)
	}
	// A registered redirect with a normal state goes on to the logout page.
	w := h.get("/end_session?client_id=app&state=ok&post_logout_redirect_uri=" + url.QueryEscape(testLogout))
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/logout?id=x" {
		t.Errorf("valid end_session: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	// An unregistered one is a page, not JSON, and not a 500.
	wantPage(t, "unregistered redirect", h.get("/end_session?client_id=app&post_logout_redirect_uri=http://evil.test/"),
		http.StatusBadRequest, keyLogoutInvalid)
}

func TestErrorDescriptionsStayInCharset(t *testing.T) {
	h := newHarness(t)
	// zitadel echoes an unknown grant_type in the description.
	w := h.post("/oauth/token", "app", url.Values{"grant_type": {"evil\x01\"quote\\back\u00e9\n\x7f"}})
	got := decode(t, w)
	if w.Code != http.StatusBadRequest || got.Error != "unsupported_grant_type" || !validDescription(got.Description) {
		t.Errorf("echoed grant_type: %d %s", w.Code, w.Body)
	}
	// The same for an error redirected to the client.
	w = h.get("/authorize?" + authorizeQuery(newPKCE(), "prompt", "none login", "state", "s\x01\u00e9").Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	if d := loc.Query().Get("error_description"); loc.Query().Get("error") != "invalid_request" || !validDescription(d) {
		t.Errorf("redirected error: %q", w.Header().Get("Location"))
	}
	for _, s := range []string{"a\"b\\c\x00d\u00e9\u2028e\tf", strings.Repeat("x", 1000), "\xff\xfe"} {
		if d := sanitizeDescription(s); !validDescription(d) || len(d) > maxDescriptionLen {
			t.Errorf("sanitizeDescription(%q) = %q", s, d)
		}
	}
}

func TestFailedBasicAuthenticationChallenges(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/oauth/introspect", "/oauth/token", "/revoke"} {
		for name, auth := range map[string]string{
			"wrong secret":   basic("app", "wrong"),
			"unknown client": basic("ghost", testSecret),
			"not Basic":      "Bearer xyz",
			"garbage Basic":  "Basic %%%",
			"bad escaping":   basic("app%zz", testSecret),
		} {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("grant_type=client_credentials&token=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", auth)
			w := h.serve(r)
			got := decode(t, w)
			if w.Code != http.StatusUnauthorized || got.Error != "invalid_client" || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s %s: %d %q %s, want 401 invalid_client with a Basic challenge", path, name, w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
			}
		}
	}
	// Anonymous introspection: 401 JSON, not zitadel's error text.
	w := h.post("/oauth/introspect", "", url.Values{"token": {"x"}})
	if got := decode(t, w); w.Code != http.StatusUnauthorized || got.Error != "invalid_client" || strings.Contains(w.Body.String(), "ErrorType") {
		t.Errorf("anonymous introspection: %d %s", w.Code, w.Body)
	}
}

func basic(id, secret string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(id, secret)
	return r.Header.Get("Authorization")
}

func TestGrantNotAllowedIsUnauthorizedClient(t *testing.T) {
	h := newHarness(t)
	tk := h.signedIn()
	for name, c := range map[string]struct {
		client string
		form   url.Values
	}{
		"client_credentials for a code client": {"app", url.Values{"grant_type": {"client_credentials"}}},
		"refresh_token without the grant":      {"no-rt", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}},
	} {
		w := h.post("/oauth/token", c.client, c.form)
		if got := decode(t, w); w.Code != http.StatusBadRequest || got.Error != "unauthorized_client" {
			t.Errorf("%s: %d %s, want 400 unauthorized_client", name, w.Code, w.Body)
		}
	}
}

func TestPendingAuthorizationRequestsAreCapped(t *testing.T) {
	h := newHarness(t)
	before := h.mem.Stats().AuthRequests
	// Each parameter is under maxParamLen, together they are not.
	q := authorizeQuery(newPKCE(), "state", strings.Repeat("s", 3000), "nonce", strings.Repeat("n", 2000))
	w := h.get("/authorize?" + q.Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Host != "rp.test" || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("oversized request: %d %q, want invalid_request redirected to the client (RFC 6749 §4.1.2.1)", w.Code, w.Header().Get("Location"))
	}
	// One parameter over the limit: a page, the redirect URI not yet checked.
	q = authorizeQuery(newPKCE(), "login_hint", strings.Repeat("h", maxParamLen+1))
	if w := h.get("/authorize?" + q.Encode()); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
		t.Errorf("oversized parameter: %d %q", w.Code, w.Header().Get("Location"))
	}
	// A malformed code_challenge is refused too.
	q = authorizeQuery(newPKCE(), "code_challenge", strings.Repeat("c", 200))
	if w := h.get("/authorize?" + q.Encode()); !strings.Contains(w.Header().Get("Location"), "error=invalid_request") {
		t.Errorf("long code_challenge: %d %q", w.Code, w.Header().Get("Location"))
	}
	if got := h.mem.Stats().AuthRequests; got != before {
		t.Errorf("%d refused requests were stored", got-before)
	}

	// What is stored is trimmed: no response mode, no repeated scopes or
	// unknown prompts, at most maxUILocales locales.
	q = authorizeQuery(newPKCE(), "scope", "openid openid profile profile", "prompt", "login bogus login",
		"ui_locales", "id en fr de es", "response_mode", "query")
	w = h.get("/authorize?" + q.Encode())
	loc, _ = url.Parse(w.Header().Get("Location"))
	stored, err := h.mem.AuthRequestByID(t.Context(), loc.Query().Get("authRequestID"))
	if err != nil {
		t.Fatalf("authorize: %d %q: %v", w.Code, w.Header().Get("Location"), err)
	}
	if stored.ResponseMode != "" || len(stored.Scopes) != 2 || len(stored.Prompt) != 1 || len(stored.UILocales) != maxUILocales {
		t.Errorf("stored %+v", stored)
	}
	if lifetime := h.p.cfg.AuthRequestLifetime; lifetime > 15*time.Minute {
		t.Errorf("pending requests live %v", lifetime)
	}
}

func TestAdmissionOfNewAuthorizationRequests(t *testing.T) {
	h := newHarness(t)
	var seen string
	refuse := func(r *http.Request) error {
		seen = r.RemoteAddr
		return fmt.Errorf("authorize quota: %w", quota.ErrExceeded)
	}
	h.admit.Store(&refuse)
	before := h.mem.Stats().AuthRequests
	w := h.get("/authorize?" + authorizeQuery(newPKCE()).Encode())
	wantPage(t, "over quota", w, http.StatusTooManyRequests, keyTooMany)
	if seen != "192.0.2.7:4242" {
		t.Errorf("the hook saw remote address %q", seen)
	}

	broken := func(*http.Request) error { return errDown }
	h.admit.Store(&broken)
	wantPage(t, "counter store down", h.get("/authorize?"+authorizeQuery(newPKCE()).Encode()), http.StatusServiceUnavailable, keyUnavailable)
	if got := h.mem.Stats().AuthRequests; got != before {
		t.Errorf("%d refused requests were stored", got-before)
	}

	// Invalid requests are refused before admission is asked: they store
	// nothing and cost the client none of its allowance.
	calls := h.admits.Load()
	h.get("/authorize?" + authorizeQuery(newPKCE(), "redirect_uri", "http://evil.test/").Encode())
	h.get("/authorize?" + authorizeQuery(newPKCE(), "code_challenge_method", "plain").Encode())
	if h.admits.Load() != calls {
		t.Errorf("admission asked for invalid requests")
	}

	allow := func(*http.Request) error { return nil }
	h.admit.Store(&allow)
	if w := h.get("/authorize?" + authorizeQuery(newPKCE()).Encode()); w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "/login?") {
		t.Errorf("admitted request: %d %q", w.Code, w.Header().Get("Location"))
	}
}

func TestOnlyOurCallbackFinishesAuthorization(t *testing.T) {
	h := newHarness(t)
	id := h.authRequestID(newPKCE())
	// zitadel's own callback, reachable by POST before, skipped the
	// id_token_hint and prompt=none checks of authorizer.callback.
	w := h.post("/authorize/callback?id="+url.QueryEscape(id), "", url.Values{"id": {id}})
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Location") != "" {
		t.Errorf("POST /authorize/callback: %d %q", w.Code, w.Header().Get("Location"))
	}
	// The device flow is offered, but only to clients holding its grant.
	if w := h.post("/device_authorization", "app", url.Values{"client_id": {"app"}, "scope": {"openid"}}); w.Code != http.StatusBadRequest ||
		decode(t, w).Error != "unauthorized_client" {
		t.Errorf("device authorization: %d %s", w.Code, w.Body)
	}
}
