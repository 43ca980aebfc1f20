package redis_test

import (
	"fmt"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
)

// One account signing in over and over (50,000 sessions were measured
// before the cap) keeps its index at the cap: the ids of ended, deleted and
// expired sessions leave it at the next capped create, each of which is
// one round trip.
func TestSessionIndexStaysWithinTheCap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := &countHook{}
	s, prefix := redistest.Open(t, redis.WithHook(h))
	rdb := admin(t)
	usr := prefix + "usr:u1"
	const limit = 20
	create := func(id string, exp time.Time) []storage.Session {
		t.Helper()
		ended, err := s.CreateSessionCapped(ctx, storage.Session{ID: id, UserID: "u1", ExpiresAt: exp}, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ended
	}
	long := time.Now().Add(time.Hour)
	create("warm-up", long) // loads the script
	for i := range 300 {
		before := h.n.Load()
		create(fmt.Sprint("s", i), long.Add(time.Duration(i)*time.Millisecond))
		if n := h.n.Load() - before; n != 1 {
			t.Fatalf("a capped create took %d round trips, want 1", n)
		}
		if n := rdb.ZCard(ctx, usr).Val(); n > limit {
			t.Fatalf("after %d sign-ins the index holds %d ids, cap %d", i+1, n, limit)
		}
	}
	if n := len(rdb.Keys(ctx, prefix+"sess:*").Val()); n != limit {
		t.Errorf("%d session keys in Redis, want %d", n, limit)
	}

	// A deleted session's id leaves the index when the next create makes
	// room, and it is not reported as ended.
	if err := s.DeleteSession(ctx, "s299"); err != nil {
		t.Fatal(err)
	}
	if ended := create("after-logout", long.Add(time.Minute)); len(ended) != 0 {
		t.Errorf("a create with a free place ended %d sessions", len(ended))
	}
	if n := rdb.ZCard(ctx, usr).Val(); n != limit {
		t.Errorf("index holds %d ids, want %d", n, limit)
	}

	// Expired ids leave it too. The expiry is seconds ahead (Redis refuses
	// one already past, which a loaded machine could reach between here and
	// the create), and the test waits for Redis to expire the session.
	if err := s.DeleteUserSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	create("short", time.Now().Add(2*time.Second))
	waitExpired(t, rdb, prefix+"sess:short")
	create("fresh", long)
	if got := rdb.ZRange(ctx, usr, 0, -1).Val(); len(got) != 1 || got[0] != "fresh" {
		t.Errorf("index holds %v, want [fresh]", got)
	}
}
