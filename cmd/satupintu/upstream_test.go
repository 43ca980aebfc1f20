package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/captcha"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/totp"
	"satupintu/upstream"
)

// Sign-in with an upstream OpenID provider. The upstream is a second
// satupintu started in the test ("INApas"), or, for the ID tokens a real
// provider would never send, a small fake built from httptest and go-jose.

// withUpstream configures down (the satupintu under test) to accept up as
// upstream "inapas", registering down's callback as a client at up.
func withUpstream(t testing.TB, up *testProvider, p upstream.Provider) func(*Config) {
	return func(c *Config) {
		if p.ID == "" {
			p.ID = "inapas"
		}
		if p.Label == "" {
			p.Label = "INApas"
		}
		if up != nil {
			p.Issuer, p.ClientID = up.issuer, "satupintu-down"
			p.ClientSecret = password.GenerateSecret()
			cl := storage.Client{ID: p.ClientID, Name: "satupintu (downstream)", SecretHash: password.HashSecret(p.ClientSecret),
				RedirectURIs: []string{c.Issuer + "/upstream/callback"}, AccessTokenFormat: "opaque",
				GrantTypes: []string{storage.GrantAuthorizationCode}, CreatedAt: up.clock.Now()}
			if err := up.durable.CreateClient(up.t.Context(), cl); err != nil {
				up.t.Fatal(err)
			}
		}
		ps := []upstream.Provider{p}
		if err := upstream.Validate(ps, true); err != nil {
			t.Fatal(err)
		}
		c.Upstreams = ps
	}
}

// loopbackBrowser follows redirects between the providers on loopback and
// stops at a relying party (app-one.example…).
func loopbackBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Hostname() != "127.0.0.1" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

var upstreamButton = regexp.MustCompile(`<form method="post" action="(/upstream/[a-z0-9-]+/start)"`)

// startUpstream opens app's sign-in at down and presses the upstream button;
// it returns the response that follows (the upstream's page, or whatever
// the redirects lead to).
func startUpstream(t *testing.T, down *testProvider, b *browser, app string, f flow, extra ...string) (*http.Response, string) {
	t.Helper()
	resp, page := b.get(down.authURL(app, f, extra...))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %d\n%s", resp.StatusCode, page)
	}
	m := upstreamButton.FindStringSubmatch(page)
	if m == nil || !(strings.Contains(page, "Masuk dengan INApas") || strings.Contains(page, "Sign in with INApas")) {
		t.Fatalf("the sign-in page offers no upstream:\n%s", page)
	}
	return b.post(down.issuer+m[1], formFields(t, page))
}

// upstreamPassword answers up's sign-in form (after startUpstream).
func upstreamPassword(t *testing.T, up *testProvider, b *browser, resp *http.Response, page string) (*http.Response, string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), up.issuer+"/login") {
		t.Fatalf("expected the upstream's sign-in form, got %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	form := formFields(t, page)
	form.Set("username", up.user.Username)
	form.Set("password", up.password)
	return b.post(up.issuer+"/login", form)
}

func exchangeAMR(t *testing.T, tp *testProvider, app string, f flow, q url.Values) *oidc.IDTokenClaims {
	t.Helper()
	tok, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), q.Get("code"), tp.relyingParty(app, f), rp.WithCodeVerifier(f.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok.IDTokenClaims
}

func hasAudit(t *testing.T, tp *testProvider, action string, match func(storage.AuditEvent) bool) bool {
	t.Helper()
	events, err := tp.durable.ListAudit(t.Context(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(events, func(e storage.AuditEvent) bool { return e.Action == action && (match == nil || match(e)) })
}

// The whole life of a link: an upstream identity whose email equals a
// satupintu user's is not linked by that; it is linked after the password
// in the same browser; then it signs in straight through with fed in amr;
// unlinked, it is a stranger again.
func TestUpstreamLinkAfterPasswordThenStraightThrough(t *testing.T) {
	up := newTestProvider(t)
	down := newTestProviderHash(t, cheapHash, withUpstream(t, up, upstream.Provider{}))
	if up.user.Email != down.user.Email {
		t.Fatal("the test needs the same email on both sides")
	}
	ctx := t.Context()

	// 1. First use: the identity reaches the link page, and nothing more.
	b := loopbackBrowser(t)
	f := newFlow()
	resp, page := startUpstream(t, down, b, "app-one", f)
	resp, page = upstreamPassword(t, up, b, resp, page)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/upstream/link" || !strings.Contains(page, "Hubungkan akun") {
		t.Fatalf("after the upstream: %d at %s, want the link page:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if _, err := down.durable.UpstreamLink(ctx, "inapas", up.user.ID); !isNotFound(err) {
		t.Fatalf("an email match linked the identity: %v", err)
	}
	if links, _ := down.durable.UpstreamLinksOf(ctx, down.user.ID); len(links) != 0 {
		t.Fatalf("links before the password: %+v", links)
	}
	if r, p := b.get(down.issuer + "/mfa"); r.Request.URL.Path == "/mfa" {
		t.Fatalf("the upstream alone gave a satupintu session:\n%s", p)
	}

	// 2. "Sign in to link", then the satupintu password: linked, and the
	// relying party gets its code.
	resp, page = b.post(down.issuer+"/upstream/link", formFields(t, page))
	if resp.Request.URL.Path != "/login" || !strings.Contains(page, "untuk menghubungkannya dengan INApas") {
		t.Fatalf("link: %d at %s, want the sign-in form with a notice:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	form := formFields(t, page)
	form.Set("username", down.user.Username)
	form.Set("password", down.password)
	resp, _ = b.post(down.issuer+"/login", form)
	q := down.redirectParams(resp, "app-one")
	if c := exchangeAMR(t, down, "app-one", f, q); c.Subject != down.user.ID || slices.Contains(c.AuthenticationMethodsReferences, "fed") {
		t.Fatalf("first sign-in: sub %s amr %v, want the password sign-in of %s", c.Subject, c.AuthenticationMethodsReferences, down.user.ID)
	}
	l, err := down.durable.UpstreamLink(ctx, "inapas", up.user.ID)
	if err != nil || l.UserID != down.user.ID {
		t.Fatalf("after the password: link %+v, %v", l, err)
	}
	if !hasAudit(t, down, "upstream.link", func(e storage.AuditEvent) bool { return e.ActorID == down.user.ID }) {
		t.Error("no upstream.link audit event")
	}

	// 3. Later, in a fresh browser: the upstream alone signs in.
	b2 := loopbackBrowser(t)
	f2 := newFlow()
	resp, page = startUpstream(t, down, b2, "app-two", f2)
	resp, _ = upstreamPassword(t, up, b2, resp, page)
	q = down.redirectParams(resp, "app-two")
	c := exchangeAMR(t, down, "app-two", f2, q)
	if c.Subject != down.user.ID || !slices.Contains(c.AuthenticationMethodsReferences, "fed") || slices.Contains(c.AuthenticationMethodsReferences, "pwd") {
		t.Fatalf("straight through: sub %s amr %v, want %s with fed", c.Subject, c.AuthenticationMethodsReferences, down.user.ID)
	}
	if !hasAudit(t, down, "login.success", func(e storage.AuditEvent) bool { return e.Detail["method"] == "upstream" }) {
		t.Error("no login.success audit event with method upstream")
	}

	// 4. Unlink from the security page.
	resp, page = b2.get(down.issuer + "/mfa")
	if resp.Request.URL.Path != "/mfa" || !strings.Contains(page, "INApas, terhubung sejak") {
		t.Fatalf("security page: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	unlink := url.Values{"csrf_token": {formFields(t, page).Get("csrf_token")}, "upstream": {"inapas"}, "subject": {up.user.ID}}
	// Without the CSRF token nothing happens.
	if r, _ := b2.post(down.issuer+"/upstream/unlink", url.Values{"upstream": {"inapas"}, "subject": {up.user.ID}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("unlink without CSRF: %d, want 403", r.StatusCode)
	}
	resp, page = b2.post(down.issuer+"/upstream/unlink", unlink)
	if resp.Request.URL.Path != "/mfa" || !strings.Contains(page, "telah diputuskan") {
		t.Fatalf("unlink: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if _, err := down.durable.UpstreamLink(ctx, "inapas", up.user.ID); !isNotFound(err) {
		t.Fatalf("after unlink: %v, want no link", err)
	}
	if !hasAudit(t, down, "upstream.unlink", nil) {
		t.Error("no upstream.unlink audit event")
	}
	// A stranger again: the next upstream sign-in asks to link.
	b3 := loopbackBrowser(t)
	resp, page = startUpstream(t, down, b3, "app-one", newFlow())
	resp, _ = upstreamPassword(t, up, b3, resp, page)
	if resp.Request.URL.Path != "/upstream/link" {
		t.Fatalf("after unlink the upstream went to %s, want the link page", resp.Request.URL)
	}
}

// A relying party that requires a second factor gets satupintu's own step
// after an upstream that attested none, not a failure and not a session.
func TestUpstreamSignInContinuesWithOwnSecondStep(t *testing.T) {
	up := newTestProvider(t)
	down := newTestProviderHash(t, cheapHash, withUpstream(t, up, upstream.Provider{}))
	ctx := t.Context()
	if err := down.durable.CreateUpstreamLink(ctx, storage.UpstreamLink{UpstreamID: "inapas", Subject: up.user.ID,
		UserID: down.user.ID, CreatedAt: down.clock.Now(), LastUsedAt: down.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := down.durable.UpdateClient(ctx, "app-one", func(c *storage.Client) error { c.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b := loopbackBrowser(t)
	f := newFlow()
	resp, page := startUpstream(t, down, b, "app-one", f)
	resp, page = upstreamPassword(t, up, b, resp, page)
	m := mfaSecret.FindStringSubmatch(page)
	if resp.Request.URL.Path != "/login/mfa" || resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("upstream sign-in for an MFA client: %d at %s, want the second step (enrolment):\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if !hasAudit(t, down, "login.upstream_ok", nil) {
		t.Error("no login.upstream_ok audit event for the first step")
	}
	// The user enrols and enters the code: the sign-in counts the upstream
	// and the code, never a password nobody typed.
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	resp, page = down.submitStep(b, page, totp.Code(secret, down.clock.Now()))
	next := mfaContinue.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || next == nil {
		t.Fatalf("no recovery codes page: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = b.get(down.issuer + html.UnescapeString(next[1]))
	c := down.idToken("app-one", f, down.redirectParams(resp, "app-one"))
	if !slices.Equal(c.AuthenticationMethodsReferences, []string{"fed", "otp", "mfa"}) || c.AuthenticationContextClassReference != storage.ACRMFA {
		t.Fatalf("amr %v acr %q, want [fed otp mfa] at %s", c.AuthenticationMethodsReferences, c.AuthenticationContextClassReference, storage.ACRMFA)
	}
}

// An upstream that is down stops neither the start of satupintu nor the
// sign-in page; pressing its button gives a page in the person's language,
// never a 5xx or an internal detail.
func TestUpstreamDownShowsFriendlyPage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, upstream.Provider{Issuer: dead, ClientID: "c", ClientSecret: "s"}))
	for _, lang := range []string{"id", "en"} {
		b := loopbackBrowser(t)
		b.client.Jar.SetCookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(down.issuer, "http://")}, []*http.Cookie{{Name: "lang", Value: lang}})
		resp, page := startUpstream(t, down, b, "app-one", newFlow(), "ui_locales", lang)
		want := map[string]string{"id": "INApas sedang tidak dapat dihubungi", "en": "INApas cannot be reached right now"}[lang]
		if resp.StatusCode >= 500 || !strings.Contains(page, want) {
			t.Fatalf("%s: %d\n%s", lang, resp.StatusCode, page)
		}
		for _, leak := range []string{"refused", "dial", "discovery", dead} {
			if strings.Contains(page, leak) {
				t.Errorf("%s: the page shows %q", lang, leak)
			}
		}
		if !strings.Contains(page, `href="/login?authRequestID=`) {
			t.Errorf("%s: no way back to the password sign-in:\n%s", lang, page)
		}
	}
}

// fakeUpstream is a minimal OpenID provider: discovery, keys, an authorize
// endpoint that answers at once, and a token endpoint whose ID token each
// test shapes (a real provider never sends the broken ones).
type fakeUpstream struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	client string
	claims map[string]any  // added to, or overriding, the good claims
	signer *rsa.PrivateKey // signs the ID token; key unless a test swaps it
	// tokenURL, if set, is the token endpoint discovery names (a dead one).
	tokenURL string
	// clientKey, if set, is the key the client must authenticate with
	// (private_key_jwt); the token endpoint refuses anything else.
	clientKey *ecdsa.PublicKey

	mu        sync.Mutex
	nonce     string
	challenge string
	verified  bool // the token request carried the matching PKCE verifier
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fu := &fakeUpstream{t: t, key: key, signer: key, client: "satupintu-down", claims: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss, token := fu.srv.URL, fu.srv.URL+"/token"
		if fu.tokenURL != "" {
			token = fu.tokenURL
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": token, "jwks_uri": iss + "/keys", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &fu.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fu.mu.Lock()
		fu.nonce, fu.challenge = q.Get("nonce"), q.Get("code_challenge")
		fu.mu.Unlock()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
			http.Error(w, "missing PKCE, nonce or state", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {"the-code"}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fu.mu.Lock()
		clientKey := fu.clientKey
		fu.mu.Unlock()
		if clientKey != nil && !fu.clientAssertionOK(r, clientKey) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		fu.mu.Lock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		fu.verified = base64.RawURLEncoding.EncodeToString(sum[:]) == fu.challenge
		claims := map[string]any{"iss": fu.srv.URL, "sub": "nik-subject-1", "aud": []string{fu.client},
			"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(), "nonce": fu.nonce,
			"name": "Siti Rahmawati", "nik": "3171234567890123"}
		for k, v := range fu.claims {
			claims[k] = v
		}
		signer := fu.signer
		fu.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300,
			"id_token": signJWT(t, signer, "k1", claims)})
	})
	fu.srv = httptest.NewServer(mux)
	t.Cleanup(fu.srv.Close)
	return fu
}

func signJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (fu *fakeUpstream) provider() upstream.Provider {
	return upstream.Provider{Issuer: fu.srv.URL, ClientID: fu.client, ClientSecret: "s3cret"}
}

// An ID token with a wrong nonce, audience or signature, or an expired one,
// signs nobody in and links nothing: the person sees a friendly page.
func TestUpstreamRefusesBadIDTokens(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		claims map[string]any
		signer *rsa.PrivateKey
	}{
		{"wrong nonce", map[string]any{"nonce": "not-the-one-sent"}, nil},
		{"no nonce", map[string]any{"nonce": ""}, nil},
		{"wrong audience", map[string]any{"aud": []string{"another-client"}}, nil},
		{"wrong issuer", map[string]any{"iss": "https://evil.example"}, nil},
		{"expired", map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}, nil},
		{"bad signature", nil, other},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fu := newFakeUpstream(t)
			fu.claims = tc.claims
			if tc.signer != nil {
				fu.signer = tc.signer
			}
			down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()))
			b := loopbackBrowser(t)
			resp, page := startUpstream(t, down, b, "app-one", newFlow())
			if resp.StatusCode >= 500 || resp.Request.URL.Path != "/upstream/callback" || !strings.Contains(page, "Masuk dengan INApas tidak berhasil") {
				t.Fatalf("%d at %s, want the refusal page:\n%s", resp.StatusCode, resp.Request.URL, page)
			}
			if r, _ := b.get(down.issuer + "/upstream/link"); r.StatusCode == http.StatusOK {
				t.Fatal("a refused token left an identity to link")
			}
			if r, _ := b.get(down.issuer + "/mfa"); r.Request.URL.Path == "/mfa" {
				t.Fatal("a refused token gave a session")
			}
			if !hasAudit(t, down, "login.failure", func(e storage.AuditEvent) bool { return e.Detail["reason"] == "upstream_token" }) {
				t.Error("no login.failure audit event")
			}
		})
	}

	t.Run("the good token passes", func(t *testing.T) {
		fu := newFakeUpstream(t)
		down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()))
		b := loopbackBrowser(t)
		resp, page := startUpstream(t, down, b, "app-one", newFlow())
		if resp.Request.URL.Path != "/upstream/link" || !strings.Contains(page, "sebagai Siti Rahmawati") {
			t.Fatalf("%d at %s, want the link page:\n%s", resp.StatusCode, resp.Request.URL, page)
		}
		fu.mu.Lock()
		defer fu.mu.Unlock()
		if !fu.verified {
			t.Error("the token request did not carry the PKCE verifier of the S256 challenge")
		}
	})

	t.Run("an answer for another browser is refused", func(t *testing.T) {
		fu := newFakeUpstream(t)
		down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()))
		victim := loopbackBrowser(t)
		victim.get(down.authURL("app-one", newFlow()))
		// The attacker's own answer, planted in the victim's browser.
		resp, page := victim.get(down.issuer + "/upstream/callback?code=the-code&state=" + storage.NewID())
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "kedaluwarsa") {
			t.Fatalf("planted callback: %d\n%s", resp.StatusCode, page)
		}
	})
}

// An identity without an account registers: the wizard starts with the
// upstream's name and NIK; submitted unchanged, the registration says who
// verified them, the officer sees it, and approval links the new user.
func TestUpstreamRegistrationPrefillAndApprovalLinks(t *testing.T) {
	fu := newFakeUpstream(t)
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()), func(c *Config) { c.Captcha = captcha.Off })
	ctx := t.Context()
	b := loopbackBrowser(t)
	resp, page := startUpstream(t, down, b, "app-one", newFlow())
	if resp.Request.URL.Path != "/upstream/link" {
		t.Fatalf("%d at %s, want the link page:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	resp, page = b.post(down.issuer+"/upstream/register", formFields(t, page))
	if resp.Request.URL.Path != "/register" {
		t.Fatalf("register: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The steps before the person's, as a registrant fills them.
	for _, st := range []struct {
		slug string
		form url.Values
	}{
		{"tujuan", url.Values{"purpose": {"transaksi"}}},
		{"trader", url.Values{"trader_type": {"importir"}}},
		{"nib", url.Values{"nib_type": {"oss"}, "nib": {"9120001234568"}}},
		{"npwp", url.Values{"npwp_type": {"15"}, "npwp": {"01.234.567.8-901.001"}}},
		{"organisasi", url.Values{"org_name": {"PT Siti Niaga"}, "business_type": {"pt"}}},
		{"alamat", url.Values{"street": {"Jl. Merdeka No. 1"}, "city": {"Jakarta Pusat"}, "province": {"DKI Jakarta"},
			"postal_code": {"10110"}, "country": {"id"}}},
	} {
		_, page = b.get(down.issuer + "/register/" + st.slug)
		st.form.Set("csrf_token", formFields(t, page).Get("csrf_token"))
		st.form.Set("action", "next")
		if resp, page = b.post(down.issuer+"/register/"+st.slug, st.form); strings.Contains(page, "field-error") {
			t.Fatalf("step %s refused:\n%s", st.slug, page)
		}
	}
	resp, page = b.get(down.issuer + "/register/penanggung-jawab")
	if resp.Request.URL.Path != "/register/penanggung-jawab" {
		t.Fatalf("the person step redirected to %s", resp.Request.URL)
	}
	for _, want := range []string{`value="Siti Rahmawati"`, `value="3171234567890123"`, "Nama dan NIK diisi dari INApas"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the person step lacks %s:\n%s", want, page)
		}
	}

	// The rest of the wizard, as the registrant fills it, unchanged name
	// and NIK included.
	const email = "siti@niaga.example"
	next := func(slug string, form url.Values) string {
		t.Helper()
		_, page := b.get(down.issuer + "/register/" + slug)
		form.Set("csrf_token", formFields(t, page).Get("csrf_token"))
		form.Set("action", "next")
		resp, page := b.post(down.issuer+"/register/"+slug, form)
		if strings.Contains(page, "field-error") || resp.StatusCode != http.StatusOK {
			t.Fatalf("step %s refused (%d at %s):\n%s", slug, resp.StatusCode, resp.Request.URL, page)
		}
		return page
	}
	next("penanggung-jawab", url.Values{"full_name": {"Siti Rahmawati"}, "position": {"Direktur"},
		"identity_type": {"nik"}, "identity_number": {"3171234567890123"}})
	next("kontak", url.Values{"email": {email}, "phone": {"0812-3456-7890"}})
	code := regexp.MustCompile(`(?m)^\s+(\d{6})$`).FindStringSubmatch(down.mails.WaitFor(t, email, 30*time.Second).Body)
	if code == nil {
		t.Fatal("no verification code mailed")
	}
	next("verifikasi", url.Values{"code": {code[1]}})
	_, page = b.get(down.issuer + "/register/dokumen")
	if resp := uploadLetter(t, b, down.issuer+"/register/dokumen", formFields(t, page).Get("csrf_token"), writeMinimalPDF(t)); resp.Request.URL.Path != "/register/persetujuan" {
		t.Fatalf("upload ended at %s", resp.Request.URL)
	}
	next("persetujuan", url.Values{"terms": {"yes"}})
	_, page = b.get(down.issuer + "/register/konfirmasi")
	if resp, page = b.post(down.issuer+"/register/konfirmasi", url.Values{"csrf_token": {formFields(t, page).Get("csrf_token")}, "action": {"submit"}}); resp.Request.URL.Path != "/register/selesai" {
		t.Fatalf("submit ended at %s:\n%s", resp.Request.URL, page)
	}
	serviceNumber := regexp.MustCompile(`SP-\d{8}-[0-9A-Z]+`).FindString(down.mails.WaitFor(t, email, 30*time.Second).Body)
	g, err := down.durable.RegistrationByServiceNumber(ctx, serviceNumber)
	if err != nil {
		t.Fatalf("registration %q: %v", serviceNumber, err)
	}
	if g.VerifiedBy != "INApas" || g.UpstreamID != "inapas" || g.UpstreamSubject != "nik-subject-1" {
		t.Fatalf("stored registration: verified by %q, upstream %q/%q", g.VerifiedBy, g.UpstreamID, g.UpstreamSubject)
	}

	// The officer sees who verified name and NIK, and approving links.
	officerPassword := "petugas-rahasia-123"
	down.createOfficer("andi.petugas", officerPassword)
	off := loopbackBrowser(t)
	_, page = off.get(down.issuer + "/login")
	form := formFields(t, page)
	form.Set("username", "andi.petugas")
	form.Set("password", officerPassword)
	off.post(down.issuer+"/login", form)
	detail := down.issuer + "/officer/registrations/" + g.ID
	resp, page = off.get(detail)
	if !strings.Contains(page, "Nama dan NIK diverifikasi oleh INApas") {
		t.Fatalf("officer page (%d) lacks verified-by:\n%s", resp.StatusCode, page)
	}
	off.post(detail+"/review", formFields(t, page))
	_, page = off.get(detail)
	if resp, page = off.post(detail+"/approve", formFields(t, page)); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d\n%s", resp.StatusCode, html.UnescapeString(page))
	}
	approved, err := down.durable.RegistrationByID(ctx, g.ID)
	if err != nil || approved.Status != storage.StatusApproved {
		t.Fatalf("registration after approval: %+v, %v", approved, err)
	}
	l, err := down.durable.UpstreamLink(ctx, "inapas", "nik-subject-1")
	if err != nil || l.UserID != approved.UserID {
		t.Fatalf("link after approval: %+v, %v (user %s)", l, err, approved.UserID)
	}
}

// A flood of upstream sign-ins from one address stops at its allowance.
func TestUpstreamStartIsBounded(t *testing.T) {
	fu := newFakeUpstream(t)
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()), func(c *Config) {
		c.Limits.Upstream.PerAddress = 3
	})
	b := loopbackBrowser(t)
	_, page := b.get(down.authURL("app-one", newFlow()))
	form := formFields(t, page)
	stop := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 4 {
		resp, err := stop.PostForm(down.issuer+"/upstream/inapas/start", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case i < 3 && resp.StatusCode != http.StatusSeeOther:
			t.Fatalf("start %d: %d, want 303 to the upstream", i+1, resp.StatusCode)
		case i == 3 && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == ""):
			t.Fatalf("start 4: %d, want 429 with Retry-After", resp.StatusCode)
		}
	}
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// An upstream that attests a second factor (an acr the operator marked as
// such) satisfies a relying party that requires one: no second step, and
// the ID token says fed and mfa.
func TestUpstreamAttestedSecondFactorSatisfiesMFAClient(t *testing.T) {
	fu := newFakeUpstream(t)
	fu.claims = map[string]any{"acr": "urn:inapas:loa:3"}
	p := fu.provider()
	p.MFAACRValues = []string{"urn:inapas:loa:3"}
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, p))
	ctx := t.Context()
	if err := down.durable.CreateUpstreamLink(ctx, storage.UpstreamLink{UpstreamID: "inapas", Subject: "nik-subject-1",
		UserID: down.user.ID, CreatedAt: down.clock.Now(), LastUsedAt: down.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := down.durable.UpdateClient(ctx, "app-one", func(c *storage.Client) error { c.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b := loopbackBrowser(t)
	f := newFlow()
	resp, _ := startUpstream(t, down, b, "app-one", f)
	c := exchangeAMR(t, down, "app-one", f, down.redirectParams(resp, "app-one"))
	if !slices.Contains(c.AuthenticationMethodsReferences, "fed") || !slices.Contains(c.AuthenticationMethodsReferences, "mfa") ||
		c.AuthenticationContextClassReference != storage.ACRMFA {
		t.Fatalf("amr %v acr %q, want fed and mfa at %s", c.AuthenticationMethodsReferences, c.AuthenticationContextClassReference, storage.ACRMFA)
	}
}

// clientAssertionOK checks an RFC 7523 client assertion: signed with the
// client's key, issued by and about the client, for this provider.
func (fu *fakeUpstream) clientAssertionOK(r *http.Request, key *ecdsa.PublicKey) bool {
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return false
	}
	jws, err := jose.ParseSigned(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return false
	}
	var c struct {
		Iss, Sub string
		Aud      []string
		Exp      int64
	}
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	return c.Iss == fu.client && c.Sub == fu.client && slices.Contains(c.Aud, fu.srv.URL) && c.Exp > time.Now().Unix()
}

// private_key_jwt: satupintu authenticates at the upstream's token
// endpoint with an assertion signed by the configured key (a JWK file).
func TestUpstreamPrivateKeyJWT(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "sp-2026", Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := t.TempDir() + "/client.jwk"
	writeFile(t, keyFile, string(jwk))
	fu := newFakeUpstream(t)
	fu.clientKey = &key.PublicKey
	p := fu.provider()
	p.ClientSecret, p.PrivateKeyFile = "", keyFile
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, p))
	b := loopbackBrowser(t)
	resp, page := startUpstream(t, down, b, "app-one", newFlow())
	if resp.Request.URL.Path != "/upstream/link" {
		t.Fatalf("%d at %s, want the link page (the assertion was refused?):\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	// The same provider with another key is refused by the upstream.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fu.mu.Lock()
	fu.clientKey = &other.PublicKey
	fu.mu.Unlock()
	if resp, page := startUpstream(t, down, loopbackBrowser(t), "app-one", newFlow()); !strings.Contains(page, "tidak berhasil") {
		t.Fatalf("wrong client key: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
}

// A provider whose token endpoint stopped answering after discovery is
// "cannot be reached", not a refused sign-in, and never a 5xx.
func TestUpstreamTokenEndpointDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/token"
	ln.Close()
	fu := newFakeUpstream(t)
	fu.tokenURL = dead
	down := newTestProviderHash(t, cheapHash, withUpstream(t, nil, fu.provider()))
	resp, page := startUpstream(t, down, loopbackBrowser(t), "app-one", newFlow())
	if resp.StatusCode >= 500 || !strings.Contains(page, "INApas sedang tidak dapat dihubungi") || strings.Contains(page, "refused") {
		t.Fatalf("%d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
}

// uploadLetter posts the letter as the upload step's form does.
func uploadLetter(t *testing.T, b *browser, to, csrf, path string) *http.Response {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", csrf)
	mw.WriteField("action", "next")
	fw, err := mw.CreateFormFile("document", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	resp, err := b.client.Post(to, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
