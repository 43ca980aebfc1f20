package op

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/storagetest"
)

// errDown is what a dead dependency looks like to the provider: a driver
// error full of internals that must never reach a client.
var errDown = errors.New("pgx: dial tcp 127.0.0.1:5432: connect: connection refused; redis: OOM command not allowed")

// leaks are fragments of errDown (and of error texts generally) a response
// must not carry. Each holds a space or a colon, which no base64url token or
// code can, so a random token in a successful answer never matches.
var leaks = []string{"127.0.0.1:", "dial tcp", "pgx: ", "redis: ", "connection refused", "OOM command"}

// flakyDurable is the embedded durable store with a switch that makes the
// calls the provider depends on fail as a cut Postgres connection would.
type flakyDurable struct {
	Durable
	down atomic.Bool
}

func (f *flakyDurable) ClientByID(ctx context.Context, id string) (storage.Client, error) {
	if f.down.Load() {
		return storage.Client{}, errDown
	}
	return f.Durable.ClientByID(ctx, id)
}

func (f *flakyDurable) RefreshTokenByID(ctx context.Context, id string) (storage.RefreshToken, error) {
	if f.down.Load() {
		return storage.RefreshToken{}, errDown
	}
	return f.Durable.RefreshTokenByID(ctx, id)
}

func (f *flakyDurable) UserByID(ctx context.Context, id string) (storage.User, error) {
	if f.down.Load() {
		return storage.User{}, errDown
	}
	return f.Durable.UserByID(ctx, id)
}

// flakyEphemeral does the same for the short-lived store (Redis).
type flakyEphemeral struct {
	Ephemeral
	down atomic.Bool
}

func (f *flakyEphemeral) CreateAuthRequest(ctx context.Context, r storage.AuthRequest, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.CreateAuthRequest(ctx, r, ttl)
}

func (f *flakyEphemeral) AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error) {
	if f.down.Load() {
		return storage.AuthRequest{}, errDown
	}
	return f.Ephemeral.AuthRequestByID(ctx, id)
}

func (f *flakyEphemeral) ConsumeAuthCode(ctx context.Context, code string) (storage.AuthRequest, error) {
	if f.down.Load() {
		return storage.AuthRequest{}, errDown
	}
	return f.Ephemeral.ConsumeAuthCode(ctx, code)
}

func (f *flakyEphemeral) AccessTokenByID(ctx context.Context, id string) (storage.AccessToken, error) {
	if f.down.Load() {
		return storage.AccessToken{}, errDown
	}
	return f.Ephemeral.AccessTokenByID(ctx, id)
}

func (f *flakyEphemeral) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.CreateAccessToken(ctx, t)
}

func (f *flakyEphemeral) IssueAccessToken(ctx context.Context, t storage.AccessToken, with storage.TokenWrites) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.IssueAccessToken(ctx, t, with)
}

func (f *flakyEphemeral) CreateAuthRequestWithCode(ctx context.Context, r storage.AuthRequest, ttl time.Duration, code string, codeTTL time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.CreateAuthRequestWithCode(ctx, r, ttl, code, codeTTL)
}

// harness is a provider on the embedded stores, driven in-process.
type harness struct {
	t      testing.TB
	p      *Provider
	dur    *flakyDurable
	eph    *flakyEphemeral
	mem    *memory.Store
	now    time.Time
	user   storage.User
	admit  atomic.Pointer[func(*http.Request) error]
	admits atomic.Int32
	logout atomic.Pointer[LogoutRequest] // the last logout handed to the UI
	// deviceAdmit, if set, answers Config.Device.Admit (device_test.go).
	deviceAdmit atomic.Pointer[func(*http.Request) error]
}

const (
	testIssuer   = "http://op.test"
	testRedirect = "http://rp.test/callback"
	testLogout   = "http://rp.test/"
)

// client ids of the harness and their grants.
var testClients = map[string][]string{
	"app":     {storage.GrantAuthorizationCode, storage.GrantRefreshToken},
	"no-rt":   {storage.GrantAuthorizationCode},
	"service": {storage.GrantClientCredentials},
}

// testSecret is every confidential test client's secret.
const testSecret = "s3cret-s3cret-s3cret"

// newHarness builds the harness; opts change the provider's Config.
func newHarness(t testing.TB, opts ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return h.now }
	mem, dur := storagetest.Embedded(t, clock)
	h.mem = mem
	h.dur = &flakyDurable{Durable: dur}
	h.eph = &flakyEphemeral{Ephemeral: mem}
	ctx := context.Background()
	for id, grants := range testClients {
		c := storage.Client{ID: id, Name: id, GrantTypes: grants, AccessTokenFormat: "opaque",
			SecretHash: password.HashSecret(testSecret), PostLogoutRedirectURIs: []string{testLogout}, CreatedAt: h.now}
		if grants[0] == storage.GrantAuthorizationCode {
			c.RedirectURIs = []string{testRedirect}
		}
		if err := dur.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	h.user = storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@contoh.co.id", Name: "Budi", CreatedAt: h.now, UpdatedAt: h.now}
	if err := dur.CreateUser(ctx, h.user); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuer:         testIssuer,
		ClientCacheTTL: time.Nanosecond, // every request asks the (flaky) store
		LogoutURL: func(ctx context.Context, req LogoutRequest) (string, error) {
			h.logout.Store(&req)
			return "/logout?id=x", nil
		},
		ErrorPage: func(w http.ResponseWriter, _ *http.Request, status int, key string) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			io.WriteString(w, "<html>page:"+key+"</html>")
		},
		AdmitAuthRequest: func(r *http.Request) error {
			h.admits.Add(1)
			if fn := h.admit.Load(); fn != nil {
				return (*fn)(r)
			}
			return nil
		},
		Device: DeviceConfig{Admit: func(r *http.Request) error {
			if fn := h.deviceAdmit.Load(); fn != nil {
				return (*fn)(r)
			}
			return nil
		}},
		Now:    clock,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(ctx, cfg, h.dur, h.eph)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	return h
}

// serve runs one request through the provider.
func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.RemoteAddr = "192.0.2.7:4242"
	h.p.Handler().ServeHTTP(w, r)
	return w
}

func (h *harness) get(target string) *httptest.ResponseRecorder {
	return h.serve(httptest.NewRequest(http.MethodGet, target, nil))
}

// post sends form to path, authenticating as client with Basic unless
// client is empty.
func (h *harness) post(path, client string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client != "" {
		r.SetBasicAuth(client, testSecret)
	}
	return h.serve(r)
}

// pkce is a verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := storage.NewID() + storage.NewID()
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authorizeQuery is a valid authorization request of client "app".
func authorizeQuery(pk pkce, extra ...string) url.Values {
	q := url.Values{
		"client_id": {"app"}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {pk.challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// authRequestID starts an authorization request and returns its id.
func (h *harness) authRequestID(pk pkce) string {
	h.t.Helper()
	w := h.get("/authorize?" + authorizeQuery(pk).Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	id := loc.Query().Get("authRequestID")
	if w.Code != http.StatusFound || id == "" {
		h.t.Fatalf("authorize: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	return id
}

// code runs a whole authorization with the user signed in and returns the code.
func (h *harness) code(pk pkce) string {
	h.t.Helper()
	id := h.authRequestID(pk)
	err := h.mem.UpdateAuthRequest(context.Background(), id, func(r *storage.AuthRequest) error {
		r.Done, r.UserID, r.AuthTime, r.AMR = true, h.user.ID, h.now, []string{storage.AMRPassword}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	w := h.get("/authorize/callback?id=" + url.QueryEscape(id))
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("code") == "" {
		h.t.Fatalf("callback: %d %q", w.Code, w.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokens is a token endpoint answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func decode(t testing.TB, w *httptest.ResponseRecorder) tokens {
	t.Helper()
	var tk tokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil {
		t.Fatalf("answer %d is not JSON: %s", w.Code, w.Body)
	}
	return tk
}

// signedIn returns tokens of a completed code flow for client "app".
func (h *harness) signedIn() tokens {
	h.t.Helper()
	pk := newPKCE()
	w := h.post("/oauth/token", "app", url.Values{"grant_type": {"authorization_code"}, "code": {h.code(pk)},
		"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}})
	tk := decode(h.t, w)
	if w.Code != http.StatusOK || tk.AccessToken == "" || tk.RefreshToken == "" {
		h.t.Fatalf("code exchange: %d %s", w.Code, w.Body)
	}
	return tk
}

// checkNoLeak fails if w carries an internal error text.
func checkNoLeak(t testing.TB, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	all := w.Body.String() + " " + w.Header().Get("Location") + " " + w.Header().Get("WWW-Authenticate")
	// A redirect carries its error query-encoded; look at the decoded values too.
	if loc, err := url.Parse(w.Header().Get("Location")); err == nil {
		for _, vs := range loc.Query() {
			all += " " + strings.Join(vs, " ")
		}
	}
	for _, l := range leaks {
		if strings.Contains(all, l) {
			t.Errorf("%s: answer carries %q: %d %s", name, l, w.Code, all)
		}
	}
}

// TestMain keeps zitadel's logs (slog's default logger) out of the test
// output unless -v is given.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}
