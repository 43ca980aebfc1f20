package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/sqlite"
)

// BenchmarkUserByLogin looks users up by username and by email in a table
// of SATUPINTU_BENCH_USERS users (20,000 if unset), to show the lookup's
// cost does not grow with the table. Seeding takes a while; run with
// -run '^$' -bench UserByLogin.
func BenchmarkUserByLogin(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("SATUPINTU_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	ctx := b.Context()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for i := range n {
		u := storage.User{ID: storage.NewID(), Username: fmt.Sprintf("user%07d", i), Email: fmt.Sprintf("user%07d@contoh.co.id", i),
			CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		login := fmt.Sprintf("user%07d", i%n)
		if i%2 == 1 {
			login += "@contoh.co.id"
		}
		if _, err := s.UserByLogin(ctx, login); err != nil {
			b.Fatal(err)
		}
	}
}
