package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/sqlstore"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.RunDurable(t, func(t *testing.T) storage.Durable {
		s, _ := postgrestest.Open(t)
		return s
	})
}

// admin connects to the database of a store URL outside any store, to look
// at what the stores did. The URL may carry pool settings, which only
// pgxpool's parser understands.
func admin(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	// Not the stores' name: tests kill the stores' connections by it.
	cfg.ConnConfig.RuntimeParams["application_name"] = "satupintu_test_admin"
	conn, err := pgx.ConnectConfig(t.Context(), cfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func open(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Nodes of a cluster start together after a deploy; each runs the
// migrations on Open. The advisory lock must make one of them migrate and
// the others find the work done, not fail on "relation already exists".
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	u := postgrestest.URL(t)
	const nodes = 4
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			s, err := postgres.Open(t.Context(), u)
			if err == nil {
				err = s.CreateClient(t.Context(), storage.Client{ID: fmt.Sprint("node-", i)})
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}

	rows, err := admin(t, u).Query(t.Context(), `SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	type applied struct{ Version, Times int64 }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("schema_migrations is empty")
	}
	// Numbers may skip (features number their migrations ahead of merging;
	// Migrate only needs them ascending), but each is applied once.
	for i, a := range got {
		if a.Times != 1 || (i == 0 && a.Version != 1) || (i > 0 && a.Version <= got[i-1].Version) {
			t.Errorf("schema_migrations: %+v, want versions 1, 2, … each once", got)
			break
		}
	}
}

// Two nodes on one database: their read-modify-writes serialize on row
// locks across pools, so neither loses the other's update, and a refresh
// token presented to both at once rotates once.
func TestTwoNodesShareOneSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, u := postgrestest.Open(t)
	b := open(t, u)
	nodes := []*postgres.Store{a, b}

	user := storage.User{ID: storage.NewID(), Username: "budi"}
	if err := a.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := nodes[i%2].UpdateUser(ctx, user.ID, func(u *storage.User) error {
				u.Roles = append(u.Roles, fmt.Sprint(i))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateUser %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := b.UserByID(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Roles) != n {
		t.Errorf("after %d updates through two nodes the user has %d roles: %v", n, len(got.Roles), got.Roles)
	}

	now := time.Now()
	first := storage.RefreshToken{ID: "rt-1", FamilyID: "fam", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		winners int
	)
	for i := range n {
		wg.Go(func() {
			next := storage.RefreshToken{ID: fmt.Sprint("rt-next-", i), FamilyID: "fam", CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour)}
			err := nodes[i%2].RotateRefreshToken(ctx, first.ID, next)
			switch {
			case err == nil:
				mu.Lock()
				winners++
				mu.Unlock()
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("rotation %d: %v, want nil or ErrConflict", i, err)
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d of %d rotations through two nodes succeeded, want 1", winners, n)
	}
}

// checkOutage checks an error from a store whose database is gone: it must
// say where it came from and never pass for "not found", which callers
// would act on (say, by telling a user their account does not exist).
func checkOutage(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error", what)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, storage.ErrConflict):
		t.Errorf("%s: %v is mapped to a storage sentinel", what, err)
	case !errors.Is(err, storage.ErrUnavailable):
		t.Errorf("%s: %v is not storage.ErrUnavailable", what, err)
	case !strings.HasPrefix(err.Error(), "postgres: "):
		t.Errorf("%s: %q does not start with \"postgres: \"", what, err)
	}
}

func TestOpenUnreachableFailsFast(t *testing.T) {
	t.Parallel()
	// A silent server accepts TCP connections and never answers, as a
	// hung host or a black-holing firewall does.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		held []net.Conn
	)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})

	for _, tc := range []struct {
		name, url string
		within    time.Duration
	}{
		{"refused", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", 20 * time.Second},
		{"silent", "postgres://postgres:hunter2@" + silent.Addr().String() + "/postgres?sslmode=disable&connect_timeout=1", 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := postgres.Open(t.Context(), tc.url)
			if took := time.Since(start); took > tc.within {
				t.Errorf("Open took %v, want under %v", took, tc.within)
			}
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			checkOutage(t, "Open", err)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error reveals the password: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestClosedStoreReturnsErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := postgrestest.Open(t)
	u := storage.User{ID: storage.NewID(), Username: "budi"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.UserByID(ctx, u.ID)
	checkOutage(t, "UserByID", err)
	_, err = s.ListUsers(ctx)
	checkOutage(t, "ListUsers", err)
	checkOutage(t, "UpdateUser", s.UpdateUser(ctx, u.ID, func(*storage.User) error { return nil }))
	checkOutage(t, "DeleteClient", s.DeleteClient(ctx, "c"))
	checkOutage(t, "Ping", s.Ping(ctx))
}

// Postgres restarts, fails over or has its connections killed by an
// operator; the pool must recover by itself. A request that meets a dead
// connection may fail (a write cannot be blindly retried), but the caller's
// next attempt must succeed, however many dead connections the pool held.
func TestRecoversFromKilledConnections(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	app := "satupintu_test_" + storage.NewID()[:16]
	u := postgrestest.WithParams(t, postgrestest.URL(t), map[string]string{"application_name": app})
	s := open(t, u)
	db := admin(t, u)
	user := storage.User{ID: storage.NewID(), Username: "budi"}
	if err := s.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}

	backends := func() int {
		var n int
		err := db.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// killAll terminates the store's connections after making sure it holds
	// several, so that a pool that merely discarded the one dead connection
	// it met would hand the retry another.
	killAll := func() {
		t.Helper()
		for range 20 {
			if backends() >= 2 {
				break
			}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					s.UpdateUser(ctx, user.ID, func(*storage.User) error { time.Sleep(time.Millisecond); return nil })
				})
			}
			wg.Wait()
		}
		if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
			t.Fatal(err)
		}
		for backends() > 0 { // termination is asynchronous
			time.Sleep(5 * time.Millisecond)
		}
	}

	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"QueryRow", func() error { _, err := s.UserByID(ctx, user.ID); return err }},
		{"Query", func() error { _, err := s.ListUsers(ctx); return err }},
		{"Exec", func() error { return s.RevokeUserRefreshTokens(ctx, user.ID) }},
		{"InTx", func() error {
			return s.UpdateUser(ctx, user.ID, func(u *storage.User) error { u.Name = "Budi"; return nil })
		}},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		killAll()
		err := op.run()
		if err != nil {
			checkOutage(t, op.name+" on a killed connection", err)
			t.Logf("%s on a killed connection: %v", op.name, err)
			err = op.run()
		}
		if err != nil {
			t.Errorf("%s retried after the connections were killed: %v", op.name, err)
		}
	}
}

// Text that Postgres cannot store (NUL, invalid UTF-8) arrives in login
// forms and client_id parameters. Looking it up finds nothing, as on
// SQLite, instead of failing with an internal error.
func TestUnstorableTextIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := postgrestest.Open(t)
	if err := s.CreateUser(ctx, storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"budi\x00", "\x00", "budi\xff", "\xc3"} {
		lookups := map[string]error{}
		_, lookups["UserByLogin"] = s.UserByLogin(ctx, text)
		_, lookups["UserByID"] = s.UserByID(ctx, text)
		_, lookups["ClientByID"] = s.ClientByID(ctx, text)
		_, lookups["OrganizationByNIB"] = s.OrganizationByNIB(ctx, text)
		_, lookups["RefreshTokenByID"] = s.RefreshTokenByID(ctx, text)
		// The tracking page and the registration form look these up.
		_, lookups["RegistrationByServiceNumber"] = s.RegistrationByServiceNumber(ctx, text)
		_, lookups["OpenRegistrationFor"] = s.OpenRegistrationFor(ctx, text, text)
		_, lookups["RegistrationByID"] = s.RegistrationByID(ctx, text)
		_, lookups["DocumentByID"] = s.DocumentByID(ctx, text)
		// Account linking names the client in its URL.
		_, lookups["AppLink"] = s.AppLink(ctx, text, text)
		lookups["LinkApp"] = s.LinkApp(ctx, storage.AppLink{UserID: text, ClientID: text})
		for _, name := range slices.Sorted(maps.Keys(lookups)) {
			if err := lookups[name]; !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s(%q): got %v, want ErrNotFound", name, text, err)
			}
		}
	}
	// Storing such text is an error, but not one that claims a conflict.
	err := s.CreateUser(ctx, storage.User{ID: storage.NewID(), Username: "nul\x00"})
	if err == nil || errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateUser with a NUL in the username: got %v, want a plain error", err)
	}
}

// Rows written before migration 0003 read back with the new fields at
// their zero values, and deleting a user in SQL (storage has no DeleteUser)
// deletes the user's account links.
func TestMigration3KeepsExistingRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := postgrestest.URL(t)
	conn := admin(t, u)
	types := strings.NewReplacer("{{BLOB}}", "BYTEA", "{{IDENTITY}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../sqlstore/migrations/*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("migrations: %v, %d files", err, len(files))
	}
	for i, f := range files[:2] {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Without arguments pgx uses the simple protocol, which runs a
		// whole file of statements at once.
		if _, err := conn.Exec(ctx, types.Replace(string(text))); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, 0)`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		`INSERT INTO users (id, username, email, email_verified, name, phone, job_title, password_hash,
			organization_id, roles, disabled, expires_at, created_at, updated_at)
			VALUES ('u1', 'budi', 'budi@example.com', TRUE, 'Budi', '', '', 'hash', '', '["admin"]', FALSE, 0, 1, 2)`,
		`INSERT INTO users (id, username, email, email_verified, name, phone, job_title, password_hash,
			organization_id, roles, disabled, expires_at, created_at, updated_at)
			VALUES ('u2', 'siti', '', FALSE, 'Siti', '', '', '', '', '[]', FALSE, 0, 1, 2)`,
		`INSERT INTO clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris, public,
			grant_types, access_token_format, created_at, updated_at)
			VALUES ('c1', '', 'e-BPOM', '["https://rp.example/cb"]', '[]', TRUE, '["authorization_code"]', 'opaque', 1, 2)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, u)
	user, err := s.UserByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if user.TOTPSecret != nil || user.MFAEnrolled() || user.RecoveryCodes != nil || !user.PasswordChangedAt.IsZero() || user.Username != "budi" {
		t.Errorf("user from before migration 3: %+v", user)
	}
	c, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.RequireMFA || c.Listed || c.Description != "" || c.LogoURL != "" || c.LaunchURL != "" ||
		c.AllowedTraderTypes != nil || c.AccountLinkURL != "" || c.Name != "e-BPOM" {
		t.Errorf("client from before migration 3: %+v", c)
	}

	for _, id := range []string{"u1", "u2"} {
		if err := s.LinkApp(ctx, storage.AppLink{UserID: id, ClientID: "c1", AppUsername: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppLink(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("link of a deleted user: got %v, want ErrNotFound", err)
	}
	if _, err := s.AppLink(ctx, "u2", "c1"); err != nil {
		t.Errorf("link of another user: %v", err)
	}
}

// TestUserByLoginUsesIndexesUnderGenericPlan: the sign-in lookup has an
// index path for both of its halves even under a generic plan (the one a
// prepared statement settles on after five runs), where a partial index
// cannot match a bare parameter and the old OR became a parallel
// sequential scan of the users table (175 ms at a million users). With
// sequential scans priced out, a plan without an index path still shows
// "Seq Scan"; the plan is read, not timed.
func TestUserByLoginUsesIndexesUnderGenericPlan(t *testing.T) {
	_, u := postgrestest.Open(t)
	conn := admin(t, u)
	ctx := t.Context()
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off",
		"PREPARE by_login(text) AS " + sqlstore.UserByLoginQuery} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE by_login('budi@contoh.co.id')")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	if strings.Contains(joined, "Seq Scan on users") || !strings.Contains(joined, "users_email") || !strings.Contains(joined, "users_username_key") {
		t.Fatalf("generic plan without both index paths:\n%s", joined)
	}
}
