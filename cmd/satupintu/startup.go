package main

import (
	"math"
	"runtime/debug"
)

// startupHeapLimit is the heap size at which the collector runs during
// start-up although it is paused (quietStartup): start-up allocates about
// 70 MB in all, so it is a backstop, not a budget.
const startupHeapLimit = 256 << 20

// quietStartup pauses the collector for start-up, which makes tens of MB of
// short-lived garbage (migrations, key generation, the demo's password
// hashes, parsing the templates) and keeps little of it. Collected once
// at the end (debug.FreeOSMemory in serve) instead of every time the heap
// doubles, start-up is quicker, and an idle node ends up ~3 MB smaller:
// each collection scans stacks and types that the process then never
// touches again, and those pages of the binary stay resident. An
// operator's GOMEMLIMIT still bounds the heap; without one, the GC runs at
// startupHeapLimit. The returned function restores the settings (GOGC
// included).
func quietStartup() (restore func()) {
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(-1) // reads it
	if limit == math.MaxInt64 {
		debug.SetMemoryLimit(startupHeapLimit)
	}
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
