package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"satupintu/storage"
)

// Another process holding the write lock (an admin command, a backup) past
// the request's patience is an unavailable database, a 503 and a failed
// write probe, not a 500; reads go on in WAL mode.
func TestWriteLockHeldElsewhere(t *testing.T) {
	t.Parallel() // it waits out the busy timeout (5 s)
	path := filepath.Join(t.TempDir(), "satupintu.db")
	s := open(t, path)
	defer s.Close()
	ctx := t.Context()
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite: %v", err)
	}

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")

	// The request gives up first (its deadline), or SQLite does (the busy
	// timeout, SQLITE_BUSY): unavailable either way.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := s.ProbeWrite(short); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("ProbeWrite with a short deadline while another process writes: %v, want storage.ErrUnavailable", err)
	}
	if err := s.ProbeWrite(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("ProbeWrite past the busy timeout: %v, want storage.ErrUnavailable", err)
	} else {
		t.Log(err)
	}
	if _, err := s.UserByID(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a read while another process writes: %v, want ErrNotFound", err)
	}
}
