// Package sqlstoretest holds what the SQL backends' tests and benchmarks
// share about seeded databases: a test of seeding itself, and the
// benchmarks that show sign-in, user search and the officer queue cost the
// same at a thousand rows as at a million.
package sqlstoretest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/sqlstore"
)

// Seeded is a SQL backend's store with its seeding.
type Seeded interface {
	storage.Durable
	storage.OrganizationAdmin
	Seed(ctx context.Context, cfg sqlstore.SeedConfig) (sqlstore.SeedResult, error)
	SeedCounts(ctx context.Context) (users, registrations int, err error)
}

// FakeHash stands for the seeded users' password hash where nobody signs
// in: hashing with argon2id is the seed command's affair.
const FakeHash = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVkc2VlZA$c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQ"

// TestSeed checks seeding on a fresh store: counts, realistic rows that
// the store's own lookups find, every queue state, numbering that
// continues on a second run, and the refusal to seed among real users.
func TestSeed(t *testing.T, s Seeded) {
	ctx := t.Context()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	res, err := s.Seed(ctx, sqlstore.SeedConfig{Users: 10, Registrations: 40, PasswordHash: FakeHash, Now: now})
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if res.Users != 10 || res.Organizations != 3 || res.Memberships != 10 || res.Registrations != 40 || res.FirstUser != 0 {
		t.Errorf("first seed: %+v", res)
	}
	u, err := s.UserByLogin(ctx, sqlstore.SeedEmail(7))
	if err != nil {
		t.Fatalf("UserByLogin(seeded email): %v", err)
	}
	if u.Username != sqlstore.SeedUsername(7) || u.Name != sqlstore.SeedName(7) || u.PasswordHash != FakeHash || !u.CanSignIn(now) {
		t.Errorf("seeded user 7: %+v", u)
	}
	ms, err := s.MembershipsOf(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0].OrganizationID != u.OrganizationID || ms[0].Role != storage.MemberStaff {
		t.Errorf("memberships of seeded user 7: %+v, %v", ms, err)
	}
	page, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchNIB, Value: sqlstore.SeedNIB(1)})
	if err != nil || len(page.Users) != 4 {
		t.Errorf("members of seeded organization 1: %d users, %v", len(page.Users), err)
	}
	for _, st := range []storage.RegistrationStatus{storage.StatusSubmitted, storage.StatusInReview, storage.StatusRevisionRequested,
		storage.StatusResubmitted, storage.StatusApproved, storage.StatusRejected} {
		gs, err := s.ListRegistrations(ctx, storage.RegistrationFilter{Status: st, Limit: 1})
		if err != nil || len(gs) != 1 {
			t.Errorf("seeded registrations %s: %d, %v", st, len(gs), err)
		}
	}

	// A second seed continues the numbering, filling the last organization.
	res, err = s.Seed(ctx, sqlstore.SeedConfig{Users: 3, Registrations: 1, PasswordHash: FakeHash, Now: now})
	if err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	if res.FirstUser != 10 || res.FirstRegistration != 40 || res.Organizations != 1 {
		t.Errorf("second seed: %+v", res)
	}
	if users, regs, err := s.SeedCounts(ctx); users != 13 || regs != 41 || err != nil {
		t.Errorf("SeedCounts = %d, %d, %v; want 13, 41", users, regs, err)
	}
	page, err = s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchNIB, Value: sqlstore.SeedNIB(2)})
	if err != nil || len(page.Users) != 4 {
		t.Errorf("members of organization 2 after the second seed: %d users, %v", len(page.Users), err)
	}

	// Real users stop it, unless forced.
	real := storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@contoh.co.id", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, real); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seed(ctx, sqlstore.SeedConfig{Users: 1, PasswordHash: FakeHash, Now: now}); !errors.Is(err, sqlstore.ErrRealUsers) {
		t.Errorf("seeding among real users: got %v, want ErrRealUsers", err)
	}
	if users, _, _ := s.SeedCounts(ctx); users != 13 {
		t.Errorf("a refused seed stored users: %d", users)
	}
	if _, err := s.Seed(ctx, sqlstore.SeedConfig{Users: 1, PasswordHash: FakeHash, Now: now, Force: true}); err != nil {
		t.Errorf("forced seed: %v", err)
	}
}

// BenchRows is the larger table size of the benchmarks:
// SATUPINTU_BENCH_ROWS, or 10,000 so that a plain -bench run stays quick.
// The proof runs with SATUPINTU_BENCH_ROWS=1000000 on a database seeded
// once (see the backends' benchmarks).
func BenchRows() int {
	if v, err := strconv.Atoi(os.Getenv("SATUPINTU_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 10_000
}

// TopUp seeds s until it holds rows seeded users and registrations.
func TopUp(tb testing.TB, s Seeded, rows int) {
	tb.Helper()
	users, regs, err := s.SeedCounts(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	if users >= rows && regs >= rows {
		return
	}
	start := time.Now()
	res, err := s.Seed(tb.Context(), sqlstore.SeedConfig{Users: max(0, rows-users), Registrations: max(0, rows-regs), PasswordHash: FakeHash})
	if err != nil {
		tb.Fatalf("seed to %d rows: %v", rows, err)
	}
	tb.Logf("seeded %d users and %d registrations in %v", res.Users, res.Registrations, time.Since(start).Round(time.Millisecond))
}

// Benchmark runs the lookups of sign-in, user search and the officer
// queue on s, which holds rows seeded users and registrations (TopUp).
// Each iteration looks up a different user, spread over the whole table,
// so the benchmark does not measure one cached page.
func Benchmark(b *testing.B, s Seeded, rows int) {
	ctx := b.Context()
	pick := func(i int) int { return (i * 7919) % rows } // 7919 is prime: every user in turn
	b.Run("UserByLogin/username", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_, err := s.UserByLogin(ctx, sqlstore.SeedUsername(pick(i)))
			must(b, err)
		}
	})
	b.Run("UserByLogin/email", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_, err := s.UserByLogin(ctx, sqlstore.SeedEmail(pick(i)))
			must(b, err)
		}
	})
	search := func(by string, value func(n int) string, want int) func(b *testing.B) {
		return func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				p, err := s.SearchUsers(ctx, storage.UserSearch{By: by, Value: value(pick(i)), Limit: 20})
				if err != nil || len(p.Users) < want {
					b.Fatalf("SearchUsers(%s, %q): %d users, %v", by, value(pick(i)), len(p.Users), err)
				}
			}
		}
	}
	b.Run("SearchUsers/username", search(storage.SearchUsername, sqlstore.SeedUsername, 1))
	b.Run("SearchUsers/email", search(storage.SearchEmail, sqlstore.SeedEmail, 1))
	b.Run("SearchUsers/nib", search(storage.SearchNIB, func(n int) string { return sqlstore.SeedNIB(n / 4) }, 1))
	b.Run("SearchUsers/npwp", search(storage.SearchNPWP, func(n int) string { return sqlstore.SeedNPWP(n / 4) }, 1))
	// A given name and the first letters of a family name: hundreds of
	// matches at a million users, a page of 20 read from the index.
	b.Run("SearchUsers/name", search(storage.SearchName, func(n int) string { return sqlstore.SeedName(n)[:len(sqlstore.SeedName(n))-3] }, 1))
	b.Run("SearchUsers/name-next-page", func(b *testing.B) {
		first, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchName, Value: "b", Limit: 20})
		if err != nil || first.Next == "" {
			b.Fatalf("first page: %+v, %v", first, err)
		}
		for b.Loop() {
			_, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchName, Value: "b", Limit: 20, After: first.Next})
			must(b, err)
		}
	})

	// The console's company lookups (admin/orgs.go).
	b.Run("OrganizationsByNPWP", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			os, err := s.OrganizationsByNPWP(ctx, sqlstore.SeedNPWP(pick(i)/4))
			if err != nil || len(os) == 0 {
				b.Fatalf("OrganizationsByNPWP: %d, %v", len(os), err)
			}
		}
	})
	b.Run("RegistrationsByNIB", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_, err := s.RegistrationsByNIB(ctx, sqlstore.SeedNIB(pick(i)/4), 200)
			must(b, err)
		}
	})

	// The officer queue as registration/officer.go pages it (51 rows).
	newest, err := s.ListRegistrations(ctx, storage.RegistrationFilter{Limit: 1})
	if err != nil || len(newest) == 0 {
		b.Fatalf("newest registration: %v", err)
	}
	mid, err := s.RegistrationByID(ctx, fmt.Sprintf("seed-r%09d", rows/2))
	if err != nil {
		b.Fatalf("registration in the middle: %v", err)
	}
	week := newest[0].SubmittedAt.Add(-7 * 24 * time.Hour)
	queue := []struct {
		name string
		f    storage.RegistrationFilter
	}{
		{"newest", storage.RegistrationFilter{}},
		{"status", storage.RegistrationFilter{Status: storage.StatusSubmitted}},
		{"rare-status", storage.RegistrationFilter{Status: storage.StatusRevisionRequested}},
		{"trader-type", storage.RegistrationFilter{TraderType: "ppjk"}},
		{"status-and-trader-type", storage.RegistrationFilter{Status: storage.StatusInReview, TraderType: "ppjk"}},
		{"last-week", storage.RegistrationFilter{From: week}},
		{"status-last-week", storage.RegistrationFilter{Status: storage.StatusSubmitted, From: week}},
		{"deep-page", storage.RegistrationFilter{AfterSubmitted: mid.SubmittedAt, AfterID: mid.ID}},
		{"status-deep-page", storage.RegistrationFilter{Status: storage.StatusSubmitted, AfterSubmitted: mid.SubmittedAt, AfterID: mid.ID}},
	}
	for _, q := range queue {
		q.f.Limit = 51
		b.Run("Queue/"+q.name, func(b *testing.B) {
			for b.Loop() {
				gs, err := s.ListRegistrations(ctx, q.f)
				if err != nil || len(gs) == 0 {
					b.Fatalf("ListRegistrations(%+v): %d rows, %v", q.f, len(gs), err)
				}
			}
		})
	}
	b.Run("OpenRegistrationFor", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			// Decided registrations are found by neither index: a miss
			// costs the same lookups.
			g := sqlstore.SeedRegistration(pick(i), rows, time.Now())
			if _, err := s.OpenRegistrationFor(ctx, g.NIB, g.Email); err != nil && !errors.Is(err, storage.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCreateRefreshToken stores refresh tokens from many goroutines
// at once, as concurrent code exchanges with offline_access do; ns/op is
// per token. It measures the durable write that sqlstore group-commits:
//
//	go test ./storage/sqlite ./storage/postgres -run '^$' -bench CreateRefreshToken
func BenchmarkCreateRefreshToken(b *testing.B, s storage.Durable) {
	ctx := b.Context()
	prefix := storage.NewID() // the store outlives each sub-benchmark's runs
	var next atomic.Int64
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, p := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("goroutines=%d", p*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(p)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					must(b, s.CreateRefreshToken(ctx, storage.RefreshToken{
						ID:        fmt.Sprintf("%s-%d", prefix, n),
						FamilyID:  fmt.Sprintf("fam-%d", n),
						ClientID:  "ebpom",
						UserID:    fmt.Sprintf("user-%d", n%1000),
						Scopes:    []string{"openid", "profile", "organization", "offline_access"},
						Audience:  []string{"ebpom"},
						AMR:       []string{"pwd"},
						AuthTime:  now,
						CreatedAt: now,
						ExpiresAt: now.Add(30 * 24 * time.Hour),
					}))
				}
			})
		})
	}
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}
