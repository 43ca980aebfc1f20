// Package storagetest opens the embedded backends for handler tests: they
// are the fakes (no mocks of our own storage), closed when the test ends.
package storagetest

import (
	"path/filepath"
	"testing"
	"time"

	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
)

// Embedded returns an in-process ephemeral store on the clock now and a
// SQLite durable store in a temporary folder.
func Embedded(t testing.TB, now func() time.Time) (*memory.Store, *sqlite.Store) {
	t.Helper()
	eph := memory.New(now)
	t.Cleanup(func() { eph.Close() })
	dur, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "satupintu.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { dur.Close() })
	return eph, dur
}
