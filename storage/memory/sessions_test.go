package memory

import (
	"fmt"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
)

// One account signing in over and over must not grow the user's index:
// with a cap it holds at most the cap, and ids of sessions that expired or
// were ended leave it.
func TestSessionIndexStaysWithinTheCap(t *testing.T) {
	ctx := t.Context()
	c := conformance.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(c.Now)
	const limit = 20
	for i := range 1000 {
		sess := storage.Session{ID: fmt.Sprint("s", i), UserID: "u1", ExpiresAt: c.Now().Add(8 * time.Hour)}
		if _, err := s.CreateSessionCapped(ctx, sess, limit); err != nil {
			t.Fatal(err)
		}
		if n := len(s.sessions.by["u1"]); n > limit {
			t.Fatalf("after %d sign-ins the index holds %d ids, cap %d", i+1, n, limit)
		}
		c.Advance(time.Second)
	}
	if n := len(s.sessions.rows); n != limit {
		t.Errorf("%d sessions held, want %d", n, limit)
	}
	// Expired ids leave the index at the next capped create.
	c.Advance(9 * time.Hour)
	if _, err := s.CreateSessionCapped(ctx, storage.Session{ID: "last", UserID: "u1", ExpiresAt: c.Now().Add(time.Hour)}, limit); err != nil {
		t.Fatal(err)
	}
	if n := len(s.sessions.by["u1"]); n != 1 {
		t.Errorf("index holds %d ids after the others expired, want 1", n)
	}
}
