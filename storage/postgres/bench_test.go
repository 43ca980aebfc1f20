package postgres_test

import (
	"fmt"
	"os"
	"testing"

	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/sqlstore/sqlstoretest"
)

func TestSeed(t *testing.T) {
	s, _ := postgrestest.Open(t)
	sqlstoretest.TestSeed(t, s)
}

// BenchmarkScale times sign-in's user lookup, user search and the officer
// queue at 1,000 rows and at sqlstoretest.BenchRows() rows (users and
// registrations each), to show the cost does not grow with the tables:
//
//	go test ./storage/postgres -run '^$' -bench Scale
//
// The larger database is seeded in a schema of the test server, dropped
// afterwards, unless SATUPINTU_BENCH_DATABASE_URL names a scratch database
// to reuse (seeded by `satupintu seed` or an earlier run, and topped up to
// the size asked), so a million rows are seeded once:
//
//	SATUPINTU_BENCH_ROWS=1000000 SATUPINTU_BENCH_DATABASE_URL=postgres://…/sp_bench go test ./storage/postgres -run '^$' -bench Scale
func BenchmarkScale(b *testing.B) {
	for _, rows := range []int{1000, sqlstoretest.BenchRows()} {
		u := os.Getenv("SATUPINTU_BENCH_DATABASE_URL")
		if u == "" || rows == 1000 {
			u = postgrestest.URL(b)
		}
		s, err := postgres.Open(b.Context(), u)
		if err != nil {
			b.Fatal(err)
		}
		sqlstoretest.TopUp(b, s, rows)
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) { sqlstoretest.Benchmark(b, s, rows) })
		s.Close()
		if rows == 1000 && sqlstoretest.BenchRows() == 1000 {
			break
		}
	}
}

// BenchmarkCreateRefreshToken times concurrent refresh-token writes:
//
//	go test ./storage/postgres -run '^$' -bench CreateRefreshToken
func BenchmarkCreateRefreshToken(b *testing.B) {
	s, _ := postgrestest.Open(b)
	sqlstoretest.BenchmarkCreateRefreshToken(b, s)
}
