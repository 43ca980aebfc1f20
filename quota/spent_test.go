package quota_test

import (
	"testing"
	"time"

	"satupintu/quota"
	"satupintu/storage/memory"
)

func TestSpentReadsWithoutTaking(t *testing.T) {
	store := memory.New(time.Now)
	t.Cleanup(func() { store.Close() })
	ctx := t.Context()
	l := quota.Limit{Name: "wrong", PerAddress: 2, Window: time.Minute}
	for i := range 2 {
		if spent, err := l.Spent(ctx, store, "2001:db8::1"); err != nil || spent {
			t.Fatalf("before take %d: spent %v, %v", i+1, spent, err)
		}
		if err := l.Take(ctx, store, "2001:db8::1"); err != nil {
			t.Fatal(err)
		}
	}
	// The /64 shares the allowance; another address does not.
	if spent, _ := l.Spent(ctx, store, "2001:db8::2"); !spent {
		t.Error("allowance of the /64 not spent after two takes")
	}
	if spent, _ := l.Spent(ctx, store, "192.0.2.1"); spent {
		t.Error("another address is spent")
	}
}
