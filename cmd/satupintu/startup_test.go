package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// Start-up runs with the collector paused under a backstop, and the
// operator's settings come back afterwards.
func TestQuietStartupRestoresTheCollector(t *testing.T) {
	before := debug.SetGCPercent(77)
	limitBefore := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limitBefore) })

	restore := quietStartup()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GC percent during start-up = %d, want -1 (paused)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != startupHeapLimit {
		t.Errorf("memory limit during start-up = %d, want the %d backstop", l, startupHeapLimit)
	}
	restore()
	if p := debug.SetGCPercent(77); p != 77 {
		t.Errorf("GC percent after start-up = %d, want 77", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("memory limit after start-up = %d, want none", l)
	}
}
