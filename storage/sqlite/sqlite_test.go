package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/sqlite"
	"satupintu/storage/sqlstore"
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

// migrateTo builds the schema of migrations 1..version from the files in
// storage/sqlstore, as an older release would have left it.
func migrateTo(t *testing.T, db *sql.DB, version int) {
	t.Helper()
	types := strings.NewReplacer("{{BLOB}}", "BLOB", "{{IDENTITY}}", "INTEGER PRIMARY KEY AUTOINCREMENT")
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../sqlstore/migrations/*.sql")
	if err != nil || len(files) < version {
		t.Fatalf("migrations: %v, %d files", err, len(files))
	}
	for i, f := range files[:version] {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(types.Replace(string(text))); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, 0)`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
}

// Rows written before migration 0003 read back with the new fields at
// their zero values: not enrolled, no recovery codes, unlisted.
func TestMigration3KeepsExistingRows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	migrateTo(t, old, 2)
	if _, err := old.Exec(`INSERT INTO users (id, username, email, email_verified, name, phone, job_title,
		password_hash, organization_id, roles, disabled, expires_at, created_at, updated_at)
		VALUES ('u1', 'budi', 'budi@example.com', TRUE, 'Budi', '', '', 'hash', '', '["admin"]', FALSE, 0, 1, 2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`INSERT INTO clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
		public, grant_types, access_token_format, created_at, updated_at)
		VALUES ('c1', '', 'e-BPOM', '["https://rp.example/cb"]', '[]', TRUE, '["authorization_code"]', 'opaque', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := open(t, path)
	defer s.Close()
	u, err := s.UserByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if u.TOTPSecret != nil || u.MFAEnrolled() || u.RecoveryCodes != nil || !u.PasswordChangedAt.IsZero() || u.Username != "budi" {
		t.Errorf("user from before migration 3: %+v", u)
	}
	c, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.RequireMFA || c.Listed || c.Description != "" || c.LogoURL != "" || c.LaunchURL != "" ||
		c.AllowedTraderTypes != nil || c.AccountLinkURL != "" || c.Name != "e-BPOM" {
		t.Errorf("client from before migration 3: %+v", c)
	}
	// The old rows take the new fields.
	if err := s.UpdateUser(ctx, "u1", func(u *storage.User) error {
		u.TOTPSecret, u.RecoveryCodes = []byte{0, 1, 2}, []string{"h"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkApp(ctx, storage.AppLink{UserID: "u1", ClientID: "c1", AppUsername: "budi"}); err != nil {
		t.Fatal(err)
	}
}

// Storage has no DeleteUser, but an operator may delete a user in SQL;
// the user's account links must go too (ON DELETE CASCADE, which SQLite
// enforces only where foreign_keys is on, as it is on every connection
// Open makes).
func TestDeletingUserDeletesAppLinks(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "links.db")
	s := open(t, path)
	defer s.Close()
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUser(ctx, storage.User{ID: id, Username: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateClient(ctx, storage.Client{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u1", "u2"} {
		if err := s.LinkApp(ctx, storage.AppLink{UserID: u, ClientID: "c1", AppUsername: u}); err != nil {
			t.Fatal(err)
		}
	}
	operator, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer operator.Close()
	if _, err := operator.Exec(`DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppLink(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("link of a deleted user: got %v, want ErrNotFound", err)
	}
	if _, err := s.AppLink(ctx, "u2", "c1"); err != nil {
		t.Errorf("link of another user: %v", err)
	}
}

// TestUserByLoginUsesIndexes: the sign-in lookup is two index searches,
// never a scan of the users table (which made sign-in take 338 ms with a
// million users). The plan is read, not timed.
func TestUserByLoginUsesIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.db")
	s := open(t, path)
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+sqlstore.UserByLoginQuery, "budi@contoh.co.id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	searches := 0
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN users") {
			t.Errorf("the lookup scans the users table: %q (plan %q)", step, plan)
		}
		if strings.HasPrefix(step, "SEARCH users USING INDEX") {
			searches++
		}
	}
	if searches != 2 {
		t.Errorf("want two index searches (username, email), plan %q", plan)
	}
}
