package redis_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
)

// wantUnavailable fails unless err is storage.ErrUnavailable, keeping the
// driver's text for the log and matching no other sentinel.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error, want storage.ErrUnavailable", what)
	case !errors.Is(err, storage.ErrUnavailable):
		t.Errorf("%s: %v is not storage.ErrUnavailable", what, err)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrAlreadyExists):
		t.Errorf("%s: %v also matches another sentinel", what, err)
	case !strings.HasPrefix(err.Error(), "redis: "):
		t.Errorf("%s: %q does not say where it came from", what, err)
	}
}

// openPrivate opens a store on a private server.
func openPrivate(t *testing.T, srv *redistest.Server) *redis.Store {
	t.Helper()
	s, err := redis.Open(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A Redis that cannot serve now, whatever the reason, is
// storage.ErrUnavailable: callers answer 503 and keep what the user holds
// (a refresh token, a session), rather than "not found" or a 500.
func TestUnavailableErrors(t *testing.T) {
	t.Parallel()

	t.Run("nothing listens on the port", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = redis.Open(t.Context(), "redis://"+addr+"/0")
		wantUnavailable(t, "Open", err)
	})

	t.Run("server killed", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		srv := redistest.StartServer(t)
		s := openPrivate(t, srv)
		if _, err := s.Incr(ctx, "k", time.Minute); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		_, err := s.Incr(ctx, "k", time.Minute)
		wantUnavailable(t, "Incr", err)
		_, err = s.SessionByID(ctx, "s")
		wantUnavailable(t, "SessionByID", err)
		wantUnavailable(t, "Ping", s.Ping(ctx))
		wantUnavailable(t, "ProbeWrite", s.ProbeWrite(ctx))
	})

	t.Run("store closed", func(t *testing.T) {
		t.Parallel()
		s := openPrivate(t, redistest.StartServer(t))
		s.Close()
		_, err := s.TakeOnce(t.Context(), "k")
		wantUnavailable(t, "TakeOnce", err)
	})

	// At maxmemory with noeviction Redis answers PING and reads, and
	// refuses every write with "OOM command not allowed", also inside the
	// scripts: the state that failed 271 of 274 sign-ins in issue 8.
	t.Run("out of memory", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		srv := redistest.StartServer(t)
		s := openPrivate(t, srv)
		if err := s.ProbeWrite(ctx); err != nil {
			t.Fatalf("ProbeWrite before filling: %v", err)
		}
		srv.Fill(ctx)
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping of a full Redis: %v (the write probe is what must notice)", err)
		}
		if _, err := s.SessionByID(ctx, "s"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a read from a full Redis: %v, want ErrNotFound", err)
		}
		wantUnavailable(t, "ProbeWrite", s.ProbeWrite(ctx))
		_, err := s.Incr(ctx, "k", time.Minute)
		wantUnavailable(t, "Incr (a script)", err)
		wantUnavailable(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r"}, time.Minute))
		wantUnavailable(t, "PutOnce", s.PutOnce(ctx, "k", []byte("v"), time.Minute))
	})

	// A replica (after a failover, or a misconfigured URL) answers PING and
	// reads, and refuses writes with READONLY.
	t.Run("read-only replica", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		srv := redistest.StartServer(t)
		s := openPrivate(t, srv)
		// A primary that does not exist: the server stays a replica,
		// serving stale reads.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		if err := srv.Client().ReplicaOf(context.WithoutCancel(ctx), host, port).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping of a replica: %v", err)
		}
		wantUnavailable(t, "ProbeWrite", s.ProbeWrite(ctx))
		wantUnavailable(t, "CreateSession", s.CreateSession(ctx, storage.Session{ID: "s", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}))
	})
}
