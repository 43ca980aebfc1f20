package login

import (
	"context"
	"testing"
)

// Raising an account's lock epoch (an administrator's unlock) lifts the
// lock and the failures of every login name of the account, without
// touching the counters; other accounts and unknown names keep theirs.
func TestThrottleLockEpoch(t *testing.T) {
	th, _ := newThrottle(t)
	epochs := map[string]int64{"budi": 0, "budi@contoh.co.id": 0}
	th.Epoch = func(_ context.Context, login string) (int64, error) { return epochs[login], nil }
	ctx := t.Context()
	const ip = "192.0.2.10"
	fail(t, th, "budi", "192.0.2.11", 10)
	fail(t, th, "BUDI@contoh.co.id ", "192.0.2.12", 10)
	fail(t, th, "siti", "192.0.2.13", 10)
	for _, login := range []string{"budi", "budi@contoh.co.id", "siti"} {
		if v, err := th.Check(ctx, login, ip, ""); err != nil || !v.Locked {
			t.Fatalf("%s before the unlock: %+v, %v, want locked", login, v, err)
		}
	}
	epochs["budi"], epochs["budi@contoh.co.id"] = 1, 1 // the account's two login names
	for _, login := range []string{"budi", "Budi@contoh.co.id"} {
		v, err := th.Check(ctx, login, ip, "")
		if err != nil || v.Locked || v.Captcha || v.Wait > 0 {
			t.Errorf("%s after the unlock: %+v, %v, want a fresh start", login, v, err)
		}
	}
	if v, _ := th.Check(ctx, "siti", ip, ""); !v.Locked {
		t.Error("another account was unlocked too")
	}
	// The new epoch counts from zero, and locks again after as many failures.
	if f := fail(t, th, "budi", "192.0.2.14", 10); !f.LockedAccount {
		t.Errorf("ten failures under the new epoch: %+v, want a lock", f)
	}
}
