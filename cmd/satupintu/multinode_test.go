package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/jobs/jobstest"
	"satupintu/login/passkeytest"
	"satupintu/mail"
	"satupintu/op"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
)

// cluster is several provider nodes on one Postgres schema and one Redis
// prefix, behind a switchable front door whose URL is the issuer, as a load
// balancer would be.
type cluster struct {
	*testProvider // issuer, apps, user and helpers, seeded through node 0's stores
	nodes         []*node
	target        atomic.Int32 // which node the front door sends to
}

type node struct {
	url       *url.URL
	provider  *op.Provider
	durable   *postgres.Store
	ephemeral *redis.Store
	clock     *conformance.Clock
}

type nodeOptions struct {
	databaseURL string // default: a fresh schema
	redisURL    string // default: the test Redis
	prefix      string // default: a fresh prefix
	// direct serves a single node at the issuer URL itself, without the
	// front door's extra hop (benchmarks).
	direct bool
	// config changes each node's configuration.
	config func(*Config)
	// redis and postgres add options to each node's stores (counting hooks).
	redis    []redis.Option
	postgres []postgres.Option
}

// newCluster starts n nodes.
func newCluster(t testing.TB, n int, o nodeOptions) *cluster {
	t.Helper()
	ctx := t.Context()
	if o.databaseURL == "" {
		o.databaseURL = postgrestest.URL(t)
	}
	if o.redisURL == "" {
		o.redisURL = redistest.URL()
	}
	if o.prefix == "" {
		_, o.prefix = redistest.Open(t)
	}
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{}
	issuer := "http://" + front.Addr().String()
	if o.direct && n == 1 {
		c.nodes = append(c.nodes, startNode(t, issuer, o, front))
	} else {
		for range n {
			c.nodes = append(c.nodes, startNode(t, issuer, o, nil))
		}
		lb := httptest.NewUnstartedServer(&httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(c.nodes[c.target.Load()].url)
				r.Out.Host = r.In.Host // the nodes see the issuer's host, as behind a real balancer
			},
		})
		lb.Listener.Close()
		lb.Listener = front
		lb.Start()
		t.Cleanup(lb.Close)
	}

	first := c.nodes[0]
	tp := &testProvider{t: t, issuer: issuer, provider: first.provider, clock: first.clock, apps: map[string]testApp{}}
	tp.seed(ctx, first.durable)
	c.testProvider = tp
	return c
}

// startNode starts a node, on ln if given.
func startNode(t testing.TB, issuer string, o nodeOptions, ln net.Listener) *node {
	t.Helper()
	ctx := t.Context()
	durable, err := postgres.Open(ctx, o.databaseURL, o.postgres...)
	if err != nil {
		t.Fatalf("node postgres: %v", err)
	}
	t.Cleanup(func() { durable.Close() })
	ephemeral, err := redis.Open(ctx, o.redisURL, append([]redis.Option{redis.WithPrefix(o.prefix)}, o.redis...)...)
	if err != nil {
		t.Fatalf("node redis: %v", err)
	}
	t.Cleanup(func() { ephemeral.Close() })
	cfg := defaultConfig()
	cfg.Issuer = issuer
	cfg.ClientCacheTTL = time.Millisecond
	if o.config != nil {
		o.config(&cfg)
	}
	clk := conformance.NewClock(time.Now())
	mailer, err := mail.NewFolder(t.TempDir(), cfg.SMTP.From, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, provider, err := newServer(ctx, deps{cfg: cfg, durable: durable, ephemeral: ephemeral, outbox: jobstest.Start(t, durable, mailer),
		logger: slog.New(slog.DiscardHandler), now: clk.Now, hashParams: cheapHash,
		durableName: "postgres", ephemeralName: "redis", healthInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &node{url: u, provider: provider, durable: durable, ephemeral: ephemeral, clock: clk}
}

// on sends the following requests to node i.
func (c *cluster) on(i int) *cluster { c.target.Store(int32(i)); return c }

func TestTwoNodesAsOneProvider(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	ctx := t.Context()
	b := c.newBrowser()
	f := newFlow()

	// /authorize on A, sign-in POST on B.
	resp, page := c.on(0).b(b).get(c.authURL("app-one", f))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize on A: %d", resp.StatusCode)
	}
	form := formFields(t, page)
	form.Set("username", c.user.Username)
	form.Set("password", c.password)
	resp, _ = c.on(1).b(b).post(c.issuer+"/login", form)
	q := c.redirectParams(resp, "app-one")

	// Token exchange on A.
	c.on(0)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), c.relyingParty("app-one", f), rp.WithCodeVerifier(f.verifier))
	if err != nil {
		t.Fatalf("exchange on A of a code from B: %v", err)
	}

	// Refresh on B.
	c.on(1)
	fresh := c.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}})
	if fresh.status != http.StatusOK {
		t.Fatalf("refresh on B: %+v", fresh)
	}

	// Userinfo on A with B's access token.
	c.on(0)
	info, err := rp.Userinfo[*oidc.UserInfo](ctx, fresh.AccessToken, "Bearer", c.user.ID, c.relyingParty("app-one", f))
	if err != nil || info.Email != c.user.Email {
		t.Fatalf("userinfo on A: %v %+v", err, info)
	}

	// A reused refresh token is caught on the other node too.
	if r := c.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}); r.Error != "invalid_grant" {
		t.Fatalf("reuse on A of a token rotated on B: %+v", r)
	}

	// Logout on B, then prompt=none on A.
	c.on(1)
	resp, _ = b.get(c.issuer + "/end_session?" + url.Values{"id_token_hint": {tokens.IDToken},
		"post_logout_redirect_uri": {c.apps["app-one"].postLogout}}.Encode())
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, c.apps["app-one"].postLogout) {
		t.Fatalf("logout on B went to %q", loc)
	}
	f2 := newFlow()
	resp, _ = c.on(0).b(b).get(c.authURL("app-one", f2, "prompt", "none"))
	if q := c.redirectParams(resp, "app-one"); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none on A after logout on B: %v", q)
	}

	// A key rotated on A is served by B's JWKS once B reloads its keys.
	kid, err := c.nodes[0].provider.RotateKey(ctx, op.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[1].clock.Advance(2 * time.Minute) // B's key cache is older than its refresh interval
	c.on(1)
	found := false
	for _, k := range c.jwks() {
		found = found || k["kid"] == kid
	}
	if !found {
		t.Fatalf("B does not publish key %s rotated on A", kid)
	}
}

// b is a no-op that reads well in a chain: c.on(1).b(browser).get(...).
func (c *cluster) b(br *browser) *browser { return br }

// seed creates the user, organization and clients through st.
func (tp *testProvider) seed(ctx context.Context, st storage.Durable) {
	tp.t.Helper()
	now := tp.clock.Now()
	tp.org = storage.Organization{ID: storage.NewID(), NIB: "9120001234567", NPWP: "012345678901000",
		Name: "PT Uji Coba", TraderType: "importir", BusinessType: "pt", CreatedAt: now}
	if err := st.CreateOrganization(ctx, tp.org); err != nil {
		tp.t.Fatal(err)
	}
	tp.password = "kata-sandi-rahasia"
	hash, _ := password.Hash(tp.password, cheapHash)
	tp.user = storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@contoh.co.id", EmailVerified: true,
		Name: "Budi Santoso", PasswordHash: hash, OrganizationID: tp.org.ID, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, tp.user); err != nil {
		tp.t.Fatal(err)
	}
	tp.durable = st
	tp.addClient("app-one", false, storage.GrantAuthorizationCode, storage.GrantRefreshToken)
	tp.addClient("service", false, storage.GrantClientCredentials)
}

// TestDependencyOutages cuts Postgres and Redis in turn: requests get a
// fast 503 with a proper body, /readyz names the dependency, nothing
// panics, and service comes back by itself.
func TestDependencyOutages(t *testing.T) {
	pg := newFaultProxy(t, postgresAddr(t))
	rd := newFaultProxy(t, redisAddr(t))
	dbURL := postgrestest.URL(t)
	dbURL = replaceHost(t, dbURL, pg.Addr())
	_, prefix := redistest.Open(t)
	c := newCluster(t, 1, nodeOptions{databaseURL: dbURL, redisURL: replaceHost(t, redistest.URL(), rd.Addr()), prefix: prefix})

	tokenOK := func() int {
		return c.tokenRequest("service", url.Values{"grant_type": {"client_credentials"}}).status
	}
	if s := tokenOK(); s != http.StatusOK {
		t.Fatalf("before outage: %d", s)
	}
	for _, dep := range []struct {
		name  string
		proxy *faultProxy
	}{{"redis", rd}, {"postgres", pg}} {
		t.Run(dep.name, func(t *testing.T) {
			dep.proxy.setUp(false)
			waitFor(t, "readyz to report "+dep.name+" down", func() bool {
				code, deps := readyz(t, c.issuer)
				return code == http.StatusServiceUnavailable && deps[dep.name] == "down"
			})
			r := c.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"}}, c.apps["service"].id, c.apps["service"].secret)
			if r.status != http.StatusServiceUnavailable || r.Error != "temporarily_unavailable" {
				t.Errorf("token endpoint during outage: %d %+v", r.status, r)
			}
			resp, err := http.Get(c.issuer + "/login")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("sign-in page during outage: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if strings.Contains(string(body), "dial") || strings.Contains(string(body), "127.0.0.1") {
				t.Errorf("outage page leaks internals: %s", body)
			}
			if resp, err := http.Get(c.issuer + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("healthz during outage: %v %v", resp, err)
			}

			dep.proxy.setUp(true)
			waitFor(t, dep.name+" to recover", func() bool {
				code, _ := readyz(t, c.issuer)
				return code == http.StatusOK && tokenOK() == http.StatusOK
			})
		})
	}
	// What was acknowledged before the outages is still there.
	if _, err := c.durable.UserByID(t.Context(), c.user.ID); err != nil {
		t.Fatalf("user lost: %v", err)
	}
}

func readyz(t *testing.T, issuer string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(issuer + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Dependencies
}

// waitFor polls cond for up to a minute: recovery is asynchronous by
// design, and CI machines are loaded.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func replaceHost(t *testing.T, raw, hostport string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostport
	return u.String()
}

func postgresAddr(t *testing.T) string {
	u, _ := url.Parse(postgrestest.URL(t))
	return u.Host
}

func redisAddr(t *testing.T) string {
	u, _ := url.Parse(redistest.URL())
	return u.Host
}

// TestPasskeyOnAnyNode: a passkey challenge made on one node is answered on
// the other (the ceremony lives in Redis, the cookie naming it is sealed
// with the shared keys), and the answer signs in with an authorization
// request that was started on the first node.
func TestPasskeyOnAnyNode(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{config: localhostIssuer})
	ctx := t.Context()
	key, err := passkeytest.New(c.user.ID, "localhost", strings.Replace(c.issuer, "127.0.0.1", "localhost", 1))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := key.Record()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[0].durable.CreatePasskey(ctx, storage.Passkey{ID: storage.NewID(), UserID: c.user.ID,
		CredentialID: key.ID, Name: "Laptop", Record: rec, CreatedAt: time.Now()}, 10); err != nil {
		t.Fatal(err)
	}
	b := c.newBrowser()
	f := newFlow()
	resp, page := c.on(0).b(b).get(c.authURL("app-one", f))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize on A: %d", resp.StatusCode)
	}
	form := formFields(t, page)
	resp, options := b.post(c.issuer+"/login/passkey/options", url.Values{"csrf_token": {form.Get("csrf_token")}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("passkey options on A: %d %s", resp.StatusCode, options)
	}
	answer, err := key.Answer(options)
	if err != nil {
		t.Fatal(err)
	}
	form.Set("credential", answer)
	resp, _ = c.on(1).b(b).post(c.issuer+"/login/passkey", form)
	q := c.redirectParams(resp, "app-one")
	// The issuer is named localhost here, so the RP library's discovery
	// check would refuse it: redeem the code by hand.
	tokens := c.on(0).tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
	var claims struct {
		AMR []string `json:"amr"`
		Sub string   `json:"sub"`
	}
	if err := decodeJWTPayload(tokens.IDToken, &claims); err != nil || tokens.status != http.StatusOK {
		t.Fatalf("exchange of a code from a passkey answered on B: %+v (%v)", tokens, err)
	}
	if claims.Sub != c.user.ID || !slices.Contains(claims.AMR, "hwk") || !slices.Contains(claims.AMR, "mfa") {
		t.Fatalf("ID token sub %q amr %v, want the user with hwk and mfa", claims.Sub, claims.AMR)
	}
}
