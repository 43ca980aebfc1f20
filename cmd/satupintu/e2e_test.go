package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/op"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
)

// cheapHash keeps tests fast; production uses password.OWASP.
var cheapHash = password.Params{Memory: 64, Time: 1, Threads: 1}

// testProvider is a running satupintu on loopback with two clients and a user.
type testProvider struct {
	t        testing.TB
	dataDir  string
	mails    *mailtest.Server // every email the provider sent
	issuer   string
	srv      *httptest.Server
	provider *op.Provider
	queue    *jobstest.Outbox // the running job queue (mail, back-channel logout)
	durable  storage.Durable
	// ephemeral is the node's short-lived store (memory.Store embedded).
	ephemeral storage.Ephemeral
	clock     *conformance.Clock
	user      storage.User
	org       storage.Organization
	password  string
	apps      map[string]testApp // by client id
}

type testApp struct {
	id, secret, redirect, postLogout string
}

func newTestProvider(t testing.TB) *testProvider {
	t.Helper()
	return newTestProviderHash(t, cheapHash)
}

// newTestProviderHash hashes the test user's password with p.
func newTestProviderHash(t testing.TB, p password.Params, opts ...func(*Config)) *testProvider {
	t.Helper()
	ctx := t.Context()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	dataDir := t.TempDir()
	durable, err := sqlite.Open(ctx, dataDir+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { durable.Close() })
	clk := conformance.NewClock(time.Now())
	ephemeral := memory.New(clk.Now)
	t.Cleanup(func() { ephemeral.Close() })

	cfg := defaultConfig()
	cfg.Issuer = issuer
	cfg.ClientCacheTTL = time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	issuer = cfg.Issuer // an option may name the same listener differently (localhostIssuer)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	mails := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
	mailer, err := mail.NewSMTP(mail.SMTPConfig{Host: mails.Host(), Port: mails.Port(), TLS: mail.TLSNone, From: cfg.SMTP.From})
	if err != nil {
		t.Fatal(err)
	}
	outbox := jobstest.Open(t, durable, mailer) // started below, after newServer added the logout worker
	handler, provider, err := newServer(ctx, deps{cfg: cfg, durable: durable, ephemeral: ephemeral, logger: logger, now: clk.Now, hashParams: p,
		outbox: outbox, queue: outbox.Queue})
	if err != nil {
		t.Fatal(err)
	}
	outbox.Start(t)
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	tp := &testProvider{t: t, dataDir: dataDir, mails: mails, issuer: issuer, srv: srv, provider: provider, queue: outbox, durable: durable, ephemeral: ephemeral, clock: clk, apps: map[string]testApp{}}
	tp.org = storage.Organization{ID: storage.NewID(), NIB: "9120001234567", NPWP: "012345678901000",
		Name: "PT Uji Coba", TraderType: "importir", BusinessType: "pt",
		Address: storage.Address{Street: "Jl. Uji 1", City: "Jakarta", Country: "ID"}, CreatedAt: clk.Now()}
	if err := durable.CreateOrganization(ctx, tp.org); err != nil {
		t.Fatal(err)
	}
	tp.password = "kata-sandi-rahasia"
	hash, _ := password.Hash(tp.password, p)
	tp.user = storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@contoh.co.id", EmailVerified: true,
		Name: "Budi Santoso", Phone: "+6281234567890", Position: "Direktur", PasswordHash: hash,
		OrganizationID: tp.org.ID, CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := durable.CreateUser(ctx, tp.user); err != nil {
		t.Fatal(err)
	}
	tp.addClient("app-one", false, storage.GrantAuthorizationCode, storage.GrantRefreshToken)
	tp.addClient("app-two", false, storage.GrantAuthorizationCode, storage.GrantRefreshToken)
	tp.addClient("spa", true, storage.GrantAuthorizationCode)
	tp.addClient("service", false, storage.GrantClientCredentials)
	return tp
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (tp *testProvider) addClient(id string, public bool, grants ...string) {
	a := testApp{id: id, redirect: "http://" + id + ".example/callback", postLogout: "http://" + id + ".example/"}
	c := storage.Client{ID: id, Name: "App " + id, Public: public, GrantTypes: grants, AccessTokenFormat: "opaque",
		PostLogoutRedirectURIs: []string{a.postLogout}, CreatedAt: tp.clock.Now()}
	if grants[0] == storage.GrantAuthorizationCode {
		c.RedirectURIs = []string{a.redirect}
	}
	if !public {
		a.secret = password.GenerateSecret()
		c.SecretHash = password.HashSecret(a.secret)
	}
	if err := tp.durable.CreateClient(tp.t.Context(), c); err != nil {
		tp.t.Fatal(err)
	}
	tp.apps[id] = a
}

// browser is a user agent with a cookie jar that stops at the relying
// party: redirects leaving the provider are returned, not followed.
type browser struct {
	t      testing.TB
	client *http.Client
	issuer *url.URL
}

func (tp *testProvider) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	iss, _ := url.Parse(tp.issuer)
	b := &browser{t: tp.t, issuer: iss}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != iss.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Get(rawURL)
	if err != nil {
		b.t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) post(rawURL string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.PostForm(rawURL, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var hiddenField = regexp.MustCompile(`name="(csrf_token|authRequestID)"\s+value="([^"]*)"`)

// formFields reads the hidden inputs of a rendered sign-in form.
func formFields(t testing.TB, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("no csrf_token in page:\n%s", page)
	}
	return v
}

// flow is one authorization request of a relying party.
type flow struct {
	state, nonce, verifier string
}

func newFlow() flow {
	return flow{state: storage.NewID(), nonce: storage.NewID(), verifier: storage.NewID() + storage.NewID()}
}

func (f flow) challenge() string {
	sum := sha256.Sum256([]byte(f.verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (tp *testProvider) relyingParty(app string, f flow) rp.RelyingParty {
	tp.t.Helper()
	a := tp.apps[app]
	party, err := rp.NewRelyingPartyOIDC(tp.t.Context(), tp.issuer, a.id, a.secret, a.redirect,
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess, op.ScopeOrganization},
		rp.WithAuthStyle(oauth2.AuthStyleInHeader),
		rp.WithSigningAlgsFromDiscovery(),
		rp.WithVerifierOpts(rp.WithNonce(func(context.Context) string { return f.nonce })),
	)
	if err != nil {
		tp.t.Fatalf("relying party %s: %v", app, err)
	}
	return party
}

func (tp *testProvider) authURL(app string, f flow, extra ...string) string {
	tp.t.Helper()
	a := tp.apps[app]
	q := url.Values{
		"client_id": {a.id}, "redirect_uri": {a.redirect}, "response_type": {"code"},
		"scope": {"openid profile email phone offline_access organization"},
		"state": {f.state}, "nonce": {f.nonce},
		"code_challenge": {f.challenge()}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return tp.issuer + "/authorize?" + q.Encode()
}

// redirectParams checks that resp redirects to app's redirect URI and
// returns its query.
func (tp *testProvider) redirectParams(resp *http.Response, app string) url.Values {
	tp.t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		tp.t.Fatalf("status %d, want a redirect to the client", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		tp.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != tp.apps[app].redirect {
		tp.t.Fatalf("redirected to %s, want %s", got, tp.apps[app].redirect)
	}
	return loc.Query()
}

// signIn runs /authorize for app through the sign-in form and returns the
// authorization response parameters.
func (tp *testProvider) signIn(b *browser, app string, f flow, extra ...string) url.Values {
	tp.t.Helper()
	resp, page := b.get(tp.authURL(app, f, extra...))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		tp.t.Fatalf("expected the sign-in form, got %d:\n%s", resp.StatusCode, page)
	}
	form := formFields(tp.t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	resp, page = b.post(tp.issuer+"/login", form)
	q := tp.redirectParams(resp, app)
	if q.Get("code") == "" {
		tp.t.Fatalf("no code in %v (page %s)", q, page)
	}
	return q
}

func TestCodeFlowEndToEnd(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	b := tp.newBrowser()
	f := newFlow()
	q := tp.signIn(b, "app-one", f)
	if q.Get("state") != f.state {
		t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("iss") != tp.issuer {
		t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), tp.issuer)
	}

	party := tp.relyingParty("app-one", f)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), party, rp.WithCodeVerifier(f.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	claims := tokens.IDTokenClaims
	if claims.Subject != tp.user.ID || claims.Nonce != f.nonce || claims.Issuer != tp.issuer {
		t.Fatalf("id token sub/nonce/iss = %q/%q/%q", claims.Subject, claims.Nonce, claims.Issuer)
	}
	if claims.AuthTime == 0 || len(claims.AuthenticationMethodsReferences) == 0 {
		t.Fatalf("id token lacks auth_time or amr: %+v", claims)
	}
	var org op.OrganizationClaim
	raw, _ := json.Marshal(claims.Claims[op.ClaimOrganization])
	if err := json.Unmarshal(raw, &org); err != nil || org.NIB != tp.org.NIB || org.NPWP != tp.org.NPWP || org.Position != "Direktur" {
		t.Fatalf("organization claim = %s", raw)
	}
	if tokens.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, "Bearer", tp.user.ID, party)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Email != tp.user.Email || info.Name != tp.user.Name || info.PhoneNumber != tp.user.Phone {
		t.Fatalf("userinfo = %+v", info)
	}

	t.Run("refresh rotates and the old token is rejected", func(t *testing.T) {
		fresh := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}})
		if fresh.status != http.StatusOK || fresh.RefreshToken == "" || fresh.RefreshToken == tokens.RefreshToken {
			t.Fatalf("refresh: %d %+v", fresh.status, fresh)
		}
		// OIDC Core §12.2: same sub and aud, the original auth_time.
		var idc oidc.IDTokenClaims
		if err := decodeJWTPayload(fresh.IDToken, &idc); err != nil || idc.Subject != claims.Subject || idc.AuthTime != claims.AuthTime || idc.Issuer != tp.issuer {
			t.Fatalf("refreshed ID token: %+v (%v)", idc, err)
		}
		again := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}})
		if again.status != http.StatusBadRequest || again.Error != "invalid_grant" {
			t.Fatalf("reused refresh token: %d %+v", again.status, again)
		}
		// Reuse revoked the family: the successor is dead too (RFC 9700 §4.14.2).
		next := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}})
		if next.status != http.StatusBadRequest || next.Error != "invalid_grant" {
			t.Fatalf("successor after reuse: %d %+v", next.status, next)
		}
		if active := tp.introspect("app-one", fresh.AccessToken); active {
			t.Fatal("access token of a revoked family is still active")
		}
	})

	t.Run("revocation then introspection says inactive", func(t *testing.T) {
		f2 := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f2)
		tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {tp.apps["app-one"].redirect}, "code_verifier": {f2.verifier}})
		if tok.status != http.StatusOK {
			t.Fatalf("token: %+v", tok)
		}
		if !tp.introspect("app-one", tok.AccessToken) {
			t.Fatal("fresh access token inactive")
		}
		if err := rp.RevokeToken(ctx, tp.relyingParty("app-one", f2), tok.AccessToken, "access_token"); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if tp.introspect("app-one", tok.AccessToken) {
			t.Fatal("revoked access token still active")
		}
		if err := rp.RevokeToken(ctx, tp.relyingParty("app-one", f2), tok.RefreshToken, "refresh_token"); err != nil {
			t.Fatalf("revoke refresh: %v", err)
		}
		r := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if r.Error != "invalid_grant" {
			t.Fatalf("revoked refresh token: %+v", r)
		}
	})

	t.Run("single sign-on: a second client gets a code without a password", func(t *testing.T) {
		f2 := newFlow()
		resp, page := b.get(tp.authURL("app-two", f2))
		q := tp.redirectParams(resp, "app-two")
		var err error
		if q.Get("code") == "" || strings.Contains(page, `name="password"`) {
			t.Fatalf("no silent code for the second app: %v", q)
		}
		tok, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), tp.relyingParty("app-two", f2), rp.WithCodeVerifier(f2.verifier))
		if err != nil || tok.IDTokenClaims.Subject != tp.user.ID {
			t.Fatalf("second app exchange: %v", err)
		}
		if tok.IDTokenClaims.AuthTime != claims.AuthTime {
			t.Fatalf("auth_time %v differs from the session's %v", tok.IDTokenClaims.AuthTime, claims.AuthTime)
		}
		// One round trip: /authorize itself answers with the code.
		direct := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = direct.Get(tp.authURL("app-two", newFlow()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if q := tp.redirectParams(resp, "app-two"); q.Get("code") == "" {
			t.Fatalf("/authorize with a session did not answer with a code: %v", q)
		}
	})

	t.Run("prompt=login asks again, prompt=none answers silently", func(t *testing.T) {
		resp, page := b.get(tp.authURL("app-two", newFlow(), "prompt", "login"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("prompt=login did not show the form: %d", resp.StatusCode)
		}
		resp, _ = b.get(tp.authURL("app-two", newFlow(), "prompt", "none"))
		if q := tp.redirectParams(resp, "app-two"); q.Get("code") == "" {
			t.Fatalf("prompt=none with a session: %v", q)
		}
		resp, page = b.get(tp.authURL("app-two", newFlow(), "max_age", "0"))
		if !strings.Contains(page, `name="password"`) {
			t.Fatalf("max_age=0 did not show the form: %d", resp.StatusCode)
		}
	})

	t.Run("id_token_hint of another user gives login_required", func(t *testing.T) {
		other := tp.newBrowser()
		f2 := newFlow()
		// A valid hint for budi, but a fresh browser that then signs in as
		// somebody else must not get a code.
		hash, _ := password.Hash("kata-sandi-lain", cheapHash)
		eve := storage.User{ID: storage.NewID(), Username: "eve", Email: "eve@contoh.co.id", PasswordHash: hash, CreatedAt: tp.clock.Now()}
		if err := tp.durable.CreateUser(ctx, eve); err != nil {
			t.Fatal(err)
		}
		resp, page := other.get(tp.authURL("app-two", f2, "id_token_hint", tokens.IDToken))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("form: %d", resp.StatusCode)
		}
		form := formFields(t, page)
		form.Set("username", "eve")
		form.Set("password", "kata-sandi-lain")
		resp, _ = other.post(tp.issuer+"/login", form)
		if q := tp.redirectParams(resp, "app-two"); q.Get("error") != "login_required" || q.Get("code") != "" {
			t.Fatalf("sign-in as another user than the hint: %v", q)
		}
	})

	t.Run("logout then prompt=none gives login_required", func(t *testing.T) {
		a := tp.apps["app-one"]
		iss, _ := url.Parse(tp.issuer)
		oldCookies := b.client.Jar.Cookies(iss)
		u := tp.issuer + "/end_session?" + url.Values{"id_token_hint": {tokens.IDToken},
			"post_logout_redirect_uri": {a.postLogout}, "state": {"after-logout"}}.Encode()
		resp, page := b.get(u)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("end_session: %d %s", resp.StatusCode, page)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Host != "app-one.example" || loc.Query().Get("state") != "after-logout" {
			t.Fatalf("post-logout redirect to %s", loc)
		}
		f2 := newFlow()
		resp, _ = b.get(tp.authURL("app-two", f2, "prompt", "none"))
		q := tp.redirectParams(resp, "app-two")
		if q.Get("error") != "login_required" || q.Get("state") != f2.state {
			t.Fatalf("prompt=none after logout: %v", q)
		}
		// The session ended server-side: its old cookie is worthless (ASVS 7.4.1).
		replay := tp.newBrowser()
		replay.client.Jar.SetCookies(iss, oldCookies)
		resp, _ = replay.get(tp.authURL("app-one", newFlow(), "prompt", "none"))
		if q := tp.redirectParams(resp, "app-one"); q.Get("error") != "login_required" {
			t.Fatalf("old session cookie still signs in after logout: %v", q)
		}
	})
}

// tokenResponse is the token endpoint's JSON, success or error.
type tokenResponse struct {
	status       int
	header       http.Header
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// tokenRequest posts to the token endpoint with client_secret_basic.
func (tp *testProvider) tokenRequest(app string, form url.Values) tokenResponse {
	tp.t.Helper()
	a := tp.apps[app]
	return tp.tokenRequestAuth(form, a.id, a.secret)
}

func (tp *testProvider) tokenRequestAuth(form url.Values, id, secret string) tokenResponse {
	tp.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tp.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tp.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &tr); err != nil {
		tp.t.Fatalf("token response %d is not JSON: %s", resp.StatusCode, body)
	}
	tr.status, tr.header = resp.StatusCode, resp.Header
	return tr
}

func (tp *testProvider) introspect(app, token string) bool {
	tp.t.Helper()
	a := tp.apps[app]
	server, err := rs.NewResourceServerClientCredentials(tp.t.Context(), tp.issuer, a.id, a.secret)
	if err != nil {
		tp.t.Fatal(err)
	}
	resp, err := rs.Introspect[*oidc.IntrospectionResponse](tp.t.Context(), server, token)
	if err != nil {
		tp.t.Fatalf("introspect: %v", err)
	}
	return resp.Active
}

func TestES256IDTokens(t *testing.T) {
	tp := newTestProviderHash(t, cheapHash, func(c *Config) { c.SigningAlgorithm = "ES256" })
	f := newFlow()
	q := tp.signIn(tp.newBrowser(), "app-one", f)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), q.Get("code"), tp.relyingParty("app-one", f), rp.WithCodeVerifier(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tokens.IDToken, ".")[0])
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != "ES256" || h.Kid == "" {
		t.Fatalf("ID token header %s", header)
	}
}

func TestClientCredentials(t *testing.T) {
	tp := newTestProvider(t)
	tok := tp.tokenRequest("service", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid profile"}})
	if tok.status != http.StatusOK || tok.AccessToken == "" || tok.IDToken != "" || tok.RefreshToken != "" {
		t.Fatalf("client_credentials: %d %+v", tok.status, tok)
	}
	if cc := tok.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control %q, want no-store (RFC 6749 §5.1)", cc)
	}
	if !tp.introspect("service", tok.AccessToken) {
		t.Fatal("service token inactive")
	}
	if tp.introspect("app-one", tok.AccessToken) {
		t.Fatal("another client may introspect the service's token (RFC 7662 §4)")
	}
	// A client without the grant is refused.
	if r := tp.tokenRequest("app-one", url.Values{"grant_type": {"client_credentials"}}); r.status == http.StatusOK {
		t.Fatalf("app-one got a client_credentials token: %+v", r)
	}
	// The password grant is not offered (RFC 9700 §2.4).
	if r := tp.tokenRequest("app-one", url.Values{"grant_type": {"password"}, "username": {"budi"}, "password": {tp.password}}); r.status == http.StatusOK || r.AccessToken != "" {
		t.Fatalf("password grant answered: %+v", r)
	}
}

func TestProtocolNegative(t *testing.T) {
	tp := newTestProvider(t)
	one := tp.apps["app-one"]
	exchange := func(code string, f flow) tokenResponse {
		return tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {one.redirect}, "code_verifier": {f.verifier}})
	}

	t.Run("code replay is invalid_grant", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		if r := exchange(q.Get("code"), f); r.status != http.StatusOK {
			t.Fatalf("first exchange: %+v", r)
		}
		if r := exchange(q.Get("code"), f); r.status != http.StatusBadRequest || r.Error != "invalid_grant" {
			t.Fatalf("replay: %d %+v", r.status, r)
		}
	})

	t.Run("concurrent redemptions: exactly one wins", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		var wg sync.WaitGroup
		results := make(chan int, 8)
		for range 8 {
			wg.Go(func() { results <- exchange(q.Get("code"), f).status })
		}
		wg.Wait()
		close(results)
		ok := 0
		for s := range results {
			if s == http.StatusOK {
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("%d redemptions succeeded, want 1", ok)
		}
	})

	t.Run("PKCE verifier mismatch is invalid_grant", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		wrong := f
		wrong.verifier = storage.NewID() + storage.NewID()
		if r := exchange(q.Get("code"), wrong); r.Error != "invalid_grant" {
			t.Fatalf("wrong verifier: %d %+v", r.status, r)
		}
	})

	t.Run("wrong client secret is 401 invalid_client", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		r := tp.tokenRequestAuth(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {one.redirect}, "code_verifier": {f.verifier}}, one.id, one.secret+"x")
		if r.status != http.StatusUnauthorized || r.Error != "invalid_client" {
			t.Fatalf("wrong secret: %d %+v", r.status, r)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("401 without WWW-Authenticate: Basic (RFC 6749 §5.2): %v", r.header)
		}
	})

	t.Run("replayed code revokes the tokens it gave", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		first := exchange(q.Get("code"), f)
		if first.status != http.StatusOK {
			t.Fatalf("first exchange: %+v", first)
		}
		exchange(q.Get("code"), f)
		if tp.introspect("app-one", first.AccessToken) {
			t.Fatal("access token from a replayed code still active (RFC 6749 §4.1.2)")
		}
		if r := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}); r.Error != "invalid_grant" {
			t.Fatalf("refresh token from a replayed code still works: %+v", r)
		}
	})

	t.Run("two client authentication methods at once are refused", func(t *testing.T) {
		r := tp.tokenRequest("service", url.Values{"grant_type": {"client_credentials"}, "client_id": {"service"}, "client_secret": {tp.apps["service"].secret}})
		if r.status == http.StatusOK {
			t.Fatalf("Basic and client_secret together accepted (RFC 6749 §2.3.1): %+v", r)
		}
		post := tp.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"}, "client_id": {"service"}, "client_secret": {tp.apps["service"].secret}}, "", "")
		if post.status != http.StatusOK {
			t.Fatalf("client_secret_post alone refused: %+v", post)
		}
	})

	t.Run("code issued to another client is rejected", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		r := tp.tokenRequest("app-two", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {one.redirect}, "code_verifier": {f.verifier}})
		if r.status == http.StatusOK {
			t.Fatalf("app-two redeemed app-one's code: %+v", r)
		}
	})

	t.Run("expired code is rejected", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		tp.clock.Advance(2 * time.Minute)
		if r := exchange(q.Get("code"), f); r.Error != "invalid_grant" {
			t.Fatalf("expired code: %d %+v", r.status, r)
		}
	})

	t.Run("authorize errors without redirect", func(t *testing.T) {
		b := tp.newBrowser()
		for name, extra := range map[string][]string{
			"unregistered redirect_uri":    {"redirect_uri", "http://evil.example/callback"},
			"redirect_uri with extra path": {"redirect_uri", one.redirect + "/x"},
			"redirect_uri trailing slash":  {"redirect_uri", one.redirect + "/"},
			"unknown client":               {"client_id", "no-such-client"},
			"missing client_id":            {"client_id", ""},
			"oversized state":              {"state", strings.Repeat("s", 10000)},
		} {
			resp, page := b.get(tp.authURL("app-one", newFlow(), extra...))
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.Header.Get("Location") != "" {
				t.Errorf("%s: status %d location %q, want a 4xx page", name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "<html") {
				t.Errorf("%s: not an HTML error page: %s", name, page)
			}
		}
		// A repeated parameter is refused (RFC 6749 §3.1).
		resp, _ := b.get(tp.authURL("app-one", newFlow()) + "&state=second")
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("repeated state: %d", resp.StatusCode)
		}
	})

	t.Run("authorize errors redirected to the client", func(t *testing.T) {
		b := tp.newBrowser()
		cases := map[string]struct {
			app   string
			extra []string
			want  string
		}{
			"plain PKCE refused":             {"app-one", []string{"code_challenge_method", "plain"}, "invalid_request"},
			"missing method means plain":     {"app-one", []string{"code_challenge_method", ""}, "invalid_request"},
			"public client needs PKCE":       {"spa", []string{"code_challenge", "", "code_challenge_method", ""}, "invalid_request"},
			"prompt none with login refused": {"app-one", []string{"prompt", "none login"}, "invalid_request"},
			"prompt none without session":    {"app-one", []string{"prompt", "none"}, "login_required"},
		}
		for name, c := range cases {
			f := newFlow()
			resp, _ := b.get(tp.authURL(c.app, f, c.extra...))
			q := tp.redirectParams(resp, c.app)
			if q.Get("error") != c.want || q.Get("state") != f.state || q.Get("iss") != tp.issuer {
				t.Errorf("%s: got %v, want error=%s with state and iss", name, q, c.want)
			}
		}
	})

	t.Run("implicit flow is not offered", func(t *testing.T) {
		resp, _ := tp.newBrowser().get(tp.authURL("app-one", newFlow(), "response_type", "token"))
		loc := resp.Header.Get("Location")
		if resp.StatusCode == http.StatusOK || strings.Contains(loc, "access_token") {
			t.Fatalf("response_type=token: %d %s", resp.StatusCode, loc)
		}
	})

	t.Run("token endpoint refuses GET and unknown clients", func(t *testing.T) {
		resp, err := http.Get(tp.issuer + "/oauth/token?grant_type=client_credentials")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("GET /oauth/token: %d", resp.StatusCode)
		}
		r := tp.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"}}, "ghost", "secret")
		if r.status != http.StatusUnauthorized || r.Error != "invalid_client" {
			t.Errorf("unknown client: %d %+v", r.status, r)
		}
	})

	t.Run("userinfo requires a valid bearer token", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer not-a-token"} {
			req, _ := http.NewRequest(http.MethodGet, tp.issuer+"/userinfo", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("userinfo with %q: %d %q, want 401 with a Bearer challenge", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("introspection requires client authentication", func(t *testing.T) {
		resp, err := http.PostForm(tp.issuer+"/oauth/introspect", url.Values{"token": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous introspection: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("oversized bodies are 4xx", func(t *testing.T) {
		big := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("x", 200<<10)}}
		r, err := http.PostForm(tp.issuer+"/oauth/token", big)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("200 KiB token request: %d", r.StatusCode)
		}
	})
}

func TestDiscoveryAndKeys(t *testing.T) {
	tp := newTestProvider(t)
	resp, err := http.Get(tp.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != tp.issuer {
		t.Errorf("issuer %v, want %s", d["issuer"], tp.issuer)
	}
	want := map[string]string{
		"response_types_supported":              `["code"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"grant_types_supported":                 `["authorization_code","refresh_token","client_credentials","urn:ietf:params:oauth:grant-type:device_code"]`,
		"id_token_signing_alg_values_supported": `["RS256","PS256","ES256","EdDSA"]`,
	}
	for k, v := range want {
		got, _ := json.Marshal(d[k])
		if string(got) != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	scopes, _ := json.Marshal(d["scopes_supported"])
	if !strings.Contains(string(scopes), `"organization"`) {
		t.Errorf("scopes_supported lacks organization: %s", scopes)
	}
	if got := d["device_authorization_endpoint"]; got != tp.issuer+"/device_authorization" {
		t.Errorf("device_authorization_endpoint = %v", got) // RFC 8628 §4
	}

	resp, err = http.Get(tp.issuer + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != len(op.Algorithms) {
		t.Fatalf("%d keys, want one per algorithm %v", len(set.Keys), op.Algorithms)
	}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes private member %q", k["kid"], private)
			}
		}
		if k["kid"] == "" || k["use"] != "sig" {
			t.Errorf("key without kid/use: %v", k)
		}
	}
	// No CORS on /authorize (RFC 9700 §2.6), CORS without credentials on discovery.
	req, _ := http.NewRequest(http.MethodGet, tp.authURL("app-one", newFlow()), nil)
	req.Header.Set("Origin", "https://evil.example")
	r2, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("/authorize answers CORS")
	}
	req, _ = http.NewRequest(http.MethodGet, tp.issuer+"/.well-known/openid-configuration", nil)
	req.Header.Set("Origin", "https://spa.example")
	r3, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.Header.Get("Access-Control-Allow-Origin") != "*" || r3.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("discovery CORS: %v", r3.Header)
	}
}

// TestMain routes zitadel's logs (it logs through slog's default logger)
// away from the test output unless -v is given.
func TestMain(m *testing.M) {
	if os.Getenv(beMainEnv) == "1" {
		// A child process of the bench command: be satupintu itself.
		main()
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

// decodeJWTPayload reads a JWT's claims without verifying it (the test
// verified the same token's issuer elsewhere).
func decodeJWTPayload(token string, v any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
