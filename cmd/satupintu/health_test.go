package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
	"satupintu/storage/storagetest"
	"satupintu/web"
)

// healthServer runs the whole server on the given stores, checking them
// every interval, with its log in logs.
func healthServer(t *testing.T, durable storage.Durable, durableName string, ephemeral storage.Ephemeral, ephemeralName string,
	interval time.Duration, logs io.Writer) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	mailer, err := mail.NewFolder(t.TempDir(), "satupintu@localhost", logger)
	if err != nil {
		t.Fatal(err)
	}
	handler, _, err := newServer(t.Context(), deps{cfg: defaultConfig(), durable: durable, ephemeral: ephemeral, logger: logger,
		now: time.Now, hashParams: cheapHash, outbox: jobstest.Start(t, durable, mailer),
		durableName: durableName, ephemeralName: ephemeralName, healthInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// wantGated checks that, while a dependency is down, pages get the
// friendly 503 page and protocol endpoints the OAuth 503, both with
// Retry-After, and that /healthz still says the process lives.
func wantGated(t *testing.T, base string) {
	t.Helper()
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	page, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusServiceUnavailable || page.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "tidak tersedia untuk sementara") {
		t.Errorf("a page while a store refuses writes: %d Retry-After %q\n%s", page.StatusCode, page.Header.Get("Retry-After"), body)
	}
	api, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error string }
	json.NewDecoder(api.Body).Decode(&e)
	api.Body.Close()
	if api.StatusCode != http.StatusServiceUnavailable || e.Error != "temporarily_unavailable" {
		t.Errorf("discovery while a store refuses writes: %d %q", api.StatusCode, e.Error)
	}
}

// A Redis at maxmemory with noeviction answers PING and refuses every write
// ("OOM command not allowed"): on the main branch /readyz said 200 while
// 271 of 274 sign-ins failed (issue 8, item 1). The write probe makes
// /readyz say 503 and name Redis. The Redis is a private one: filling the
// shared one would break every other test.
func TestReadyzFailsWhenRedisRefusesWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := redistest.StartServer(t)
	eph, err := redis.Open(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eph.Close() })
	_, dur := storagetest.Embedded(t, time.Now)

	srv.Fill(ctx)
	if err := eph.Ping(ctx); err != nil {
		t.Fatalf("a full Redis must still answer PING (else this test proves nothing): %v", err)
	}
	if err := eph.ProbeWrite(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("ProbeWrite on a full Redis: %v, want storage.ErrUnavailable", err)
	}

	// The server checks once while it starts, and not again for an hour.
	var logs lockedBuffer
	ts := healthServer(t, dur, "sqlite", eph, "redis", time.Hour, &logs)
	code, deps := readyz(t, ts.URL)
	if code != http.StatusServiceUnavailable || deps["redis"] != "down" || deps["sqlite"] != "ok" {
		t.Errorf("readyz with Redis full: %d %v, want 503 naming redis", code, deps)
	}
	wantGated(t, ts.URL)
	if !strings.Contains(logs.tail(1<<20), "OOM command not allowed") {
		t.Errorf("the log does not say why Redis is down:\n%s", logs.tail(4000))
	}
}

// A Postgres that answers but refuses writes (a standby after a failover,
// default_transaction_read_only, a full disk) fails /readyz too.
func TestReadyzFailsWhenPostgresRefusesWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := postgrestest.OwnDatabase(t)
	dur, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dur.Close() })
	eph := memory.New(nil)

	var logs lockedBuffer
	ts := healthServer(t, dur, "postgres", eph, "memory", 20*time.Millisecond, &logs)
	if code, deps := readyz(t, ts.URL); code != http.StatusOK {
		t.Fatalf("readyz while Postgres is writable: %d %v", code, deps)
	}

	postgrestest.MakeReadOnly(t, u)
	waitFor(t, "readyz to report postgres down while it answers pings", func() bool {
		if dur.Ping(ctx) != nil {
			return false // the pool is still meeting the connections that were ended
		}
		code, deps := readyz(t, ts.URL)
		return code == http.StatusServiceUnavailable && deps["postgres"] == "down" && deps["memory"] == "ok"
	})
	if err := dur.ProbeWrite(ctx); err == nil || !strings.Contains(err.Error(), "25006") {
		t.Errorf("ProbeWrite on the read-only database: %v, want SQLSTATE 25006", err)
	}
	wantGated(t, ts.URL)
}

type fakeStore struct {
	ping, probe error
	probed      bool
}

func (f *fakeStore) Ping(context.Context) error { return f.ping }

type fakeProber struct{ *fakeStore }

func (f fakeProber) ProbeWrite(context.Context) error { f.probed = true; return f.probe }

func TestStoreCheckProbesWrites(t *testing.T) {
	down, full := errors.New("down"), errors.New("OOM")
	for _, tc := range []struct {
		name   string
		store  interface{ Ping(context.Context) error }
		want   error
		probed bool
	}{
		{"no probe: the ping decides", &fakeStore{probe: full}, nil, false},
		{"ping fails: no probe", fakeProber{&fakeStore{ping: down}}, down, false},
		{"writes refused", fakeProber{&fakeStore{probe: full}}, full, true},
		{"all well", fakeProber{&fakeStore{}}, nil, true},
	} {
		err := storeCheck(tc.store)(t.Context())
		if err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if p, ok := tc.store.(fakeProber); ok && p.probed != tc.probed {
			t.Errorf("%s: probed %v, want %v", tc.name, p.probed, tc.probed)
		}
	}
}

// A body over the limit (64 KiB) is refused before any handler runs: the
// friendly 413 page, OAuth JSON on protocol endpoints, a log line with the
// request id; on the main branch /end_session answered a plain-text 500
// that nothing logged (issue 8, item 6). A chunked body, whose length is
// not declared, is refused the same way.
func TestOversizedBodiesAreRefused(t *testing.T) {
	t.Parallel()
	eph, dur := storagetest.Embedded(t, time.Now)
	var logs lockedBuffer
	ts := healthServer(t, dur, "sqlite", eph, "memory", time.Hour, &logs)
	big := "state=" + strings.Repeat("x", maxBody)
	for _, tc := range []struct {
		path    string
		chunked bool
		json    bool
	}{
		{"/end_session", false, false},
		{"/end_session", true, false},
		{"/login", true, false},
		{"/profile", false, false},
		{"/oauth/token", false, true},
		{"/oauth/introspect", true, true},
		{"/revoke", false, true},
	} {
		var body io.Reader = strings.NewReader(big)
		if tc.chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		req, err := http.NewRequest("POST", ts.URL+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := tc.path
		if tc.chunked {
			what += " (chunked)"
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d, want 413\n%s", what, resp.StatusCode, b)
			continue
		}
		if tc.json {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error != "invalid_request" {
				t.Errorf("%s: %s, want an OAuth invalid_request", what, b)
			}
		} else if !strings.Contains(string(b), "Data yang dikirim terlalu besar") {
			t.Errorf("%s: not the friendly page:\n%s", what, b)
		}
		id := resp.Header.Get(web.RequestIDHeader)
		if id == "" || !strings.Contains(logs.tail(1<<20), "request_id="+id) {
			t.Errorf("%s: request id %q not logged", what, id)
		}
	}
}
