package quota_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
)

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"}, // a v4-mapped address counts as the IPv4 one
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := quota.AddressKey(tt.in); got != tt.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLimitBoundsEachAddressAndTheTotal(t *testing.T) {
	clock := conformance.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	store := memory.New(clock.Now)
	t.Cleanup(func() { store.Close() })
	ctx := t.Context()
	l := quota.Limit{Name: "test", PerAddress: 3, Total: 5, Window: time.Minute}

	take := func(ip string) error { return l.Take(ctx, store, ip) }
	for i := range 3 {
		if err := take("192.0.2.1"); err != nil {
			t.Fatalf("take %d from one address: %v", i+1, err)
		}
	}
	if err := take("192.0.2.1"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("4th take from one address = %v, want ErrExceeded", err)
	}
	// 15 addresses of one /64 share one allowance.
	refused := 0
	for i := range 15 {
		if err := take(fmt.Sprintf("2001:db8:0:1::%x", i+1)); errors.Is(err, quota.ErrExceeded) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// The /64 has an allowance of 3 like any address, but only 2 remain of
	// the total of 5: 2 pass, 13 are refused.
	if refused != 13 {
		t.Fatalf("%d of 15 takes from one /64 refused, want 13", refused)
	}
	// The total is used up: a fresh address is refused too, and a refused
	// per-address take did not consume the total.
	if err := take("198.51.100.9"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("take after the total is used = %v, want ErrExceeded", err)
	}
	clock.Advance(time.Minute)
	if err := take("192.0.2.1"); err != nil {
		t.Fatalf("take in the next window: %v", err)
	}
}

func TestRefusedAddressDoesNotUseTheTotal(t *testing.T) {
	store := memory.New(time.Now)
	t.Cleanup(func() { store.Close() })
	l := quota.Limit{Name: "flood", PerAddress: 2, Total: 10, Window: time.Hour}
	for range 1000 {
		l.Take(t.Context(), store, "203.0.113.5")
	}
	for i := range 8 {
		if err := l.Take(t.Context(), store, fmt.Sprintf("198.51.100.%d", i)); err != nil {
			t.Fatalf("address %d refused after one address flooded: %v", i, err)
		}
	}
}

type failing struct{}

func (failing) IncrChain(context.Context, []storage.CountStep) ([]int64, error) {
	return nil, errors.New("connection refused")
}

func TestStoreFailureIsNotARefusal(t *testing.T) {
	err := quota.Limit{Name: "x", PerAddress: 1, Window: time.Minute}.Take(t.Context(), failing{}, "192.0.2.1")
	if err == nil || errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("Take with a failing store = %v, want a store error that is not ErrExceeded", err)
	}
}

func TestZeroLimitAlwaysAllows(t *testing.T) {
	for range 3 {
		if err := (quota.Limit{}).Take(t.Context(), failing{}, "192.0.2.1"); err != nil {
			t.Fatalf("zero Limit: %v", err)
		}
	}
}

func TestAddressTravelsInTheContext(t *testing.T) {
	ctx := quota.WithAddress(t.Context(), "2001:db8::1")
	if got := quota.Address(ctx); got != "2001:db8::1" {
		t.Errorf("Address = %q", got)
	}
	// Without one, every such write shares the "unknown" allowance.
	if got := quota.Address(t.Context()); got != "unknown" {
		t.Errorf("Address of a bare context = %q, want unknown", got)
	}
}

// The stated bound of the package comment: items that live as long as the
// window number at most twice the allowance at any moment, per address and
// in total. Fixed windows do let them exceed the allowance once: a client
// that spends it at the end of one window and again at the start of the
// next. Walked on the injected clock, second by second.
func TestLiveItemsStayWithinTwiceTheAllowance(t *testing.T) {
	clock := conformance.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	store := memory.New(clock.Now)
	t.Cleanup(func() { store.Close() })
	ctx := t.Context()
	l := quota.Limit{Name: "live", PerAddress: 4, Total: 10, Window: time.Minute}
	lifetime := l.Window // the longest an item may live under this limit

	type item struct {
		ip   string
		dies time.Time
	}
	var items []item
	maxPer, maxTotal := map[string]int{}, 0
	// take stores an item for ip if the limit allows, then measures what
	// is alive.
	take := func(ip string) {
		t.Helper()
		err := l.Take(ctx, store, ip)
		switch {
		case errors.Is(err, quota.ErrExceeded):
		case err != nil:
			t.Fatal(err)
		default:
			items = append(items, item{ip, clock.Now().Add(lifetime)})
		}
		per, total := map[string]int{}, 0
		for _, it := range items {
			if clock.Now().Before(it.dies) {
				per[it.ip]++
				total++
			}
		}
		for a, n := range per {
			maxPer[a] = max(maxPer[a], n)
		}
		maxTotal = max(maxTotal, total)
	}

	// One client at a window's edges: one item opens its window, the rest
	// of the allowance goes in its last second, the whole next allowance
	// in the first second of the next window.
	take("192.0.2.1")
	clock.Advance(l.Window - time.Second)
	for range l.PerAddress {
		take("192.0.2.1")
	}
	clock.Advance(time.Second)
	for range l.PerAddress {
		take("192.0.2.1")
	}
	if got := int64(maxPer["192.0.2.1"]); got <= l.PerAddress || got > 2*l.PerAddress {
		t.Errorf("edge burst: %d alive at once, want more than the allowance %d and at most twice it", got, l.PerAddress)
	}

	// Many clients trying every second for five windows, at steps that
	// drift against the windows.
	for step := range 5 * 60 {
		for i := range 5 {
			if (step+i)%(i+1) == 0 {
				take(fmt.Sprintf("198.51.100.%d", i))
			}
		}
		clock.Advance(time.Second + time.Duration(step%7)*100*time.Millisecond)
	}
	for ip, n := range maxPer {
		if int64(n) > 2*l.PerAddress {
			t.Errorf("%s had %d items alive at once, over twice the allowance %d", ip, n, l.PerAddress)
		}
	}
	if int64(maxTotal) > 2*l.Total {
		t.Errorf("%d items alive at once, over twice the total %d", maxTotal, l.Total)
	}
}
