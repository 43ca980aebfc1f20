package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"satupintu/op"
	"satupintu/storage"
	"satupintu/storage/sqlite"
)

// cli runs the satupintu command in-process against dataDir.
type cli struct {
	t       *testing.T
	dataDir string
}

func (c cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "SATUPINTU_DATA_DIR" {
			return c.dataDir
		}
		return ""
	}
	code = run(c.t.Context(), args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestClientCommands(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "Aplikasi Uji", "--redirect-uri", "https://app.example/cb",
		"--post-logout-redirect-uri", "https://app.example/", "--json")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json output: %v\n%s", err, out)
	}
	if created.ClientID == "" || len(created.ClientSecret) < 40 {
		t.Fatalf("create gave id %q secret %q", created.ClientID, created.ClientSecret)
	}
	if strings.Join(created.GrantTypes, ",") != "authorization_code,refresh_token" {
		t.Fatalf("default grants %v", created.GrantTypes)
	}

	_, out, _ = c.run("", "client", "list")
	if !strings.Contains(out, created.ClientID) || !strings.Contains(out, "Aplikasi Uji") {
		t.Fatalf("list lacks the client:\n%s", out)
	}
	if strings.Contains(out, created.ClientSecret) {
		t.Fatal("list shows a secret")
	}

	code, out, _ = c.run("", "client", "rotate-secret", created.ClientID, "--json")
	var rotated clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.ClientSecret == created.ClientSecret || rotated.ClientSecret == "" {
		t.Fatalf("rotate-secret: exit %d\n%s", code, out)
	}

	if code, _, _ = c.run("", "client", "delete", created.ClientID); code != 0 {
		t.Fatalf("delete: exit %d", code)
	}
	if _, out, _ = c.run("", "client", "list"); strings.Contains(out, created.ClientID) {
		t.Fatal("deleted client still listed")
	}
	if code, _, errOut = c.run("", "client", "delete", created.ClientID); code != 2 || !strings.Contains(errOut, "no client") {
		t.Fatalf("second delete: exit %d %q", code, errOut)
	}

	code, out, _ = c.run("", "client", "create", "--name", "Layanan", "--grant-type", "client_credentials", "--json")
	if code != 0 || !strings.Contains(out, `"client_credentials"`) {
		t.Fatalf("service client: exit %d\n%s", code, out)
	}
}

func TestCommandLineErrors(t *testing.T) {
	c := cli{t, t.TempDir()}
	cases := map[string][]string{
		"unknown command":             {"frobnicate"},
		"no name":                     {"client", "create", "--redirect-uri", "https://a.example/cb"},
		"no redirect for code flow":   {"client", "create", "--name", "x"},
		"fragment in redirect":        {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb#frag"},
		"plain http off localhost":    {"client", "create", "--name", "x", "--redirect-uri", "http://a.example/cb"},
		"javascript redirect":         {"client", "create", "--name", "x", "--redirect-uri", "javascript:alert(1)"},
		"relative redirect":           {"client", "create", "--name", "x", "--redirect-uri", "/cb"},
		"unknown grant":               {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--grant-type", "password"},
		"public client credentials":   {"client", "create", "--name", "x", "--public", "--grant-type", "client_credentials"},
		"unknown flag":                {"client", "create", "--nmae", "x"},
		"user without password-stdin": {"user", "create", "--username", "u", "--email", "u@example.com"},
		"user bad email":              {"user", "create", "--username", "u", "--email", "not-an-email", "--password-stdin"},
		"user bad role":               {"user", "create", "--username", "u", "--email", "u@example.com", "--role", "root", "--password-stdin"},
		"bad issuer":                  {"client", "--issuer", "ftp://x", "list"},
		"keys unknown alg":            {"keys", "rotate", "--alg", "HS256"},
	}
	for name, args := range cases {
		code, _, errOut := c.run("a long enough password\n", args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", name, code, errOut)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 0 || errOut == "" {
			t.Errorf("%s: want a one-line error, got %q", name, errOut)
		}
	}
}

func TestUserCommands(t *testing.T) {
	c := cli{t, t.TempDir()}
	create := func(stdin string, extra ...string) (int, string) {
		args := append([]string{"user", "create", "--username", "Siti", "--email", "Siti@Contoh.co.id", "--name", "Siti R", "--password-stdin"}, extra...)
		code, _, errOut := c.run(stdin, args...)
		return code, errOut
	}
	if code, errOut := create("pendek\n"); code != 2 || !strings.Contains(errOut, "at least") {
		t.Fatalf("short password: exit %d %q", code, errOut)
	}
	if code, errOut := create("Password123!\n"); code != 2 || !strings.Contains(errOut, "too common") {
		t.Fatalf("common password: exit %d %q", code, errOut)
	}
	if code, errOut := create("siti@contoh.co.id\n"); code != 2 || !strings.Contains(errOut, "username or the email") {
		t.Fatalf("the email as password: exit %d %q", code, errOut)
	}
	if code, errOut := create("kata sandi yang panjang\n", "--role", "officer"); code != 0 {
		t.Fatalf("create: exit %d %q", code, errOut)
	}
	if code, errOut := create("kata sandi yang panjang\n"); code != 2 || !strings.Contains(errOut, "already taken") {
		t.Fatalf("duplicate: exit %d %q", code, errOut)
	}
	if code, _, errOut := c.run("kata sandi baru sekali\n", "user", "set-password", "--username", "siti@contoh.co.id"); code != 0 {
		t.Fatalf("set-password by email: exit %d %q", code, errOut)
	}
	if code, _, errOut := c.run("", "user", "disable", "--username", "siti"); code != 0 {
		t.Fatalf("disable: exit %d %q", code, errOut)
	}
	_, out, _ := c.run("", "user", "list")
	if !strings.Contains(out, "siti") || !strings.Contains(out, "disabled") || !strings.Contains(out, "officer") {
		t.Fatalf("list after disable:\n%s", out)
	}
	if code, _, _ := c.run("", "user", "enable", "--username", "nobody"); code != 2 {
		t.Fatalf("enable unknown user: exit %d", code)
	}
}

// TestAdminChangesReachRunningServer: the CLI writes the same SQLite file a
// running server reads, and the server picks changes up without a restart.
func TestAdminChangesReachRunningServer(t *testing.T) {
	tp := newTestProvider(t)
	c := cli{t, tp.dataDir}

	code, out, errOut := c.run("", "client", "create", "--name", "Layanan", "--grant-type", "client_credentials", "--json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if r := tp.tokenRequestAuth(form, created.ClientID, created.ClientSecret); r.status != http.StatusOK {
		t.Fatalf("new client refused by the running server: %+v", r)
	}
	if code, _, errOut := c.run("", "client", "rotate-secret", created.ClientID); code != 0 {
		t.Fatalf("rotate-secret: %s", errOut)
	}
	tp.clock.Advance(time.Second) // past the client cache TTL
	if r := tp.tokenRequestAuth(form, created.ClientID, created.ClientSecret); r.status != http.StatusUnauthorized {
		t.Fatalf("old secret still accepted after rotation: %+v", r)
	}

	// Disabling a user stops their refresh tokens.
	f := newFlow()
	q := tp.signIn(tp.newBrowser(), "app-one", f)
	tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {tp.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
	if code, _, errOut := c.run("", "user", "disable", "--username", tp.user.Username); code != 0 {
		t.Fatalf("disable: %s", errOut)
	}
	// Without Redis the command cannot tell the server, whose cached
	// user lasts the cache's TTL at most.
	tp.clock.Advance(defaultConfig().CacheTTL)
	if r := tp.tokenRequest("app-one", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); r.Error != "invalid_grant" {
		t.Fatalf("disabled user's refresh: %+v", r)
	}
	if tp.introspect("app-one", tok.AccessToken) {
		t.Fatal("disabled user's access token still active")
	}

	// A rotated key is published at once and signs after the grace period.
	if code, _, errOut := c.run("", "keys", "rotate", "--alg", "RS256"); code != 0 {
		t.Fatalf("keys rotate: %s", errOut)
	}
	tp.clock.Advance(2 * time.Minute) // past the key reload interval
	if n := len(tp.jwks()); n != len(op.Algorithms)+1 {
		t.Fatalf("%d keys published after rotation, want one per algorithm and the new one", n)
	}
}

func (tp *testProvider) jwks() []map[string]any {
	tp.t.Helper()
	resp, err := http.Get(tp.issuer + "/keys")
	if err != nil {
		tp.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		tp.t.Fatal(err)
	}
	return set.Keys
}

func TestConfig(t *testing.T) {
	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("flags override environment over defaults", func(t *testing.T) {
		cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--addr", ":9000"},
			envOf(map[string]string{"SATUPINTU_ADDR": ":7000", "SATUPINTU_ISSUER": "https://sso.example.go.id", "SATUPINTU_DEMO": "false"}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != ":9000" || cfg.Issuer != "https://sso.example.go.id" || cfg.Demo || !cfg.secure() {
			t.Fatalf("cfg = %+v", cfg)
		}
	})
	t.Run("every problem is reported at once", func(t *testing.T) {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, envOf(map[string]string{
			"SATUPINTU_ISSUER": "http://sso.example.go.id", "SATUPINTU_SIGNING_ALG": "none",
			"SATUPINTU_SESSION_TTL": "forever", "SATUPINTU_LOG_FORMAT": "xml",
		}))
		if err == nil {
			t.Fatal("bad config accepted")
		}
		for _, want := range []string{"https", "signing-alg", "SESSION_TTL", "log-format"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	})
	t.Run("secrets from files", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/iss", "https://sso.example.go.id\n")
		cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, envOf(map[string]string{"SATUPINTU_ISSUER_FILE": dir + "/iss"}))
		if err != nil || cfg.Issuer != "https://sso.example.go.id" {
			t.Fatalf("cfg %+v err %v", cfg, err)
		}
	})
}

func TestDemoSeed(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), dir+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out bytes.Buffer
	if err := seedDemo(t.Context(), db, dir, time.Now(), &out); err != nil {
		t.Fatal(err)
	}
	first := out.String()
	if !strings.Contains(first, "demo.trader") || !strings.Contains(first, "e-BPOM (demo)") {
		t.Fatalf("demo banner:\n%s", first)
	}
	out.Reset()
	if err := seedDemo(t.Context(), db, dir, time.Now(), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != first {
		t.Fatal("second start printed different demo credentials")
	}
	u, err := db.UserByLogin(t.Context(), "demo.trader")
	if err != nil || u.OrganizationID == "" {
		t.Fatalf("demo trader: %+v %v", u, err)
	}
	if _, err := db.ClientByID(t.Context(), "demo-insw"); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeCommand runs the README's first command as a user would (on a
// free port, in a temporary data folder) and stops it as SIGTERM would.
func TestServeCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	dir := t.TempDir()
	// serve makes its logger the default (zitadel logs through it); put
	// the test's back so later tests do not write into this one's buffer.
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		env := func(k string) string {
			return map[string]string{"SATUPINTU_ADDR": addr, "SATUPINTU_DATA_DIR": dir, "SATUPINTU_ISSUER": "http://" + addr,
				"SATUPINTU_METRICS_ADDR": metricsAddr, "SATUPINTU_PPROF": "true"}[k]
		}
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), &out, &errb, env)
	}()
	var resp *http.Response
	// Start-up generates keys and migrates: seconds on a loaded machine.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/.well-known/openid-configuration"); err == nil {
			break
		}
	}
	if err != nil {
		cancel()
		t.Fatalf("serve did not come up: %v\n%s", err, errb.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	if _, err := os.Stat(dir + "/demo-clients.json"); err != nil {
		t.Fatalf("demo clients file: %v", err)
	}
	// The internal address serves metrics and the profiler; the public
	// one serves neither.
	for _, c := range []struct {
		url, want string
		status    int
	}{
		{"http://" + metricsAddr + "/metrics", `satupintu_http_requests_total{code="200",method="GET",route="/.well-known/openid-configuration"}`, 200},
		{"http://" + metricsAddr + "/metrics", `satupintu_registrations_open{status="submitted"} 0`, 200},
		{"http://" + metricsAddr + "/metrics", `satupintu_jobs{state="available"}`, 200},
		{"http://" + metricsAddr + "/metrics", `satupintu_memory_evictions_total{kind="sessions"} 0`, 200},
		{"http://" + metricsAddr + "/metrics", `satupintu_memory_entries{kind="sessions"} 0`, 200},
		{"http://" + metricsAddr + "/debug/pprof/", "goroutine", 200},
		{"http://" + addr + "/metrics", "", 404},
		{"http://" + addr + "/debug/pprof/", "", 404},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatalf("GET %s: %v", c.url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d, want %d with %q:\n%.2000s", c.url, resp.StatusCode, c.status, c.want, body)
		}
	}
	cancel() // what SIGTERM does through signal.NotifyContext
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(out.String(), "demo.trader") {
		t.Fatalf("no demo credentials printed:\n%s", out.String())
	}
}

// TestUserPasskeyCommands: an operator lists a user's passkeys and removes
// one or all of them, each removal on the audit log.
func TestUserPasskeyCommands(t *testing.T) {
	c := cli{t, t.TempDir()}
	if code, _, errOut := c.run("kata sandi yang panjang\n", "user", "create", "--username", "siti", "--email", "siti@contoh.co.id", "--password-stdin"); code != 0 {
		t.Fatalf("create: exit %d %q", code, errOut)
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(c.dataDir, "satupintu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u, err := store.UserByLogin(t.Context(), "siti")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, name := range []string{"Laptop", "Ponsel", "Kunci USB"} {
		k := storage.Passkey{ID: storage.NewID(), UserID: u.ID, CredentialID: []byte(name), Name: name, Record: []byte("{}"),
			CreatedAt: time.Date(2026, 12, 1, i, 0, 0, 0, time.UTC)}
		if err := store.CreatePasskey(t.Context(), k, 10); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	_, out, _ := c.run("", "user", "passkeys", "siti")
	for _, want := range []string{ids[0], "Laptop", "Ponsel", "Kunci USB", "never"} {
		if !strings.Contains(out, want) {
			t.Fatalf("user passkeys lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := c.run("", "user", "remove-passkeys", "--username", "siti", "--id", "nope"); code != 2 || !strings.Contains(errOut, "no passkey") {
		t.Fatalf("remove an unknown passkey: exit %d %q", code, errOut)
	}
	if code, out, errOut := c.run("", "user", "remove-passkeys", "--username", "siti", "--id", ids[1]); code != 0 || !strings.Contains(out, "removed 1") {
		t.Fatalf("remove one: exit %d %q %q", code, out, errOut)
	}
	if code, out, errOut := c.run("", "user", "remove-passkeys", "siti"); code != 0 || !strings.Contains(out, "removed 2") {
		t.Fatalf("remove all: exit %d %q %q", code, out, errOut)
	}
	if left, err := store.PasskeysOf(t.Context(), u.ID); err != nil || len(left) != 0 {
		t.Fatalf("after remove-passkeys: %v, %v", left, err)
	}
	events, err := store.ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for _, e := range events {
		if e.Action == "passkey.remove" && e.Subject == u.ID && e.ActorID == "cli" {
			removed[e.Detail["passkey"]] = true
		}
	}
	if len(removed) != 3 || !removed[ids[0]] || !removed[ids[1]] || !removed[ids[2]] {
		t.Fatalf("audited removals %v, want each of %v once", removed, ids)
	}
}
