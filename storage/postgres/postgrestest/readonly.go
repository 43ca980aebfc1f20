package postgrestest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"satupintu/storage"
)

// OwnDatabase creates a database for this test alone and returns a URL for
// stores on it; the database is dropped when the test ends (close the
// stores first: cleanups registered later run earlier). It is for tests
// that change database-wide settings, as MakeReadOnly does; others share a
// database and get a schema (URL).
func OwnDatabase(t testing.TB) string {
	t.Helper()
	ctx := t.Context()
	server := serverURL()
	admin, err := connect(ctx, server)
	if err != nil {
		unreachable(t, server, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	name := "t_" + storage.NewID() // lower-case letters and digits
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("postgrestest: create database: %v", err)
	}
	t.Cleanup(func() {
		// Generous: dropping a database waits for a checkpoint, which on
		// a loaded machine took longer than 10 s.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := connect(ctx, server)
		if err != nil {
			t.Errorf("postgrestest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("postgrestest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, server, name)
}

// MakeReadOnly turns the database of u (from OwnDatabase) read-only, as a
// standby after a failover is: it still answers pings and reads and refuses
// every write (SQLSTATE 25006). The setting is read when a connection
// starts, so it also ends the connections open now, waiting until they are
// gone: a store's pool finds them dead (its next call or two fail) and dials
// new, read-only ones.
func MakeReadOnly(t testing.TB, u string) {
	t.Helper()
	ctx := t.Context()
	server := serverURL()
	admin, err := connect(ctx, server)
	if err != nil {
		unreachable(t, server, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatalf("postgrestest: parse %s: %v", redact(u), err)
	}
	name := cfg.ConnConfig.Database
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" SET default_transaction_read_only = on"); err != nil {
		t.Fatalf("postgrestest: make %s read-only: %v", name, err)
	}
	// Waits up to 10 s for each connection to end.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatalf("postgrestest: end the connections to %s: %v", name, err)
	}
}

// withDatabase returns server's URL naming database name instead.
func withDatabase(t testing.TB, server, name string) string {
	t.Helper()
	pool := map[string]string{"pool_max_conns": "2"}
	if strings.HasPrefix(server, "postgres://") || strings.HasPrefix(server, "postgresql://") {
		parsed, err := url.Parse(server)
		if err != nil {
			t.Fatalf("postgrestest: parse %s: %v", redact(server), err)
		}
		parsed.Path = "/" + name
		return withParams(t, parsed.String(), nil, pool)
	}
	return withParams(t, server, map[string]string{"dbname": name}, pool) // in a DSN a later key wins
}
