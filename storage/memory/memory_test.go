package memory

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
)

func TestConformance(t *testing.T) {
	conformance.RunEphemeral(t, func(t *testing.T, c *conformance.Clock) storage.Ephemeral {
		return New(c.Now)
	})
}

// The suite's real-time mode, which Redis will use, is checked here too: the
// store then runs on the wall clock and the suite sleeps and polls.
func TestConformanceRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps for TTLs")
	}
	conformance.RunEphemeral(t, func(t *testing.T, c *conformance.Clock) storage.Ephemeral {
		c.UseRealTime()
		return New(nil)
	})
}

// Expired entries that nobody reads again must not pile up: each write drops
// every entry of its kind that has expired, so a steady stream of
// short-lived entries keeps each kind at exactly its live entries.
func TestSweepBoundsMemory(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(c.Now)
	const live = 100
	for i := range 100 * live {
		id := fmt.Sprint(i)
		tok := storage.AccessToken{ID: id, FamilyID: "fam-" + id, ExpiresAt: c.Now().Add(live * time.Second)}
		if err := s.CreateAccessToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		sess := storage.Session{ID: id, UserID: "user-" + id, ExpiresAt: c.Now().Add(live * time.Second)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: id}, live*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveAuthCode(ctx, id, "code-"+id, live*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.PutOnce(ctx, id, []byte("v"), live*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, id, live*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveDraft(ctx, id, []byte("v"), live*time.Second); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	const bound = live
	for name, n := range map[string]int{
		"tokens": len(s.tokens.rows), "families": len(s.tokens.by),
		"sessions": len(s.sessions.rows), "users": len(s.sessions.by),
		"requests": len(s.requests.rows) + len(s.codes.rows), "one-time": len(s.once.rows),
		"counters": len(s.counters.rows), "drafts": len(s.drafts.rows),
	} {
		limit := bound
		if name == "requests" {
			limit = 2 * bound
		}
		if n > limit {
			t.Errorf("%s: %d entries held for %d live ones", name, n, live)
		}
	}
}

// BenchmarkAccessToken measures the client_credentials hot path: store a
// token, introspect it, revoke it.
func BenchmarkAccessToken(b *testing.B) {
	ctx := b.Context()
	s := New(nil)
	exp := time.Now().Add(time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(next.Add(1))
			tok := storage.AccessToken{ID: id, ClientID: "insw", Scopes: []string{"openid"}, ExpiresAt: exp}
			if err := s.CreateAccessToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
			if _, err := s.AccessTokenByID(ctx, id); err != nil {
				b.Fatal(err)
			}
			if err := s.DeleteAccessToken(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(3*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCodeFlow measures one authorization code flow's ephemeral work:
// create the request, mark it done, save and redeem the code.
func BenchmarkCodeFlow(b *testing.B) {
	ctx := b.Context()
	s := New(nil)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(next.Add(1))
			r := storage.AuthRequest{ID: id, ClientID: "ebpom", Scopes: []string{"openid", "profile"}}
			if err := s.CreateAuthRequest(ctx, r, 10*time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := s.UpdateAuthRequest(ctx, id, func(r *storage.AuthRequest) error {
				r.Done, r.UserID = true, "user"
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := s.SaveAuthCode(ctx, id, "c"+id, time.Minute); err != nil {
				b.Fatal(err)
			}
			if _, err := s.ConsumeAuthCode(ctx, "c"+id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(4*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkAccessTokenByID measures introspection alone against a store
// holding many tokens, the read-heavy steady state.
func BenchmarkAccessTokenByID(b *testing.B) {
	ctx := b.Context()
	s := New(nil)
	exp := time.Now().Add(time.Hour)
	const n = 100_000
	for i := range n {
		tok := storage.AccessToken{ID: fmt.Sprint(i), Scopes: []string{"openid"}, ExpiresAt: exp}
		if err := s.CreateAccessToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.AccessTokenByID(ctx, fmt.Sprint(next.Add(1)%n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
