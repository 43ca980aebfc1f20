package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"satupintu/audit"
	"satupintu/storage"
)

// Events stored before migration 0018 are chained by it, oldest first,
// with the outcome their action implies; new events chain after them, and
// an edit in SQL shows at the edited event.
func TestMigration18ChainsStoredAuditEvents(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	migrateTo(t, old, 17)
	for i, action := range []string{"login.success", "login.failure", "client.create"} {
		if _, err := old.Exec(`INSERT INTO audit_events (occurred_at, action, actor_id, subject, client_id, ip, detail)
			VALUES ($1, $2, 'u1', 'u1', '', '', '{"n":"x"}')`, int64(1_700_000_000_000_000+i), action); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s := open(t, path)
	defer s.Close()
	if err := s.AppendAudit(ctx, storage.AuditEvent{Action: "logout", ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditAscending(ctx, 0, 10)
	if err != nil || len(es) != 4 {
		t.Fatalf("AuditAscending: %d events, %v", len(es), err)
	}
	var outcomes []string
	for _, e := range es {
		outcomes = append(outcomes, e.Outcome)
	}
	if got := strings.Join(outcomes, " "); got != "success failure success success" {
		t.Errorf("outcomes %s", got)
	}
	if r, err := audit.Verify(ctx, s); err != nil || r.Broken != nil || r.Events != 4 || len(r.Anchor) != 0 {
		t.Fatalf("Verify after the migration: %+v, %v", r, err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET detail = '{"n":"y"}' WHERE id = $1`, es[1].ID); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Verify(ctx, s)
	if err != nil || r.Broken == nil || r.Broken.ID != es[1].ID {
		t.Fatalf("Verify after an edit: %+v, %v; want broken at %d", r.Broken, err, es[1].ID)
	}
	if _, err := db.Exec(`DELETE FROM audit_events WHERE id = $1`, es[1].ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := audit.Verify(ctx, s); r.Broken == nil || r.Broken.ID != es[2].ID {
		t.Fatalf("Verify after a deletion: %+v; want broken at %d", r.Broken, es[2].ID)
	}
}
