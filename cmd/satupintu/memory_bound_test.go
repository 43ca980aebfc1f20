package main

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"satupintu/storage/memory"
)

// SATUPINTU_MEMORY_MAX_ENTRIES reaches the in-process store: one write
// more than the bound evicts one entry.
func TestMemoryMaxEntriesBoundsTheStore(t *testing.T) {
	cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{
		"SATUPINTU_MEMORY_MAX_ENTRIES": "1000", "SATUPINTU_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	eph, name, err := openEphemeral(t.Context(), cfg)
	if err != nil || name != "memory" {
		t.Fatalf("openEphemeral = %s, %v", name, err)
	}
	for i := range 1001 {
		if err := eph.PutOnce(t.Context(), fmt.Sprint(i), nil, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := eph.(*memory.Store).Evictions()["one_time"]; n != 1 {
		t.Errorf("%d evictions after 1001 writes with a bound of 1000, want 1", n)
	}
}

func TestMemoryMaxEntriesIsChecked(t *testing.T) {
	for _, v := range []string{"many", "999"} {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{"SATUPINTU_MEMORY_MAX_ENTRIES": v}))
		if err == nil || !strings.Contains(err.Error(), "SATUPINTU_MEMORY_MAX_ENTRIES") {
			t.Errorf("SATUPINTU_MEMORY_MAX_ENTRIES=%s: error %v", v, err)
		}
	}
	// With Redis the in-process store is not used, so its bound is not checked.
	if _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{
		"SATUPINTU_MEMORY_MAX_ENTRIES": "10", "SATUPINTU_REDIS_URL": "redis://127.0.0.1:6379/0"})); err != nil {
		t.Errorf("with Redis: %v", err)
	}
}
