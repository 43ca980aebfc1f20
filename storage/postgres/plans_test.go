package postgres_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/sqlstore"
)

// watched are the tables that grow to millions of rows.
var watched = regexp.MustCompile(`\b(users|registrations|organizations|memberships)\b`)

// filtered matches a condition on a column that selects rows (not a
// keyset column) left to a Filter: the index scan above it reads rows
// that are not asked for.
var filtered = regexp.MustCompile(`\((status|trader_type|username|email|nib|npwp) = `)

// TestPlannedQueriesUseIndexes: every query of sqlstore.PlannedQueries runs
// on indexes under a custom plan and under the generic plan a prepared
// statement settles on after five runs (where a partial index cannot match
// a bare parameter). Sequential scans are priced out, so a query without an
// index path still shows "Seq Scan" (or, from Postgres 18, "Disabled"); an
// index read from end to end shows no "Index Cond". The plan is read on
// empty tables, not timed: the benchmarks time it at a million rows.
func TestPlannedQueriesUseIndexes(t *testing.T) {
	s, u := postgrestest.Open(t)
	checkPlans(t, admin(t, u), s.PlannedQueries(), true)
}

// TestPlannedQueriesUseIndexesWhenSeeded: on a database seeded to a
// million rows (SATUPINTU_BENCH_DATABASE_URL, as for BenchmarkScale), the
// planner, left free to choose sequential scans and knowing the tables'
// statistics, still picks the same index paths, custom and generic: the
// statistics are what made the generic plan of a lone status filter read
// the time index (before PinQueueIndex), which empty tables never show.
func TestPlannedQueriesUseIndexesWhenSeeded(t *testing.T) {
	u := os.Getenv("SATUPINTU_BENCH_DATABASE_URL")
	if u == "" {
		t.Skip("SATUPINTU_BENCH_DATABASE_URL not set: no seeded database to plan on")
	}
	s := open(t, u)
	defer s.Close()
	checkPlans(t, admin(t, u), s.PlannedQueries(), false)
}

// checkPlans explains every planned query on conn, custom and generic,
// with sequential scans priced out if seqscanOff (on tables too small for
// the planner to prefer an index).
func checkPlans(t *testing.T, conn *pgx.Conn, queries []sqlstore.PlannedQuery, seqscanOff bool) {
	ctx := t.Context()
	if seqscanOff {
		if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range queries {
		name := fmt.Sprintf("q%d", i)
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+q.SQL); err != nil {
			t.Fatalf("%s: prepare: %v\n%s", q.Name, err, q.SQL)
		}
		args := make([]string, len(q.Args))
		for j, a := range q.Args {
			args[j] = literal(t, a)
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
				t.Fatal(err)
			}
			plan := explain(t, conn, "EXPLAIN EXECUTE "+name+"("+strings.Join(args, ", ")+")")
			if problem := scanProblem(plan, q.Ordered, q.Bounded); problem != "" {
				t.Errorf("%s (%s): %s\n%s", q.Name, mode, problem, strings.Join(plan, "\n"))
			}
		}
	}
}

// scanProblem says what in plan reads a watched table whole, or "".
func scanProblem(plan []string, ordered, bounded bool) string {
	for i, line := range plan {
		node := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
		switch {
		case strings.Contains(line, "Disabled"):
			return "a disabled node: " + node
		case strings.HasPrefix(node, "Seq Scan") && watched.MatchString(node):
			return "a sequential scan: " + node
		case strings.HasPrefix(node, "Filter:") && filtered.MatchString(node) && !ordered && !bounded:
			return "a selecting column filtered instead of sought: " + node
		case (strings.HasPrefix(node, "Index Scan") || strings.HasPrefix(node, "Index Only Scan")) && !ordered:
			on := node[strings.Index(node, " on "):]
			if !watched.MatchString(on) {
				continue
			}
			cond := false
			for _, detail := range plan[i+1:] {
				if strings.Contains(detail, "->") {
					break
				}
				cond = cond || strings.Contains(detail, "Index Cond")
			}
			if !cond {
				return "an index read whole: " + node
			}
		}
	}
	return ""
}

func explain(t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return lines
}

// literal writes an argument of a planned query as SQL; EXECUTE casts it
// to the type PREPARE inferred.
func literal(t *testing.T, v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int64:
		return strconv.FormatInt(v, 10)
	case []byte:
		return `'\x` + hex.EncodeToString(v) + "'"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// TestScanProblem: the plan reader catches each way a plan reads a table
// whole, so TestPlannedQueriesUseIndexes can fail.
func TestScanProblem(t *testing.T) {
	tests := []struct {
		name    string
		plan    string
		ordered bool
		bad     bool
	}{
		{"an index lookup", "Limit\n  ->  Index Scan using users_name_key on users\n        Index Cond: (name_key >= $1)", false, false},
		{"a sequential scan", "Limit\n  ->  Seq Scan on users  (cost=10000000000.00..)\n        Filter: (lower(name) ~~ $1)", false, true},
		{"a disabled node", "Seq Scan on users\n  Disabled: true", false, true},
		{"an index read end to end", "Limit\n  ->  Index Scan using users_name_key on users u\n        Filter: (u.id > $1)\n  ->  Index Scan using memberships_pkey on memberships m\n        Index Cond: (user_id = u.id)", false, true},
		{"the unfiltered queue in index order", "Limit\n  ->  Index Scan Backward using registrations_submitted on registrations", true, false},
		{"a small table's scan is no concern", "Seq Scan on clients", false, false},
		{"a status filtered on the time index", "Limit\n  ->  Index Scan Backward using registrations_submitted on registrations\n        Index Cond: (submitted_at <= $2)\n        Filter: (status = $1)", false, true},
		{"a keyset filter is no concern", "Limit\n  ->  Index Scan using users_name_key on users\n        Index Cond: (name_key >= $1)\n        Filter: ((name_key > $1) OR ((name_key = $1) AND (id > $2)))", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scanProblem(strings.Split(tt.plan, "\n"), tt.ordered, false); (got != "") != tt.bad {
				t.Errorf("scanProblem = %q, want a problem: %v", got, tt.bad)
			}
		})
	}
}
