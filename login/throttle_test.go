package login

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"satupintu/storage/conformance"
	"satupintu/storage/memory"
)

func TestThrottleRuleArithmetic(t *testing.T) {
	acct, addr := DefaultThrottlePolicy.Account, DefaultThrottlePolicy.Address
	delays := []struct {
		name string
		rule ThrottleRule
		n    int64
		want time.Duration
	}{
		{"account: no delay before the 5th failure", acct, 4, 0},
		{"account: 5 s at the 5th", acct, 5, 5 * time.Second},
		{"account: doubles at the 6th", acct, 6, 10 * time.Second},
		{"account: 20 s at the 7th", acct, 7, 20 * time.Second},
		{"account: 40 s at the 8th", acct, 8, 40 * time.Second},
		{"account: capped at 60 s from the 9th", acct, 9, time.Minute},
		{"account: stays capped", acct, 500, time.Minute},
		{"address: none at 19", addr, 19, 0},
		{"address: 1 s at 20", addr, 20, time.Second},
		{"address: 8 s at 23", addr, 23, 8 * time.Second},
		{"address: capped at 10 s", addr, 24, 10 * time.Second},
		{"no rule, no delay", ThrottleRule{}, 1000, 0},
		{"max below base: base", ThrottleRule{DelayAfter: 1, BaseDelay: time.Second}, 9, time.Second},
	}
	for _, tt := range delays {
		if got := tt.rule.Delay(tt.n); got != tt.want {
			t.Errorf("%s: Delay(%d) = %v, want %v", tt.name, tt.n, got, tt.want)
		}
	}
	thresholds := []struct {
		name           string
		rule           ThrottleRule
		n              int64
		captcha, locks bool
	}{
		{"account: 2 failures need nothing", acct, 2, false, false},
		{"account: CAPTCHA from the 3rd", acct, 3, true, false},
		{"account: locked at the 10th", acct, 10, true, true},
		{"address: 4 failures need nothing", addr, 4, false, false},
		{"address: CAPTCHA from the 5th", addr, 5, true, false},
		{"address: not locked at 99", addr, 99, true, false},
		{"address: locked at 100", addr, 100, true, true},
		{"zero rule never asks or locks", ThrottleRule{}, 1 << 40, false, false},
	}
	for _, tt := range thresholds {
		if got := tt.rule.NeedsCaptcha(tt.n); got != tt.captcha {
			t.Errorf("%s: NeedsCaptcha(%d) = %v", tt.name, tt.n, got)
		}
		if got := tt.rule.Locks(tt.n); got != tt.locks {
			t.Errorf("%s: Locks(%d) = %v", tt.name, tt.n, got)
		}
	}
	// ASVS 6.3.1: a login name gets at most LockAfter failures per window,
	// and the lock outlasts the window, so at most 4 windows an hour.
	p := DefaultThrottlePolicy
	if p.LockFor < p.Window || p.Account.LockAfter*int64(time.Hour/p.Window) > 50 {
		t.Errorf("policy allows more than 50 failures an hour per login name: %+v", p)
	}
}

// newThrottle returns a throttle on the in-process store, with a clock the
// test moves; the store reads the same clock, so windows expire with it.
func newThrottle(t *testing.T) (*Throttle, *conformance.Clock) {
	t.Helper()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	return &Throttle{Counters: st, Now: clk.Now}, clk
}

// fail records n failures for login from ip on an unknown device.
func fail(t *testing.T, th *Throttle, login, ip string, n int) Failure {
	t.Helper()
	return failOn(t, th, login, ip, "", n)
}

// failOn records n failures for login from ip on device ("": unknown).
func failOn(t *testing.T, th *Throttle, login, ip, device string, n int) Failure {
	t.Helper()
	var f Failure
	for range n {
		var err error
		if f, err = th.Failed(t.Context(), login, ip, device); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func check(t *testing.T, th *Throttle, login, ip string) Verdict {
	t.Helper()
	return checkOn(t, th, login, ip, "")
}

func checkOn(t *testing.T, th *Throttle, login, ip, device string) Verdict {
	t.Helper()
	v, err := th.Check(t.Context(), login, ip, device)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestThrottleCaptchaThresholds(t *testing.T) {
	t.Run("account: third failure from anywhere", func(t *testing.T) {
		th, _ := newThrottle(t)
		fail(t, th, "budi", "10.0.0.1", 1)
		if f := fail(t, th, "budi", "10.0.0.2", 1); f.Captcha {
			t.Fatal("CAPTCHA after 2 failures")
		}
		if f := fail(t, th, "BUDI ", "10.0.0.3", 1); !f.Captcha {
			t.Fatal("no CAPTCHA after the 3rd failure (name normalized as the user store does)")
		}
		if v := check(t, th, "budi", "10.0.0.4"); !v.Captcha || v.Locked || v.Wait != 0 {
			t.Fatalf("fresh address, same name: %+v", v)
		}
		if v := check(t, th, "siti", "10.0.0.4"); v.Captcha {
			t.Fatalf("another name: %+v", v)
		}
	})
	t.Run("address: fifth failure over any names", func(t *testing.T) {
		th, _ := newThrottle(t)
		for _, name := range []string{"a", "b", "c", "d"} {
			fail(t, th, name, "10.0.0.9", 1)
		}
		if need, _ := th.NeedsCaptcha(t.Context(), "", "10.0.0.9"); need {
			t.Fatal("CAPTCHA after 4 failures from an address")
		}
		fail(t, th, "e", "10.0.0.9", 1)
		for _, login := range []string{"", "never-seen"} {
			if need, _ := th.NeedsCaptcha(t.Context(), login, "10.0.0.9"); !need {
				t.Fatalf("no CAPTCHA for %q after 5 failures from the address", login)
			}
		}
		if need, _ := th.NeedsCaptcha(t.Context(), "", "10.0.0.10"); need {
			t.Fatal("CAPTCHA for another address")
		}
	})
	t.Run("a wrong CAPTCHA counts against the address only", func(t *testing.T) {
		th, _ := newThrottle(t)
		for range 5 {
			if err := th.FailedCaptcha(t.Context(), "10.0.0.7"); err != nil {
				t.Fatal(err)
			}
		}
		if need, _ := th.NeedsCaptcha(t.Context(), "budi", "10.0.0.7"); !need {
			t.Fatal("CAPTCHA guesses not counted")
		}
		if need, _ := th.NeedsCaptcha(t.Context(), "budi", "10.0.0.8"); need {
			t.Fatal("CAPTCHA guesses counted against the account")
		}
	})
}

func TestThrottleDelaysGrow(t *testing.T) {
	th, clk := newThrottle(t)
	const ip = "10.0.0.1"
	fail(t, th, "budi", ip, 4)
	if v := check(t, th, "budi", ip); v.Wait != 0 {
		t.Fatalf("delay after 4 failures: %+v", v)
	}
	for i, d := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute} {
		n := 5 + i
		fail(t, th, "budi", ip, 1)
		// Right after the failure the next attempt waits out the period.
		v := check(t, th, "budi", ip)
		if v.Wait <= 0 || v.Wait > d {
			t.Fatalf("after %d failures: wait %v, want (0, %v]", n, v.Wait, d)
		}
		// Refused attempts do not move the goal posts.
		clk.Advance(v.Wait / 2)
		if v2 := check(t, th, "budi", ip); v2.Wait != v.Wait-v.Wait/2 {
			t.Fatalf("after %d failures, half-way: wait %v, want %v", n, v2.Wait, v.Wait-v.Wait/2)
		}
		clk.Advance(v.Wait - v.Wait/2)
		if v := check(t, th, "budi", ip); v.Wait != 0 {
			t.Fatalf("after %d failures, once the period is over: %+v", n, v)
		}
		// One attempt per period: the one just allowed used it.
		if v := check(t, th, "budi", ip); v.Wait <= 0 {
			t.Fatalf("after %d failures: two attempts in one period", n)
		}
		clk.Advance(d)
	}
}

func TestThrottleSlotsAreAlignedToTheClock(t *testing.T) {
	th, clk := newThrottle(t)
	fail(t, th, "budi", "10.0.0.1", 5) // 5 s spacing
	clk.Advance(1500 * time.Millisecond)
	// 09:00:01.5 lies in the period 09:00:00–09:00:05, which the 5th
	// failure claimed: 3.5 s to go, the same on every node.
	if v := check(t, th, "budi", "10.0.0.1"); v.Wait != 3500*time.Millisecond {
		t.Fatalf("wait %v, want 3.5s", v.Wait)
	}
}

func TestThrottleLockout(t *testing.T) {
	th, clk := newThrottle(t)
	ctx := t.Context()
	const ip = "10.0.0.1"
	var f Failure
	for i := 1; i <= 10; i++ {
		f = fail(t, th, "budi", ip, 1)
		if i < 10 && f.LockedAccount {
			t.Fatalf("locked after %d failures", i)
		}
		clk.Advance(time.Minute) // past any spacing
	}
	if !f.LockedAccount || f.LockedAddress {
		t.Fatalf("10th failure: %+v", f)
	}
	if v := check(t, th, "budi", "10.9.9.9"); !v.Locked || v.LockedScope != "account" {
		t.Fatalf("locked name from another address: %+v", v)
	}
	if v := check(t, th, "siti", ip); v.Locked {
		t.Fatalf("another name locked: %+v", v)
	}
	// The lock lasts LockFor from the 10th failure, then the window has
	// passed too: a clean slate.
	clk.Advance(DefaultThrottlePolicy.LockFor - time.Minute - time.Second)
	if v := check(t, th, "budi", ip); !v.Locked {
		t.Fatal("lock ended early")
	}
	clk.Advance(2 * time.Second)
	if v := check(t, th, "budi", ip); v.Locked || v.Wait != 0 {
		t.Fatalf("after the lock: %+v", v)
	}
	if need, _ := th.NeedsCaptcha(ctx, "budi", "10.9.9.9"); need {
		t.Fatal("failures outlived their window")
	}
}

func TestThrottleAddressLockout(t *testing.T) {
	th, clk := newThrottle(t)
	var f Failure
	for i := 1; i <= 100; i++ {
		f = fail(t, th, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)), "10.0.0.1", 1)
		clk.Advance(time.Second * 5)
	}
	if !f.LockedAddress {
		t.Fatalf("100th failure from an address: %+v", f)
	}
	if v := check(t, th, "somebody-new", "10.0.0.1"); !v.Locked || v.LockedScope != "address" {
		t.Fatalf("%+v", v)
	}
	if v := check(t, th, "somebody-new", "10.0.0.2"); v.Locked {
		t.Fatalf("another address locked: %+v", v)
	}
}

func TestThrottleWindowExpires(t *testing.T) {
	th, clk := newThrottle(t)
	fail(t, th, "budi", "10.0.0.1", 4)
	clk.Advance(DefaultThrottlePolicy.Window - time.Second)
	if v := check(t, th, "budi", "10.0.0.2"); !v.Captcha {
		t.Fatal("failures forgotten within the window")
	}
	clk.Advance(2 * time.Second)
	if v := check(t, th, "budi", "10.0.0.2"); v.Captcha {
		t.Fatal("failures outlived the window")
	}
	// The count starts over.
	if f := fail(t, th, "budi", "10.0.0.3", 2); f.Captcha {
		t.Fatal("old failures still counted")
	}
}

func TestThrottleSuccessResetsTheAccountNotTheAddress(t *testing.T) {
	th, _ := newThrottle(t)
	ctx := t.Context()
	fail(t, th, "budi", "10.0.0.1", 4)
	fail(t, th, "siti", "10.0.0.1", 1)
	if err := th.Succeeded(ctx, "Budi", ""); err != nil {
		t.Fatal(err)
	}
	if need, _ := th.NeedsCaptcha(ctx, "budi", "10.0.0.2"); need {
		t.Fatal("account failures survived a correct password")
	}
	if need, _ := th.NeedsCaptcha(ctx, "", "10.0.0.1"); !need {
		t.Fatal("address failures reset by one account's success")
	}
}

func TestThrottleUnlock(t *testing.T) {
	th, clk := newThrottle(t)
	ctx := t.Context()
	for range 10 {
		fail(t, th, "budi@example.co.id", "10.0.0.1", 1)
		clk.Advance(time.Minute)
	}
	if v := check(t, th, "budi@example.co.id", "10.0.0.2"); !v.Locked {
		t.Fatal("not locked")
	}
	if err := th.Unlock(ctx, "budi", "BUDI@example.co.id", ""); err != nil {
		t.Fatal(err)
	}
	if v := check(t, th, "budi@example.co.id", "10.0.0.2"); v.Locked || v.Captcha || v.Wait != 0 {
		t.Fatalf("after unlock: %+v", v)
	}
}

// Behind a proxy every client has one address: it may ask for CAPTCHAs,
// never space or lock everyone's attempts.
func TestBehindProxyPolicy(t *testing.T) {
	p := BehindProxyThrottlePolicy
	if p.Account != DefaultThrottlePolicy.Account || p.Window != DefaultThrottlePolicy.Window {
		t.Errorf("account limits differ: %+v", p)
	}
	if p.Address.Delay(1<<20) != 0 || p.Address.Locks(1<<20) || !p.Address.NeedsCaptcha(5) {
		t.Errorf("address rule %+v", p.Address)
	}
	th, clk := newThrottle(t)
	th.Policy = p
	for i := range 200 {
		fail(t, th, "user"+strconv.Itoa(i), "10.0.0.1", 1)
		clk.Advance(time.Second)
	}
	if v := check(t, th, "someone", "10.0.0.1"); v.Locked || v.Wait != 0 || !v.Captcha {
		t.Errorf("after 200 failures from the proxy: %+v", v)
	}
}

func TestAddressSubject(t *testing.T) {
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64
		{"192.0.2.7", "::ffff:192.0.2.7"},           // IPv4-mapped
	}
	for _, p := range same {
		if addressSubject(p[0]) != addressSubject(p[1]) {
			t.Errorf("%s and %s counted apart", p[0], p[1])
		}
	}
	different := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.7", "192.0.2.8"},
	}
	for _, p := range different {
		if addressSubject(p[0]) == addressSubject(p[1]) {
			t.Errorf("%s and %s counted together", p[0], p[1])
		}
	}
	if s := accountSubject("Budi"); s != accountSubject(" budi ") || s == accountSubject("budi2") {
		t.Error("login names not normalized like the user store")
	}
}

// A trusted device is judged by its own count: the login name's lock from
// unknown devices does not hold it back, and its failures lock it alone.
func TestThrottleTrustedDevices(t *testing.T) {
	t.Run("the login name's lock does not stop a trusted device", func(t *testing.T) {
		th, clk := newThrottle(t)
		for range 10 {
			fail(t, th, "budi", "10.0.0.66", 1) // the attacker, unknown device
			clk.Advance(time.Minute)
		}
		if v := check(t, th, "budi", "10.0.0.67"); !v.Locked || v.LockedScope != "account" {
			t.Fatalf("unknown device: %+v, want the account lock", v)
		}
		if v := checkOn(t, th, "budi", "10.0.0.1", "owner-laptop"); v.Locked || v.Captcha || v.Wait != 0 {
			t.Fatalf("trusted device during the lock: %+v, want a clear way", v)
		}
		// The owner's success does not lift the lock for unknown devices.
		if err := th.Succeeded(t.Context(), "budi", "owner-laptop"); err != nil {
			t.Fatal(err)
		}
		if v := check(t, th, "budi", "10.0.0.66"); !v.Locked {
			t.Fatalf("the owner's sign-in lifted the attacker's lock: %+v", v)
		}
	})
	t.Run("the address's lock and delays do not stop a trusted device", func(t *testing.T) {
		th, clk := newThrottle(t)
		for i := range 100 { // the attacker shares the owner's CGNAT address
			fail(t, th, fmt.Sprint("user", i), "198.51.100.7", 1)
			clk.Advance(time.Second)
		}
		if v := check(t, th, "budi", "198.51.100.7"); !v.Locked || v.LockedScope != "address" {
			t.Fatalf("unknown device: %+v, want the address lock", v)
		}
		if v := checkOn(t, th, "budi", "198.51.100.7", "owner-laptop"); v.Locked || v.Captcha || v.Wait != 0 {
			t.Fatalf("trusted device behind the locked address: %+v, want a clear way", v)
		}
		// Its own failures there still count against the address, and
		// lock the device after its own ten.
		var f Failure
		for i := 1; i <= 10; i++ {
			f = failOn(t, th, "budi", "198.51.100.7", "stolen", 1)
			if want := i >= 3; f.Captcha != want {
				t.Fatalf("failure %d on the device: CAPTCHA %v, want %v (its own count only)", i, f.Captcha, want)
			}
			clk.Advance(time.Minute)
		}
		if !f.LockedDevice {
			t.Fatalf("10th failure on a device behind a locked address: %+v", f)
		}
		if v := checkOn(t, th, "budi", "198.51.100.7", "stolen"); !v.Locked || v.LockedScope != "device" {
			t.Fatalf("the device after its own ten failures: %+v", v)
		}
		if v := checkOn(t, th, "budi", "198.51.100.7", "owner-laptop"); v.Locked {
			t.Fatalf("the owner's device: %+v", v)
		}
	})
	t.Run("a trusted device's failures lock that device only", func(t *testing.T) {
		th, clk := newThrottle(t)
		var f Failure
		for i := 1; i <= 10; i++ {
			f = failOn(t, th, "budi", "10.0.0.1", "stolen", 1)
			if i == 3 && !f.Captcha {
				t.Fatal("no CAPTCHA after the device's 3rd failure")
			}
			if i < 10 && f.LockedDevice {
				t.Fatalf("device locked after %d failures", i)
			}
			clk.Advance(time.Minute)
		}
		if !f.LockedDevice || f.LockedAccount || f.LockedAddress {
			t.Fatalf("10th failure on a device: %+v", f)
		}
		if v := checkOn(t, th, "budi", "10.0.0.2", "stolen"); !v.Locked || v.LockedScope != "device" {
			t.Fatalf("the device from another address: %+v", v)
		}
		if v := checkOn(t, th, "budi", "10.0.0.2", "owner-laptop"); v.Locked || v.Captcha {
			t.Fatalf("another device of the account: %+v", v)
		}
		if v := check(t, th, "budi", "10.0.0.2"); v.Locked || v.Captcha {
			t.Fatalf("unknown devices, counted apart: %+v", v)
		}
		clk.Advance(DefaultThrottlePolicy.LockFor)
		if v := checkOn(t, th, "budi", "10.0.0.2", "stolen"); v.Locked {
			t.Fatalf("device lock did not end: %+v", v)
		}
	})
	t.Run("a policy without a device rule applies the account's", func(t *testing.T) {
		th, clk := newThrottle(t)
		th.Policy = DefaultThrottlePolicy
		th.Policy.Device = ThrottleRule{}
		for range 10 {
			failOn(t, th, "budi", "10.0.0.1", "d", 1)
			clk.Advance(time.Minute)
		}
		if v := checkOn(t, th, "budi", "10.0.0.1", "d"); !v.Locked {
			t.Fatalf("unlimited guesses from a device: %+v", v)
		}
	})
}

// Redis expires a slot by its own clock; a node whose clock lags it (or a
// test's stopped clock) must still find the slot taken until the node's
// period ends, however little of the period was left at the failure.
func TestThrottleSlotOutlivesItsPeriod(t *testing.T) {
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 4, 999_000_000, time.UTC)) // 1 ms before a 5 s boundary
	storeClock := conformance.NewClock(clk.Now())
	th := &Throttle{Counters: memory.New(storeClock.Now), Now: clk.Now}
	fail(t, th, "budi", "10.0.0.1", 5)   // 5 s spacing; this period has 1 ms left
	storeClock.Advance(30 * time.Second) // the store's clock runs ahead; the node's stands still
	if v := check(t, th, "budi", "10.0.0.1"); v.Wait != time.Millisecond {
		t.Fatalf("wait %v, want the 1 ms left of the node's period", v.Wait)
	}
}
