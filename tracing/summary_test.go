package tracing

import "testing"

func TestSummarizeNamesOperationAndTable(t *testing.T) {
	for _, c := range []struct{ sql, op, table string }{
		{"SELECT id, email FROM users WHERE lower(email) = $1", "SELECT", "users"},
		{"  select (SELECT COUNT(*) FROM users WHERE id = $1), x FROM orgs", "SELECT", "orgs"},
		{"SELECT (SELECT COUNT(*) FROM users WHERE id = $1), 1", "SELECT", "users"},
		{"SELECT a FROM (SELECT a FROM users WHERE x = $1 UNION ALL SELECT a FROM orgs) AS f LIMIT 1", "SELECT", "users"},
		{"INSERT INTO refresh_tokens (id, token) VALUES ($1, $2)", "INSERT", "refresh_tokens"},
		{"UPDATE clients SET secret = $1 WHERE id = $2", "UPDATE", "clients"},
		{"DELETE FROM app_links WHERE user_id = $1", "DELETE", "app_links"},
		{"-- a comment FROM nowhere\nSELECT 'FROM secrets' AS x FROM public.keys", "SELECT", "public.keys"},
		{"/* FROM x */ begin", "BEGIN", ""},
		{"commit", "COMMIT", ""},
		{"SELECT pg_advisory_xact_lock(8315173533213347444)", "SELECT", ""},
		{"", "UNKNOWN", ""},
	} {
		op, table := summarize(c.sql)
		if op != c.op || table != c.table {
			t.Errorf("summarize(%q) = %q, %q; want %q, %q", c.sql, op, table, c.op, c.table)
		}
	}
}
