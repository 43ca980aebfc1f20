package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"satupintu/storage/sqlite"
	"satupintu/storage/sqlstore/sqlstoretest"
)

func TestSeed(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "seed.db"))
	defer s.Close()
	sqlstoretest.TestSeed(t, s)
}

// BenchmarkScale times sign-in's user lookup, user search and the officer
// queue at 1,000 rows and at sqlstoretest.BenchRows() rows (users and
// registrations each), to show the cost does not grow with the tables:
//
//	go test ./storage/sqlite -run '^$' -bench Scale
//
// The larger database is seeded in a temporary file unless
// SATUPINTU_BENCH_SQLITE names one to reuse (seeded by `satupintu seed` or
// by an earlier run, and topped up to the size asked), so a million rows
// are seeded once:
//
//	SATUPINTU_BENCH_ROWS=1000000 SATUPINTU_BENCH_SQLITE=/tmp/bench-1m.db go test ./storage/sqlite -run '^$' -bench Scale
func BenchmarkScale(b *testing.B) {
	for _, rows := range []int{1000, sqlstoretest.BenchRows()} {
		path := filepath.Join(b.TempDir(), "bench.db")
		if p := os.Getenv("SATUPINTU_BENCH_SQLITE"); p != "" && rows > 1000 {
			path = p
		}
		s, err := sqlite.Open(b.Context(), path)
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
//	go test ./storage/sqlite -run '^$' -bench CreateRefreshToken
func BenchmarkCreateRefreshToken(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.BenchmarkCreateRefreshToken(b, s)
}
