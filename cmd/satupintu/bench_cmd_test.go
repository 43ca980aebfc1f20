package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"satupintu/bench"
)

// TestBenchCommand starts a provider as a child process (this test binary
// standing in for satupintu, see TestMain) and runs every scenario briefly:
// each completes operations without an error, and the flows bounded by a
// signature or a hash report their ratio to that limit.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a provider process")
	}
	env := func(k string) string {
		switch k {
		case beMainEnv:
			return "1"
		case "PATH", "HOME":
			return os.Getenv(k)
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
		case r.Operations == 0 || r.Errors != 0:
			t.Errorf("%s: %d operations, %d errors (%s)", name, r.Operations, r.Errors, r.FirstError)
		}
	}
	for _, name := range []string{"sso_code_flow", "refresh", "password_sign_in"} {
		if r := got[name]; r.Limit == nil || r.Limit.Rate <= 0 || r.Ratio <= 0 {
			t.Errorf("%s reports no ratio to its limit: %+v", name, r)
		}
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
