package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"satupintu/storage/postgres/postgrestest"
)

// TestAuditCommands: each audited admin command writes exactly one event
// with the right fields, a command whose write fails writes none, export
// filters them as CSV and JSON lines, and `audit verify` finds the chain
// whole, then names the event a database edit changed. On SQLite, and on
// Postgres when it is reachable.
func TestAuditCommands(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		testAuditCommands(t, envCLI{t: t, env: map[string]string{"SATUPINTU_DATA_DIR": dir}}, func(q string, args ...any) {
			db, err := sql.Open("sqlite", filepath.Join(dir, "satupintu.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		u := postgrestest.URL(t) // skips when Postgres is not reachable
		testAuditCommands(t, envCLI{t: t, env: map[string]string{"SATUPINTU_DATA_DIR": t.TempDir(), "SATUPINTU_DATABASE_URL": u}},
			func(q string, args ...any) {
				cfg, err := pgxpool.ParseConfig(u)
				if err != nil {
					t.Fatal(err)
				}
				conn, err := pgx.ConnectConfig(t.Context(), cfg.ConnConfig)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(t.Context())
				if _, err := conn.Exec(t.Context(), q, args...); err != nil {
					t.Fatal(err)
				}
			})
	})
}

// envCLI runs the satupintu command in-process with the given environment.
type envCLI struct {
	t   *testing.T
	env map[string]string
}

func (c envCLI) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "PATH" || k == "HOME" {
			return os.Getenv(k)
		}
		return c.env[k]
	}
	code = run(c.t.Context(), args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func (c envCLI) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func testAuditCommands(t *testing.T, c envCLI, exec func(q string, args ...any)) {
	c.mustRun("kata sandi uji yang cukup panjang\n", "user", "create", "--username", "budi", "--email", "budi@contoh.co.id", "--password-stdin")
	var created clientJSON
	if err := json.Unmarshal([]byte(c.mustRun("", "client", "create", "--name", "=HYPERLINK(\"x\")", "--redirect-uri", "https://app.example/cb", "--json")), &created); err != nil {
		t.Fatal(err)
	}
	c.mustRun("", "user", "disable", "--username", "budi")
	if code, _, _ := c.run("", "client", "delete", "no-such-client"); code == 0 {
		t.Fatal("deleting a missing client succeeded")
	}
	if out := c.mustRun("", "audit", "verify"); !strings.Contains(out, "audit log intact: 3 events") || !strings.Contains(out, "head: event") {
		t.Fatalf("audit verify:\n%s", out)
	}

	type line struct {
		ID                                            int64
		Action, Outcome, ActorID, Subject, Hash, Time string
	}
	var events []line
	for l := range strings.Lines(c.mustRun("", "audit", "export", "--format", "jsonl")) {
		var e struct {
			ID      int64  `json:"id"`
			Time    string `json:"time"`
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
			ActorID string `json:"actor_id"`
			Subject string `json:"subject"`
			Hash    string `json:"hash"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		events = append(events, line{e.ID, e.Action, e.Outcome, e.ActorID, e.Subject, e.Hash, e.Time})
	}
	if len(events) != 3 {
		t.Fatalf("exported %d events, want one per audited command: %+v", len(events), events)
	}
	var got []string
	for _, e := range events {
		if e.ActorID != "cli" || e.Outcome != "success" || len(e.Hash) != 64 || e.Time == "" {
			t.Errorf("event %+v", e)
		}
		got = append(got, e.Action)
	}
	if want := []string{"user.disable", "client.create", "user.create"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("exported actions %v, want %v (newest first)", got, want)
	}
	if events[1].Subject != created.ClientID || events[0].Subject != events[2].Subject {
		t.Errorf("subjects: %+v", events)
	}

	// CSV, filtered by action prefix and actor; a name that a spreadsheet
	// would run as a formula is not in an event, but the cells are guarded.
	out := c.mustRun("", "audit", "export", "--format", "csv", "--action", "user.*", "--actor", "cli", "--since", "2000-01-01")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "id" || rows[1][2] != "user.disable" || rows[2][2] != "user.create" {
		t.Fatalf("csv export:\n%s", out)
	}
	if out := c.mustRun("", "audit", "export", "--format", "csv", "--target", created.ClientID); strings.Count(out, "\n") != 2 {
		t.Fatalf("csv export by target:\n%s", out)
	}
	if out := c.mustRun("", "audit", "export", "--until", "2000-01-01"); out != "" {
		t.Fatalf("export before any event: %q", out)
	}
	if code, _, _ := c.run("", "audit", "export", "--format", "xml"); code != 2 {
		t.Errorf("export --format xml: exit %d, want 2", code)
	}

	// An edit in the database shows at the event edited.
	edited := events[1].ID
	exec("UPDATE audit_events SET subject = $1 WHERE id = $2", "someone-else", edited)
	code, out, _ := c.run("", "audit", "verify")
	if want := fmt.Sprintf("broken at event %d: ", edited); code != 1 || !strings.HasPrefix(out, want) {
		t.Fatalf("verify after an edit: exit %d, %q; want exit 1 and %q", code, out, want)
	}
}
