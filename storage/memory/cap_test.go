package memory

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
)

var capStart = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// checkTable fails t unless every heap holds exactly the table's rows, in
// heap order, with the positions the slots record.
func checkTable[V any](t *testing.T, name string, x *table[V]) {
	t.Helper()
	heaps := []*slotHeap[V]{&x.byExp}
	if x.byRank != nil {
		heaps = append(heaps, x.byRank)
	}
	for _, h := range heaps {
		if len(h.s) != len(x.rows) {
			t.Fatalf("%s: heap %d holds %d slots for %d rows", name, h.k, len(h.s), len(x.rows))
		}
		for i, s := range h.s {
			if s.at[h.k] != i || x.rows[s.key] != s {
				t.Fatalf("%s: heap %d: slot %q at %d records %d or is not the row", name, h.k, s.key, i, s.at[h.k])
			}
			if i > 0 && h.less(s, h.s[(i-1)/2]) {
				t.Fatalf("%s: heap %d: %q sorts before its parent", name, h.k, s.key)
			}
		}
	}
	if x.max > 0 && len(x.rows) > x.max {
		t.Fatalf("%s: %d rows, bound %d", name, len(x.rows), x.max)
	}
}

func tokenAt(id, family string, exp time.Time) storage.AccessToken {
	return storage.AccessToken{ID: id, FamilyID: family, ExpiresAt: exp}
}

// A full kind drops the expired entries first and evicts only when none
// remain, then the one that expires first.
func TestFullKindDropsExpiredThenSoonestExpiry(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(capStart)
	s := New(c.Now, WithMaxEntries(4))
	for _, tok := range []storage.AccessToken{
		tokenAt("a", "", capStart.Add(time.Minute)),
		tokenAt("b", "", capStart.Add(5*time.Minute)),
		tokenAt("c", "", capStart.Add(3*time.Minute)),
		tokenAt("d", "", capStart.Add(10*time.Minute)),
	} {
		if err := s.CreateAccessToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(2 * time.Minute) // a has expired
	if err := s.CreateAccessToken(ctx, tokenAt("e", "", c.Now().Add(20*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if n := s.Evictions()["access_tokens"]; n != 0 {
		t.Errorf("an expired token made room, yet %d live ones were evicted", n)
	}
	if _, ok := s.tokens.rows["a"]; ok {
		t.Error("the expired token is still held")
	}
	// Full of live tokens: c expires first, then b.
	for i, want := range []string{"c", "b"} {
		if err := s.CreateAccessToken(ctx, tokenAt(fmt.Sprint("new", i), "", c.Now().Add(30*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccessTokenByID(ctx, want); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("insert %d: token %s, the next to expire, was not evicted (%v)", i, want, err)
		}
		checkTable(t, "tokens", s.tokens.table)
	}
	for _, id := range []string{"d", "e", "new0", "new1"} {
		if _, err := s.AccessTokenByID(ctx, id); err != nil {
			t.Errorf("token %s: %v", id, err)
		}
	}
	if n := s.Evictions()["access_tokens"]; n != 2 {
		t.Errorf("Evictions = %d, want 2", n)
	}
}

// Every kind stays within its bound however much is written to it.
func TestEveryKindStaysWithinTheBound(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(capStart)
	const limit = 16
	s := New(c.Now, WithMaxEntries(limit))
	rnd := rand.New(rand.NewPCG(13, 1))
	for i := range 20 * limit {
		id := fmt.Sprint(i)
		ttl := time.Duration(1+rnd.IntN(60)) * time.Minute
		exp := c.Now().Add(ttl)
		must(t, s.CreateAuthRequest(ctx, storage.AuthRequest{ID: id}, ttl))
		must(t, s.SaveAuthCode(ctx, id, "code-"+id, ttl))
		must(t, s.CreateSession(ctx, storage.Session{ID: id, UserID: fmt.Sprint("u", i%5), ExpiresAt: exp}))
		must(t, s.CreateAccessToken(ctx, tokenAt(id, fmt.Sprint("f", i%3), exp)))
		must(t, s.PutOnce(ctx, id, []byte("v"), ttl))
		_, err := s.Incr(ctx, fmt.Sprint("k", i%(2*limit)), ttl)
		must(t, err)
		must(t, s.SaveDraft(ctx, id, []byte("v"), ttl))
		must(t, s.CreateDeviceAuthorization(ctx, storage.DeviceAuthorization{ID: id, UserCode: "UC" + id}, ttl))
		if i%7 == 0 {
			c.Advance(time.Minute)
		}
		checkTable(t, "requests", s.requests)
		checkTable(t, "codes", s.codes)
		checkTable(t, "sessions", s.sessions.table)
		checkTable(t, "tokens", s.tokens.table)
		checkTable(t, "one-time", s.once)
		checkTable(t, "counters", s.counters)
		checkTable(t, "drafts", s.drafts)
		checkTable(t, "devices", s.devices.byID)
	}
	for kind, n := range s.Entries() {
		if n > limit {
			t.Errorf("Entries()[%s] = %d, bound %d", kind, n, limit)
		}
	}
	if n := s.Entries()["sessions"]; n != len(s.sessions.rows) || n == 0 {
		t.Errorf("Entries()[sessions] = %d, %d held", n, len(s.sessions.rows))
	}
	if n := len(s.devices.byCode); n > limit {
		t.Errorf("%d user codes indexed for at most %d device authorizations", n, limit)
	}
	checkIndex(t, "sessions", s.sessions)
	checkIndex(t, "tokens", s.tokens)
	for kind, n := range s.Evictions() {
		if n == 0 {
			t.Errorf("%s: no eviction after writing 20 times the bound", kind)
		}
	}
}

// checkIndex fails t unless x's secondary index lists exactly its rows.
func checkIndex[T any](t *testing.T, name string, x indexed[T]) {
	t.Helper()
	n := 0
	for key, ids := range x.by {
		for id := range ids {
			s, ok := x.rows[id]
			if !ok || x.key(s.v) != key {
				t.Errorf("%s: index %q lists %q, which is not held under that key", name, key, id)
			}
			n++
		}
	}
	if n != len(x.rows) {
		t.Errorf("%s: index lists %d ids for %d rows", name, n, len(x.rows))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An evicted session leaves its user's index, and an evicted token its
// family's, so UserSessions and DeleteAccessTokenFamily see only what is held.
func TestEvictionKeepsIndexesConsistent(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(capStart)
	s := New(c.Now, WithMaxEntries(3))
	for i, sess := range []storage.Session{
		{ID: "s1", UserID: "u1", ExpiresAt: capStart.Add(1 * time.Hour)},
		{ID: "s2", UserID: "u1", ExpiresAt: capStart.Add(2 * time.Hour)},
		{ID: "s3", UserID: "u2", ExpiresAt: capStart.Add(3 * time.Hour)},
		{ID: "s4", UserID: "u2", ExpiresAt: capStart.Add(4 * time.Hour)}, // evicts s1
	} {
		sess.CreatedAt = capStart.Add(time.Duration(i) * time.Second)
		must(t, s.CreateSession(ctx, sess))
	}
	got, err := s.UserSessions(ctx, "u1")
	must(t, err)
	if len(got) != 1 || got[0].ID != "s2" {
		t.Errorf("UserSessions(u1) = %v, want only s2", got)
	}
	if n := len(s.sessions.by["u1"]); n != 1 {
		t.Errorf("u1's index holds %d ids, want 1", n)
	}
	must(t, s.CreateSession(ctx, storage.Session{ID: "s5", UserID: "u3", ExpiresAt: capStart.Add(5 * time.Hour)})) // evicts s2
	if _, ok := s.sessions.by["u1"]; ok {
		t.Error("u1 keeps an index entry with no session left")
	}
	checkIndex(t, "sessions", s.sessions)

	for _, tok := range []storage.AccessToken{
		tokenAt("t1", "f1", capStart.Add(1*time.Minute)),
		tokenAt("t2", "f1", capStart.Add(2*time.Minute)),
		tokenAt("t3", "f2", capStart.Add(3*time.Minute)),
		tokenAt("t4", "f2", capStart.Add(4*time.Minute)), // evicts t1
	} {
		must(t, s.CreateAccessToken(ctx, tok))
	}
	if n := len(s.tokens.by["f1"]); n != 1 {
		t.Errorf("family f1's index holds %d ids after t1's eviction, want 1", n)
	}
	must(t, s.DeleteAccessTokenFamily(ctx, "f1"))
	if _, err := s.AccessTokenByID(ctx, "t2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("t2 outlived its family's revocation: %v", err)
	}
	must(t, s.DeleteAccessTokenFamily(ctx, "f2"))
	if len(s.tokens.rows) != 0 || len(s.tokens.by) != 0 || len(s.tokens.byExp.s) != 0 {
		t.Errorf("after revoking both families %d rows, %d families, %d heap slots remain",
			len(s.tokens.rows), len(s.tokens.by), len(s.tokens.byExp.s))
	}
}

// A flood of new counter keys cannot wipe out a high count (a lockout):
// counters of one hit evict each other first. Expired counters still go
// before any live one, however high.
func TestCounterFloodKeepsHighCounts(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(capStart)
	s := New(c.Now, WithMaxEntries(8))
	for range 5 {
		_, err := s.Incr(ctx, "lock:victim", 15*time.Minute)
		must(t, err)
	}
	c.Advance(time.Minute) // the flood's counters expire after the victim's
	for i := range 1000 {
		_, err := s.Incr(ctx, fmt.Sprint("flood:", i), 15*time.Minute)
		must(t, err)
		checkTable(t, "counters", s.counters)
	}
	if n, err := s.Count(ctx, "lock:victim"); err != nil || n != 5 {
		t.Errorf("victim's count = %d, %v after the flood; want 5", n, err)
	}
	if n := s.Evictions()["counters"]; n != 1000-7 {
		t.Errorf("Evictions = %d, want %d", n, 1000-7)
	}
	c.Advance(14 * time.Minute) // the victim's window is over, the flood's not
	_, err := s.Incr(ctx, "next", time.Minute)
	must(t, err)
	if _, ok := s.counters.rows["lock:victim"]; ok {
		t.Error("an expired counter is kept while live ones are evicted")
	}
	if n := s.Evictions()["counters"]; n != 1000-7 {
		t.Errorf("the expired counter made room, yet Evictions went from %d to %d", 1000-7, n)
	}
}

// The conformance suite holds with a bound small enough that its own
// writes hit it now and then.
func TestConformanceSmallBound(t *testing.T) {
	conformance.RunEphemeral(t, func(t *testing.T, c *conformance.Clock) storage.Ephemeral {
		return New(c.Now, WithMaxEntries(64))
	})
}

// BenchmarkInsertAtBound measures a token write into a full store: every
// write evicts the token that expires first.
func BenchmarkInsertAtBound(b *testing.B) {
	ctx := b.Context()
	const limit = 100_000
	start := time.Now()
	s := New(func() time.Time { return start }, WithMaxEntries(limit))
	for i := range limit {
		if err := s.CreateAccessToken(ctx, tokenAt(fmt.Sprint("seed", i), "", start.Add(time.Hour+time.Duration(i)))); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Expiries spread as a token endpoint's would: 15 minutes from a
		// clock that moves on, so the newest lands at the heap's bottom.
		if err := s.CreateAccessToken(ctx, tokenAt(ids[i], "", start.Add(2*time.Hour+time.Duration(i)))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(s.tokens.rows); n > limit {
		b.Fatalf("%d tokens held, bound %d", n, limit)
	}
}

// BenchmarkHeapPerEntry reports the heap one entry of each kind takes,
// with values shaped like production ones (43-character random ids, a
// browser's user agent), index and heap overhead included: the figures
// the README's Memory paragraph gives for SATUPINTU_MEMORY_MAX_ENTRIES.
func BenchmarkHeapPerEntry(b *testing.B) {
	ctx := b.Context()
	const n = 20_000
	id := func(p string, i int) string { return fmt.Sprintf("%s%040d", p, i) } // 43 characters
	exp := time.Now().Add(time.Hour)
	kinds := []struct {
		name  string
		write func(s *Store, i int) error
	}{
		{"session", func(s *Store, i int) error {
			return s.CreateSession(ctx, storage.Session{ID: id("ses", i), SID: id("sid", i), UserID: id("usr", i),
				AuthTime: time.Now(), AMR: []string{"pwd"}, ClientIDs: []string{"insw"},
				UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
				IP:        "203.0.113.7", CreatedAt: time.Now(), ExpiresAt: exp})
		}},
		{"access_token", func(s *Store, i int) error {
			return s.CreateAccessToken(ctx, storage.AccessToken{ID: id("tok", i), ClientID: "insw", UserID: id("usr", i),
				Scopes: []string{"openid", "profile", "email"}, Audience: []string{"insw"}, FamilyID: id("fam", i),
				CreatedAt: time.Now(), ExpiresAt: exp})
		}},
		{"auth_request", func(s *Store, i int) error {
			return s.CreateAuthRequest(ctx, storage.AuthRequest{ID: id("req", i), ClientID: "insw",
				RedirectURI: "https://insw.go.id/oidc/callback", State: id("sta", i), Nonce: id("non", i),
				ResponseType: "code", CodeChallenge: id("pkc", i), CodeChallengeMethod: "S256",
				Scopes: []string{"openid", "profile", "email"}, CreatedAt: time.Now()}, time.Hour)
		}},
		{"counter", func(s *Store, i int) error { _, err := s.Incr(ctx, id("login:fail:", i), time.Hour); return err }},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := New(nil)
				for i := range n {
					if err := k.write(s, i); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/entry")
				runtime.KeepAlive(s)
			}
		})
	}
}
