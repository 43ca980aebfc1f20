package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/storage/conformance"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
)

// The protocol side of issue 8, end to end through newServer: credentials
// only in POST bodies and headers, malformed input answered 4xx, error
// descriptions in RFC 6749's character set, and dependency failures
// answered 503 (never invalid_grant, "unknown client", a 500 or a driver
// message). op's own tests cover each rule in detail; these prove the
// wiring keeps them.

// internals are fragments of error texts no answer may carry.
var internals = []string{"127.0.0.1", "dial", "pgx", "redis", "connection refused", "ErrorType="}

// answer is one raw HTTP answer.
type answer struct {
	status int
	header http.Header
	body   string
}

// do sends req without following redirects.
func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func postForm(t *testing.T, target string, form url.Values, id, secret string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return do(t, req)
}

func getURL(t *testing.T, target string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

// checkClean fails if a carries an internal error text or a 500.
func checkClean(t *testing.T, name string, a answer) {
	t.Helper()
	if a.status >= 500 && a.status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d", name, a.status)
	}
	all := a.body + a.header.Get("Location") + a.header.Get("WWW-Authenticate")
	for _, s := range internals {
		if strings.Contains(all, s) {
			t.Errorf("%s: answer carries %q: %d %s", name, s, a.status, all)
		}
	}
}

// descriptionOK reports RFC 6749 §5.2's set: %x20-21 / %x23-5B / %x5D-7E.
func descriptionOK(s string) bool {
	for _, c := range []byte(s) {
		if !(c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
			return false
		}
	}
	return true
}

func TestProtocolHardeningCredentialsOnlyInBodies(t *testing.T) {
	tp := newTestProvider(t)
	f := newFlow()
	q := tp.signIn(tp.newBrowser(), "app-one", f)
	tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {tp.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
	if tok.status != http.StatusOK {
		t.Fatalf("token: %+v", tok)
	}
	one := tp.apps["app-one"]

	// The GET that used to issue tokens (RFC 6749 §3.2, RFC 9700 §4.3.2).
	a := getURL(t, tp.issuer+"/oauth/token?"+url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {one.id}, "client_secret": {one.secret}}.Encode())
	if a.status != http.StatusMethodNotAllowed || strings.Contains(a.body, "access_token") || !strings.Contains(a.body, `"invalid_request"`) {
		t.Errorf("GET /oauth/token with credentials in the query: %d %s", a.status, a.body)
	}
	// POST with the credentials in the URL instead of the body.
	a = postForm(t, tp.issuer+"/oauth/token?client_secret="+url.QueryEscape(one.secret),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {one.id}}, "", "")
	if a.status != http.StatusBadRequest || strings.Contains(a.body, "access_token") {
		t.Errorf("POST with the secret in the query: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/oauth/introspect", "/revoke"} {
		a := getURL(t, tp.issuer+path+"?token="+url.QueryEscape(tok.AccessToken), "Authorization", basicHeader(one.id, one.secret))
		if a.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d %s", path, a.status, a.body)
		}
	}

	// No access token in a query string.
	a = getURL(t, tp.issuer+"/userinfo?access_token="+url.QueryEscape(tok.AccessToken))
	if a.status != http.StatusUnauthorized || !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_request"`) ||
		strings.Contains(a.body, tp.user.Email) {
		t.Errorf("/userinfo?access_token=: %d %q %s", a.status, a.header.Get("WWW-Authenticate"), a.body)
	}
	// The header works, and so does a form body (RFC 6750 §2.2).
	if a := getURL(t, tp.issuer+"/userinfo", "Authorization", "Bearer "+tok.AccessToken); a.status != http.StatusOK {
		t.Errorf("userinfo with the header: %d %s", a.status, a.body)
	}
	if a := postForm(t, tp.issuer+"/userinfo", url.Values{"access_token": {tok.AccessToken}}, "", ""); a.status != http.StatusOK {
		t.Errorf("userinfo with a form body: %d %s", a.status, a.body)
	}
	// The refused requests spent nothing: the refresh token still works.
	if r := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); r.status != http.StatusOK {
		t.Errorf("refresh in the body afterwards: %+v", r)
	}
}

func basicHeader(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

func TestProtocolHardeningMalformedEndSession(t *testing.T) {
	tp := newTestProvider(t)
	for name, query := range map[string]string{
		"undecodable state": "state=%zz",
		"repeated state":    "state=a&state=b",
		// A pending logout keeps state for 10 minutes: it is capped.
		"oversized state": "client_id=app-one&state=" + strings.Repeat("s", 4096) +
			"&post_logout_redirect_uri=" + url.QueryEscape(tp.apps["app-one"].postLogout),
	} {
		a := getURL(t, tp.issuer+"/end_session?"+query)
		checkClean(t, name, a)
		if a.status != http.StatusBadRequest || !strings.Contains(a.header.Get("Content-Type"), "text/html") || a.header.Get("Location") != "" {
			t.Errorf("%s: %d %q %q, want a 400 page", name, a.status, a.header.Get("Content-Type"), a.header.Get("Location"))
		}
	}
}

func TestProtocolHardeningErrorHygiene(t *testing.T) {
	tp := newTestProvider(t)
	one := tp.apps["app-one"]

	// A request value with control characters, quotes and non-ASCII is
	// echoed only within RFC 6749's character set.
	a := postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"x\x01\"\\\u00e9\ny"}}, one.id, one.secret)
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	decodeJSON(t, a, &e)
	if a.status != http.StatusBadRequest || e.Error != "unsupported_grant_type" || !descriptionOK(e.Description) {
		t.Errorf("echoed grant_type: %d %s", a.status, a.body)
	}

	// A failed HTTP Basic authentication: 401 with the Basic challenge.
	for _, path := range []string{"/oauth/introspect", "/oauth/token", "/revoke"} {
		a := postForm(t, tp.issuer+path, url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}, one.id, "wrong")
		decodeJSON(t, a, &e)
		if a.status != http.StatusUnauthorized || e.Error != "invalid_client" || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s with a wrong Basic secret: %d %q %s", path, a.status, a.header.Get("WWW-Authenticate"), a.body)
		}
		checkClean(t, path, a)
	}

	// A grant the client may not use: 400 unauthorized_client, not 401.
	a = postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, one.id, one.secret)
	decodeJSON(t, a, &e)
	if a.status != http.StatusBadRequest || e.Error != "unauthorized_client" {
		t.Errorf("client_credentials for a code client: %d %s", a.status, a.body)
	}

	// The whole pending request is capped, though each parameter is under
	// the per-parameter limit: invalid_request back to the client.
	f := newFlow()
	f.state, f.nonce = strings.Repeat("s", 3000), strings.Repeat("n", 2000)
	a = getURL(t, tp.authURL("app-one", f))
	loc, _ := url.Parse(a.header.Get("Location"))
	if a.status != http.StatusFound || loc.Host != "app-one.example" || loc.Query().Get("error") != "invalid_request" ||
		!descriptionOK(loc.Query().Get("error_description")) {
		t.Errorf("oversized authorization request: %d %q", a.status, a.header.Get("Location"))
	}
}

func decodeJSON(t *testing.T, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("answer %d is not JSON: %s", a.status, a.body)
	}
}

// newOutageProvider starts one node on Postgres and Redis behind fault
// proxies. Its health check does not run again during the test, so
// requests reach the provider while a dependency is down, as they do in
// the moments before the health gate notices an outage.
func newOutageProvider(t *testing.T) (tp *testProvider, clk *conformance.Clock, pg, rd *faultProxy) {
	t.Helper()
	ctx := t.Context()
	pg = newFaultProxy(t, postgresAddr(t))
	rd = newFaultProxy(t, redisAddr(t))
	_, prefix := redistest.Open(t)
	durable, err := postgres.Open(ctx, replaceHost(t, postgrestest.URL(t), pg.Addr()))
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { durable.Close() })
	ephemeral, err := redis.Open(ctx, replaceHost(t, redistest.URL(), rd.Addr()), redis.WithPrefix(prefix))
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { ephemeral.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.ClientCacheTTL = time.Millisecond
	clk = conformance.NewClock(time.Now())
	mailer, err := mail.NewFolder(t.TempDir(), cfg.SMTP.From, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, provider, err := newServer(ctx, deps{cfg: cfg, durable: durable, ephemeral: ephemeral, outbox: jobstest.Start(t, durable, mailer),
		logger: slog.New(slog.DiscardHandler), now: clk.Now, hashParams: cheapHash,
		durableName: "postgres", ephemeralName: "redis", healthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	tp = &testProvider{t: t, issuer: cfg.Issuer, provider: provider, clock: clk, apps: map[string]testApp{}}
	tp.seed(ctx, durable)
	return tp, clk, pg, rd
}

// wantTemporarilyUnavailable checks a protocol answer during an outage.
func wantTemporarilyUnavailable(t *testing.T, name string, a answer) {
	t.Helper()
	checkClean(t, name, a)
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, `"temporarily_unavailable"`) {
		t.Errorf("%s: %d %s, want 503 temporarily_unavailable", name, a.status, a.body)
	}
}

// wantUnavailablePage checks a browser answer during an outage.
func wantUnavailablePage(t *testing.T, name string, a answer) {
	t.Helper()
	checkClean(t, name, a)
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.header.Get("Content-Type"), "text/html") || a.header.Get("Location") != "" {
		t.Errorf("%s: %d %q %q, want the 503 page", name, a.status, a.header.Get("Content-Type"), a.header.Get("Location"))
	}
}

func TestProtocolHardeningDependencyFailures(t *testing.T) {
	tp, clk, pg, rd := newOutageProvider(t)
	one, service := tp.apps["app-one"], tp.apps["service"]
	f := newFlow()
	q := tp.signIn(tp.newBrowser(), "app-one", f)
	tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {one.redirect}, "code_verifier": {f.verifier}})
	if tok.status != http.StatusOK || tok.RefreshToken == "" {
		t.Fatalf("token: %+v", tok)
	}
	refresh := func() answer {
		return postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, one.id, one.secret)
	}

	t.Run("postgres", func(t *testing.T) {
		pg.setUp(false)
		defer pg.setUp(true)
		// The client is still cached: the refresh token lookup itself
		// fails, and must not be reported invalid.
		a := refresh()
		wantTemporarilyUnavailable(t, "refresh", a)
		if strings.Contains(a.body, "invalid_grant") {
			t.Errorf("refresh during a Postgres outage called the token invalid: %s", a.body)
		}
		clk.Advance(time.Second) // past the client cache
		wantTemporarilyUnavailable(t, "introspection", postForm(t, tp.issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, one.id, one.secret))
		wantTemporarilyUnavailable(t, "client_credentials", postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, service.id, service.secret))
		wantTemporarilyUnavailable(t, "userinfo", getURL(t, tp.issuer+"/userinfo", "Authorization", "Bearer "+tok.AccessToken))
		// Not "unknown client" while the database is down.
		wantUnavailablePage(t, "authorize", getURL(t, tp.authURL("app-one", newFlow())))
	})
	// Right after the outage, until the pools have reconnected, answers may
	// still be 503, but never a 500, an internal text or invalid_grant.
	recovering := func(name string, a answer) bool {
		t.Helper()
		checkClean(t, name, a)
		if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
			t.Errorf("%s right after the outage: %d %s", name, a.status, a.body)
		}
		return a.status == http.StatusOK
	}
	waitFor(t, "the refresh token to work after the Postgres outage", func() bool { return recovering("refresh", refresh()) })

	t.Run("redis", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		rd.setUp(false)
		defer rd.setUp(true)
		clk.Advance(time.Second)
		wantTemporarilyUnavailable(t, "code exchange", postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"authorization_code"},
			"code": {q.Get("code")}, "redirect_uri": {one.redirect}, "code_verifier": {f.verifier}}, one.id, one.secret))
		wantTemporarilyUnavailable(t, "client_credentials", postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, service.id, service.secret))
		wantTemporarilyUnavailable(t, "introspection", postForm(t, tp.issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, one.id, one.secret))
		wantTemporarilyUnavailable(t, "userinfo", getURL(t, tp.issuer+"/userinfo", "Authorization", "Bearer "+tok.AccessToken))
		wantUnavailablePage(t, "authorize", getURL(t, tp.authURL("app-one", newFlow())))
	})
	waitFor(t, "tokens after the Redis outage", func() bool {
		return recovering("client_credentials", postForm(t, tp.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, service.id, service.secret))
	})
}
