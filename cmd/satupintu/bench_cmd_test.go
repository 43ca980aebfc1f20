package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"satupintu/bench"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis/redistest"
)

// TestBenchCommand starts a provider as a child process (this test binary
// standing in for satupintu, see TestMain) and runs every scenario briefly:
// each completes operations without an error or a 429, and the flows
// bounded by a signature or a hash report their ratio to that limit. It
// does so on the embedded default, and on Postgres and Redis when they
// are reachable.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a provider process")
	}
	t.Run("embedded", func(t *testing.T) { testBenchCommand(t, "", "") })
	t.Run("postgres+redis", func(t *testing.T) {
		redistest.Open(t) // skips when Redis is not reachable
		testBenchCommand(t, postgrestest.URL(t), redistest.URL())
	})
}

func testBenchCommand(t *testing.T, databaseURL, redisURL string) {
	env := func(k string) string {
		switch k {
		case beMainEnv:
			return "1"
		case "PATH", "HOME":
			return os.Getenv(k)
		case "SATUPINTU_DATABASE_URL":
			return databaseURL
		case "SATUPINTU_REDIS_URL":
			return redisURL
		}
		return ""
	}
	var out, errb strings.Builder
	code := run(t.Context(), []string{"bench", "--duration", "200ms", "--concurrency", "2", "--limit-duration", "100ms"},
		strings.NewReader(""), &out, &errb, env)
	if code != 0 {
		t.Fatalf("bench exited %d: %s\n%s", code, errb.String(), out.String())
	}
	got := map[string]bench.Result{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var r bench.Result
		if strings.HasPrefix(sc.Text(), "{") && json.Unmarshal(sc.Bytes(), &r) == nil {
			got[r.Scenario] = r
		}
	}
	for _, name := range bench.Names() {
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("no JSON line for %s:\n%s", name, out.String())
		case r.Operations == 0 || r.Errors != 0 || r.Throttled != 0:
			t.Errorf("%s: %d operations, %d errors, %d throttled (%s)", name, r.Operations, r.Errors, r.Throttled, r.FirstError)
		}
	}
	for name, limit := range map[string]string{
		"sso_code_flow": "RS256", "sso_code_flow_es256": "ES256", "sso_code_flow_eddsa": "EdDSA", "refresh": "RS256",
		"password_sign_in": "argon2id", "client_credentials_jwt_rs256": "RS256", "client_credentials_jwt_ps256": "PS256",
		"client_credentials_jwt_es256": "ES256", "client_credentials_jwt_eddsa": "EdDSA",
	} {
		if r := got[name]; r.Limit == nil || !strings.HasPrefix(r.Limit.Name, limit+" ") || r.Limit.Rate <= 0 || r.Ratio <= 0 {
			t.Errorf("%s reports no ratio to the %s limit: %+v", name, limit, r)
		}
	}
	if r := got["registration"]; r.ClientPoWms <= 0 {
		t.Errorf("registration reports no proof of work: %+v", r)
	}
	if !strings.Contains(out.String(), "p95 ms") {
		t.Errorf("no table:\n%s", out.String())
	}
}

// A bad command line is refused before anything starts.
func TestBenchCommandRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--scenarios", "nope"},
		{"bench", "--concurrency", "0"},
		{"bench", "--target", "http://127.0.0.1:1"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), args, strings.NewReader(""), &out, &errb, func(string) string { return "" })
		if code == 0 {
			t.Errorf("%v: exit 0, want a refusal", args)
		}
	}
}
