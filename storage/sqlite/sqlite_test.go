package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/sqlite"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	conformance.RunDurable(t, func(t *testing.T) storage.Durable {
		return open(t, filepath.Join(t.TempDir(), "satupintu.db"))
	})
}

// The server and an admin CLI process open the same file; each must see
// the other's writes, and their read-modify-write transactions must not
// lose updates or fail with SQLITE_BUSY.
func TestTwoStoresShareOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	server, cli := open(t, path), open(t, path)
	t.Cleanup(func() { server.Close(); cli.Close() })

	if err := cli.CreateClient(ctx, storage.Client{ID: "from-cli"}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ClientByID(ctx, "from-cli"); err != nil {
		t.Errorf("server does not see the CLI's client: %v", err)
	}
	if err := server.CreateUser(ctx, storage.User{ID: "u1", Username: "budi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserByLogin(ctx, "BUDI"); err != nil {
		t.Errorf("CLI does not see the server's user: %v", err)
	}

	const n = 10
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		s := server
		if i%2 == 1 {
			s = cli
		}
		go func() {
			errs <- s.UpdateUser(ctx, "u1", func(u *storage.User) error {
				u.Roles = append(u.Roles, fmt.Sprint(i))
				return nil
			})
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Errorf("UpdateUser: %v", err)
		}
	}
	u, err := cli.UserByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Roles) != 2*n {
		t.Errorf("after %d updates from two stores the user has %d roles: %v", 2*n, len(u.Roles), u.Roles)
	}

	// Reopening applies no migration twice and keeps the data.
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, path)
	t.Cleanup(func() { again.Close() })
	if _, err := again.ClientByID(ctx, "from-cli"); err != nil {
		t.Errorf("reopened store lost data: %v", err)
	}
}

func TestOpenCreatesParentDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "nested", "satupintu.db")
	s := open(t, path)
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
	// WAL mode is what lets the admin CLI write while the server reads.
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no write-ahead log next to the database: %v", err)
	}
}

func TestOpenRejectsDSNCharacters(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", filepath.Join(dir, "x.db?mode=ro"), filepath.Join(dir, "x#y.db"), "file:" + filepath.Join(dir, "x.db")} {
		if s, err := sqlite.Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

// The shared SQL writes $N placeholders and relies on the driver binding $N
// to the N-th argument even when they appear out of order or repeated.
func TestNumberedPlaceholders(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	for _, login := range []string{"a", "b"} {
		if err := s.CreateUser(ctx, storage.User{ID: "id-" + login, Username: login, Email: login + "@x"}); err != nil {
			t.Fatal(err)
		}
	}
	// UserByLogin uses $1 three times; UpdateUser binds $1 last in its SQL.
	if err := s.UpdateUser(ctx, "id-b", func(u *storage.User) error { u.Name = "B"; return nil }); err != nil {
		t.Fatal(err)
	}
	a, err := s.UserByLogin(ctx, "a@x")
	if err != nil || a.ID != "id-a" || a.Name != "" {
		t.Errorf("UserByLogin(a@x) = %+v, %v", a, err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{users[0].Name, users[1].Name}
	if !slices.Equal(names, []string{"", "B"}) {
		t.Errorf("names after update = %q", names)
	}
}
