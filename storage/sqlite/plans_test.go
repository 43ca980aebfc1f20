package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// scanOf matches a plan step that reads a large table (or its alias in a
// join) row by row: "SCAN users", "SCAN u USING INDEX …".
var scanOf = regexp.MustCompile(`^SCAN (users|registrations|organizations|memberships|u|m|o)\b`)

// TestPlannedQueriesUseIndexes: every query of sqlstore.PlannedQueries is
// index searches, never a scan of a large table (which made sign-in take
// 338 ms with a million users), except that the unfiltered officer queue
// reads its index in order up to LIMIT. SQLite has one plan per statement
// whatever the arguments, so this is also the plan of its prepared
// statements. The plan is read, not timed.
func TestPlannedQueriesUseIndexes(t *testing.T) {
	checkPlans(t, filepath.Join(t.TempDir(), "plan.db"))
}

// TestPlannedQueriesUseIndexesWhenSeeded: the same on a file seeded to a
// million rows (SATUPINTU_BENCH_SQLITE, as for BenchmarkScale), in case
// its statistics (sqlite_stat1, if someone ran ANALYZE) change a plan.
func TestPlannedQueriesUseIndexesWhenSeeded(t *testing.T) {
	path := os.Getenv("SATUPINTU_BENCH_SQLITE")
	if path == "" {
		t.Skip("SATUPINTU_BENCH_SQLITE not set: no seeded database to plan on")
	}
	checkPlans(t, path)
}

func checkPlans(t *testing.T, path string) {
	s := open(t, path)
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range s.PlannedQueries() {
		plan := queryPlan(t, db, q.SQL, q.Args)
		problem := planProblem(plan, q.Ordered)
		if problem == "" && !q.Bounded {
			problem = unsought(q.SQL, plan)
		}
		if problem != "" {
			t.Errorf("%s: %s\n%s", q.Name, problem, strings.Join(plan, "\n"))
		}
	}
}

// selecting matches an equality on a column that selects rows in a
// planned query's SQL.
var selecting = regexp.MustCompile(`\b(status|trader_type|username|email|nib|npwp) = \$`)

// unsought names a column that query selects by equality but no index
// search of plan seeks: its rows are read and filtered instead.
func unsought(query string, plan []string) string {
	steps := strings.Join(plan, "\n")
	for _, m := range selecting.FindAllStringSubmatch(query, -1) {
		if !strings.Contains(steps, m[1]+"=?") {
			return m[1] + " is filtered, not sought"
		}
	}
	return ""
}

// planProblem says what in plan reads a large table whole, or "".
func planProblem(plan []string, ordered bool) string {
	searches := 0
	for _, step := range plan {
		switch {
		case scanOf.MatchString(step) && !(ordered && strings.Contains(step, " USING INDEX ")):
			return "a scan: " + step
		case strings.HasPrefix(step, "SEARCH ") && strings.Contains(step, " USING "):
			searches++
		case ordered && strings.HasPrefix(step, "SCAN ") && strings.Contains(step, " USING INDEX "):
			searches++
		}
	}
	if searches == 0 {
		return "no index search"
	}
	return ""
}

func queryPlan(t *testing.T, db *sql.DB, query string, args []any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestPlanProblem: the plan reader catches a scan, so
// TestPlannedQueriesUseIndexes can fail.
func TestPlanProblem(t *testing.T) {
	tests := []struct {
		name    string
		plan    []string
		ordered bool
		bad     bool
	}{
		{"index searches", []string{"SEARCH users USING INDEX users_name_key (name_key>? AND name_key<?)"}, false, false},
		{"a table scan", []string{"SCAN users"}, false, true},
		{"an alias read in index order", []string{"SCAN u USING INDEX users_name_key", "SEARCH m USING INDEX memberships_user (user_id=?)"}, false, true},
		{"the unfiltered queue in index order", []string{"SCAN registrations USING INDEX registrations_submitted"}, true, false},
		{"an ordered shape still may not scan the table", []string{"SCAN registrations"}, true, true},
		{"no index at all", []string{"SCAN CONSTANT ROW"}, false, true},
	}
	if got := unsought("SELECT … WHERE status = $1 AND submitted_at <= $2", []string{"SEARCH registrations USING INDEX registrations_submitted (submitted_at<?)"}); got == "" {
		t.Error("unsought: a status read from the time index passed")
	}
	if got := unsought("SELECT … WHERE status = $1 AND submitted_at <= $2", []string{"SEARCH registrations USING INDEX registrations_status (status=? AND submitted_at<?)"}); got != "" {
		t.Errorf("unsought: a status sought failed: %s", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planProblem(tt.plan, tt.ordered); (got != "") != tt.bad {
				t.Errorf("planProblem = %q, want a problem: %v", got, tt.bad)
			}
		})
	}
}
