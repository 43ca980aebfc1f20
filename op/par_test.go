package op

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/quota"
	"satupintu/storage"
)

// parAnswer is a /par answer.
type parAnswer struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
	Error      string `json:"error"`
}

func decodePAR(t *testing.T, w *httptest.ResponseRecorder) parAnswer {
	t.Helper()
	var a parAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %s", w.Code, w.Body)
	}
	return a
}

// push sends q to /par as client "app" with Basic and returns the request_uri.
func (h *harness) push(t *testing.T, q url.Values) string {
	t.Helper()
	w := h.post("/par", "app", q)
	a := decodePAR(t, w)
	if w.Code != http.StatusCreated || a.RequestURI == "" {
		t.Fatalf("push: %d %s", w.Code, w.Body)
	}
	return a.RequestURI
}

// authorizePushed is /authorize with client_id and request_uri only.
func (h *harness) authorizePushed(clientID, requestURI string) *httptest.ResponseRecorder {
	return h.get("/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode())
}

func TestPushedAuthorizationRequest(t *testing.T) {
	h, key := newJWTHarness(t)
	pk := newPKCE()
	q := authorizeQuery(pk, "state", "pushed-state")

	t.Run("pushed, then used once at /authorize", func(t *testing.T) {
		w := h.post("/par", "app", q)
		a := decodePAR(t, w)
		if w.Code != http.StatusCreated || a.ExpiresIn != 60 || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("push: %d %s %q", w.Code, w.Body, w.Header().Get("Cache-Control"))
		}
		random, ok := strings.CutPrefix(a.RequestURI, requestURIPrefix)
		if !ok || len(random) < 43 {
			t.Fatalf("request_uri %q: want the URN prefix and 256 random bits", a.RequestURI)
		}
		// The other parameters of the front-channel request are ignored:
		// the pushed ones are used (RFC 9126 §4).
		w = h.get("/authorize?" + url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI},
			"state": {"tampered"}, "redirect_uri": {"https://attacker.example/cb"}}.Encode())
		code := h.finish(w)
		if code == "" {
			t.Fatal("no code")
		}
		tk := decode(t, h.post("/oauth/token", "app", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}}))
		if tk.AccessToken == "" {
			t.Fatalf("code of a pushed request not redeemed: %+v", tk)
		}
		wantPage(t, "the request_uri used twice", h.authorizePushed("app", a.RequestURI), http.StatusBadRequest, "error.authorize.expired")
	})
	t.Run("the state pushed comes back", func(t *testing.T) {
		uri := h.push(t, q)
		w := h.authorizePushed("app", uri)
		loc, _ := url.Parse(w.Header().Get("Location"))
		id := loc.Query().Get("authRequestID")
		r, err := h.mem.AuthRequestByID(context.Background(), id)
		if err != nil || r.State != "pushed-state" || r.RedirectURI != testRedirect {
			t.Fatalf("stored auth request: %+v %v", r, err)
		}
	})
	t.Run("used by another client", func(t *testing.T) {
		uri := h.push(t, q)
		wantPage(t, "other client", h.authorizePushed("no-rt", uri), http.StatusBadRequest, "error.authorize.invalid_request")
		wantPage(t, "then by its own client", h.authorizePushed("app", uri), http.StatusBadRequest, "error.authorize.expired")
		uri = h.push(t, q)
		wantPage(t, "without client_id", h.get("/authorize?"+url.Values{"request_uri": {uri}}.Encode()), http.StatusBadRequest, "error.authorize.invalid_request")
		h.finish(h.authorizePushed("app", uri)) // not spent by the request without client_id
	})
	t.Run("expired", func(t *testing.T) {
		uri := h.push(t, q)
		h.now = h.now.Add(61 * time.Second)
		wantPage(t, "expired", h.authorizePushed("app", uri), http.StatusBadRequest, "error.authorize.expired")
	})
	t.Run("a made-up request_uri", func(t *testing.T) {
		wantPage(t, "made up", h.authorizePushed("app", requestURIPrefix+"AAAA"), http.StatusBadRequest, "error.authorize.expired")
		wantPage(t, "another scheme", h.authorizePushed("app", "https://attacker.example/req"), http.StatusBadRequest, "error.authorize.invalid_request")
	})
	t.Run("a public client pushes with its client_id", func(t *testing.T) {
		w := h.post("/par", "", authorizeQuery(newPKCE(), "client_id", "spa"))
		if w.Code != http.StatusCreated {
			t.Fatalf("public push: %d %s", w.Code, w.Body)
		}
		h.finish(h.authorizePushed("spa", decodePAR(t, w).RequestURI))
	})
	t.Run("private_key_jwt with the PAR endpoint as audience", func(t *testing.T) {
		c := h.assertionClaims("pkj")
		c["aud"] = h.p.endpointURL(parPath)
		w := h.postAssertion("/par", sign(t, key.alg, key.kid, key.priv, c), authorizeQuery(newPKCE(), "client_id", "pkj"))
		if w.Code != http.StatusCreated {
			t.Fatalf("push with an assertion: %d %s", w.Code, w.Body)
		}
		h.finish(h.authorizePushed("pkj", decodePAR(t, w).RequestURI))
	})

	refused := []struct {
		name   string
		client string // Basic as this client; "" none
		form   url.Values
		status int
		err    string
	}{
		{"an unregistered redirect_uri", "app", authorizeQuery(newPKCE(), "redirect_uri", "https://attacker.example/cb"), 400, "invalid_request"},
		{"a request_uri inside", "app", authorizeQuery(newPKCE(), "request_uri", requestURIPrefix+"x"), 400, "invalid_request"},
		{"a request object", "app", authorizeQuery(newPKCE(), "request", "eyJhbGciOiJub25lIn0.e30."), 400, "invalid_request"},
		{"no client authentication", "", authorizeQuery(newPKCE()), 401, "invalid_client"},
		{"a confidential client with only client_id", "", authorizeQuery(newPKCE(), "client_id", "pkj"), 401, "invalid_client"},
		{"an unknown client", "", authorizeQuery(newPKCE(), "client_id", "ghost"), 401, "invalid_client"},
		{"another client's client_id", "app", authorizeQuery(newPKCE(), "client_id", "no-rt"), 400, "invalid_request"},
		{"a public client without PKCE", "", url.Values{"client_id": {"spa"}, "redirect_uri": {testRedirect},
			"response_type": {"code"}, "scope": {"openid"}}, 400, "invalid_request"},
		{"plain PKCE", "app", authorizeQuery(newPKCE(), "code_challenge_method", "plain"), 400, "invalid_request"},
		{"response_type token", "app", authorizeQuery(newPKCE(), "response_type", "token"), 400, "invalid_request"},
		{"without openid", "app", authorizeQuery(newPKCE(), "scope", "profile"), 400, "invalid_scope"},
		{"without redirect_uri", "app", authorizeQuery(newPKCE(), "redirect_uri", ""), 400, "invalid_request"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			w := h.post("/par", tc.client, tc.form)
			checkNoLeak(t, tc.name, w)
			if a := decodePAR(t, w); w.Code != tc.status || a.Error != tc.err || a.RequestURI != "" || w.Header().Get("Location") != "" {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, tc.status, tc.err)
			}
			if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a challenge")
			}
		})
	}
	t.Run("only POST", func(t *testing.T) {
		if w := h.get("/par?" + q.Encode()); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", w.Code)
		}
	})
	t.Run("parameters in the URL", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/par?"+q.Encode(), nil)
		r.SetBasicAuth("app", testSecret)
		if w := h.serve(r); w.Code != http.StatusBadRequest {
			t.Errorf("query: %d %s", w.Code, w.Body)
		}
	})
	t.Run("over the quota", func(t *testing.T) {
		refuse := func(*http.Request) error { return fmt.Errorf("authorize: %w", quota.ErrExceeded) }
		h.admit.Store(&refuse)
		defer h.admit.Store(nil)
		// An anonymous push by a public client counts against its address.
		if w := h.post("/par", "", authorizeQuery(newPKCE(), "client_id", "spa")); w.Code != http.StatusTooManyRequests {
			t.Errorf("public client over quota: %d %s", w.Code, w.Body)
		}
		// An authenticated client pushes for all its users from one
		// server: its requests count at /authorize, by the browser.
		if w := h.post("/par", "app", authorizeQuery(newPKCE())); w.Code != http.StatusCreated {
			t.Errorf("authenticated client while its address is over quota: %d %s", w.Code, w.Body)
		}
	})
	t.Run("the store down is 503", func(t *testing.T) {
		h.now = h.now.Add(time.Second) // past the client cache
		h.dur.down.Store(true)
		defer h.dur.down.Store(false)
		wantUnavailable(t, "par", h.post("/par", "app", authorizeQuery(newPKCE())))
	})
}

func TestRequirePAR(t *testing.T) {
	h := newHarness(t)
	h.addClient(storage.Client{ID: "paronly", GrantTypes: []string{storage.GrantAuthorizationCode},
		RedirectURIs: []string{testRedirect}, RequirePAR: true})
	q := authorizeQuery(newPKCE(), "client_id", "paronly")

	w := h.get("/authorize?" + q.Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("authRequestID") != "" ||
		!strings.HasPrefix(w.Header().Get("Location"), testRedirect) {
		t.Fatalf("authorize without PAR: %d %q, want an invalid_request redirect", w.Code, w.Header().Get("Location"))
	}
	if _, err := h.mem.AuthRequestByID(context.Background(), loc.Query().Get("authRequestID")); err == nil {
		t.Fatal("an auth request was stored")
	}
	// The same request pushed is accepted. paronly shares the test secret.
	err := h.dur.Durable.(storage.Clients).UpdateClient(context.Background(), "paronly", func(c *storage.Client) error {
		c.SecretHash = password.HashSecret(testSecret)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.now = h.now.Add(time.Second) // past the client cache
	r := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(q.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("paronly", testSecret)
	pw := h.serve(r)
	if pw.Code != http.StatusCreated {
		t.Fatalf("push: %d %s", pw.Code, pw.Body)
	}
	h.finish(h.authorizePushed("paronly", decodePAR(t, pw).RequestURI))
}

func TestDiscoveryAdvertisesClientAuthAndPAR(t *testing.T) {
	h := newHarness(t)
	w := h.get("/.well-known/openid-configuration")
	var d map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d["pushed_authorization_request_endpoint"] != testIssuer+"/par" || d["require_pushed_authorization_requests"] != false {
		t.Errorf("PAR metadata: %v %v", d["pushed_authorization_request_endpoint"], d["require_pushed_authorization_requests"])
	}
	for _, k := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		methods := fmt.Sprint(d[k+"_auth_methods_supported"])
		algs := fmt.Sprint(d[k+"_auth_signing_alg_values_supported"])
		if !strings.Contains(methods, "private_key_jwt") || !strings.Contains(methods, "client_secret_jwt") {
			t.Errorf("%s methods: %s", k, methods)
		}
		if algs != "[RS256 PS256 ES256 EdDSA HS256]" {
			t.Errorf("%s algs: %s", k, algs)
		}
	}
}
