// Package postgrestest gives tests a Postgres store of their own: a fresh
// schema on the test server, dropped when the test ends, so tests run in
// parallel without seeing each other's rows.
//
// The server comes from SATUPINTU_TEST_DATABASE_URL (default: local trust
// auth, see DefaultURL). If it is unreachable, tests are skipped, so that
// `go test ./...` works on a laptop without Postgres; CI sets
// SATUPINTU_TEST_REQUIRE=1 to make that a failure instead.
package postgrestest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"satupintu/storage"
	"satupintu/storage/postgres"
)

// DefaultURL is the server tests use when SATUPINTU_TEST_DATABASE_URL is
// not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// maxConns caps each test store's pool unless the URL says otherwise:
// parallel tests share one server, whose max_connections is often 100.
const maxConns = 4

// serverURL is the test server's URL.
func serverURL() string {
	if u := os.Getenv("SATUPINTU_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// unreachable skips the test, or fails it with SATUPINTU_TEST_REQUIRE=1.
func unreachable(t testing.TB, u string, err error) {
	t.Helper()
	msg := fmt.Sprintf("postgres not reachable at %s: %v", redact(u), err)
	if os.Getenv("SATUPINTU_TEST_REQUIRE") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (set SATUPINTU_TEST_REQUIRE=1 to fail instead)")
}

// connect opens a single administrative connection, failing fast. The
// server URL may carry pool settings too, which only pgxpool parses.
func connect(ctx context.Context, u string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// URL creates an empty schema and returns a URL whose connections use it
// (search_path), for opening one or more stores as nodes of one cluster.
// It may carry pool settings (pool_max_conns): pass it to postgres.Open,
// or to pgxpool.ParseConfig rather than pgx.Connect. The schema is dropped
// when the test ends; close the stores first (cleanups registered later run
// earlier).
func URL(t testing.TB) string {
	t.Helper()
	server := serverURL()
	schema := "t_" + storage.NewID() // lower-case letters and digits
	conn, err := connect(t.Context(), server)
	if err != nil {
		unreachable(t, server, err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("postgrestest: create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // generous: a loaded machine is slow
		defer cancel()
		conn, err := connect(ctx, server)
		if err != nil {
			t.Errorf("postgrestest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("postgrestest: drop schema %s: %v", schema, err)
		}
	})
	return withParams(t, server, map[string]string{"search_path": schema}, map[string]string{"pool_max_conns": fmt.Sprint(maxConns)})
}

// Open returns a store on a fresh schema, migrated, closed and dropped when
// the test ends, and the URL to open more stores on the same schema.
func Open(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	u := URL(t)
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // closing twice is harmless
	return s, u
}

// WithParams returns u with the given connection parameters set (for
// example application_name), for postgres:// URLs and key=value DSNs alike.
// Values must be plain words: in a DSN they are not quoted.
func WithParams(t testing.TB, u string, params map[string]string) string {
	t.Helper()
	return withParams(t, u, params, nil)
}

// withParams sets params on u, and defaults where u has no value yet.
func withParams(t testing.TB, u string, params, defaults map[string]string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("postgrestest: parse %s: %v", redact(u), err)
		}
		q := parsed.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		for k, v := range defaults {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
		parsed.RawQuery = q.Encode()
		return parsed.String()
	}
	// A key=value DSN: a later key wins. Our values need no quoting.
	for k, v := range defaults {
		if !strings.Contains(u, k+"=") {
			u += " " + k + "=" + v
		}
	}
	for k, v := range params {
		u += " " + k + "=" + v
	}
	return u
}

// redact hides a password in u before it reaches a log.
func redact(u string) string {
	if parsed, err := url.Parse(u); err == nil && parsed.Scheme != "" {
		return parsed.Redacted()
	}
	return dsnPassword.ReplaceAllString(u, "password=xxxxx")
}

var dsnPassword = regexp.MustCompile(`password=('(\\.|[^'])*'|\S*)`)
