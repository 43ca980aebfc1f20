package postgres_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"satupintu/audit"
	"satupintu/storage"
	"satupintu/storage/postgres/postgrestest"
)

// Events stored before migration 0018 are chained by it, oldest first;
// new events chain after them, and an edit in SQL shows at the edited
// event.
func TestMigration18ChainsStoredAuditEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := postgrestest.URL(t)
	conn := admin(t, u)
	types := strings.NewReplacer("{{BLOB}}", "BYTEA", "{{IDENTITY}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../sqlstore/migrations/*.sql")
	if err != nil || len(files) < 18 {
		t.Fatalf("migrations: %v, %d files", err, len(files))
	}
	for i, f := range files[:17] {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, types.Replace(string(text))); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, 0)`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	for i, action := range []string{"login.success", "login.failure", "client.create"} {
		if _, err := conn.Exec(ctx, `INSERT INTO audit_events (occurred_at, action, actor_id, subject, client_id, ip, detail)
			VALUES ($1, $2, 'u1', 'u1', '', '', '{"n":"x"}')`, int64(1_700_000_000_000_000+i), action); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, u)
	if err := s.AppendAudit(ctx, storage.AuditEvent{Action: "logout", ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditAscending(ctx, 0, 10)
	if err != nil || len(es) != 4 || es[1].Outcome != storage.OutcomeFailure {
		t.Fatalf("AuditAscending: %+v, %v", es, err)
	}
	if r, err := audit.Verify(ctx, s); err != nil || r.Broken != nil || r.Events != 4 {
		t.Fatalf("Verify after the migration: %+v, %v", r, err)
	}
	if _, err := conn.Exec(ctx, `UPDATE audit_events SET actor_id = 'u2' WHERE id = $1`, es[2].ID); err != nil {
		t.Fatal(err)
	}
	if r, err := audit.Verify(ctx, s); err != nil || r.Broken == nil || r.Broken.ID != es[2].ID {
		t.Fatalf("Verify after an edit: %+v, %v; want broken at %d", r.Broken, err, es[2].ID)
	}
}
