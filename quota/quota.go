// Package quota bounds what anonymous clients may store. Every anonymous
// write (a pending authorization request, a registration draft, a tracking
// or reset attempt) first takes one unit of a Limit: a per-address allowance
// and a total allowance, both counted in fixed windows in the ephemeral
// store so every node shares them. When a stored item lives no longer than
// the window, a Limit of N per address and T in total bounds the live items
// to 2N per address and 2T overall, whatever a client sends: an item alive
// now was stored within the last window's length, which spans at most the
// end of the previous window and the current one, N (T) each. A client
// that spends its whole allowance at the end of one window and again at
// the start of the next all but reaches that bound (see
// TestLiveItemsStayWithinTwiceTheAllowance).
package quota

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"satupintu/storage"
)

// ErrExceeded reports that an allowance is used up for the current window.
var ErrExceeded = errors.New("quota: allowance exceeded")

// Counter is the slice of storage.Counters a Limit uses.
type Counter interface {
	// IncrChain counts the steps in order in one round trip, stopping
	// after the first that passes its maximum.
	IncrChain(ctx context.Context, steps []storage.CountStep) ([]int64, error)
}

// AddressKey groups a client address the way allowances count it: an IPv4
// address on its own, an IPv6 address by its /64, since one IPv6 client
// usually holds a whole /64 and could otherwise multiply its allowance by
// picking new addresses. A string that is not an address is kept as is.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // 64 is always a valid IPv6 prefix length
		return p.String()
	}
	return a.String()
}

// Limit is one allowance. Zero PerAddress or Total means no bound of that
// kind; a Limit with neither always allows.
type Limit struct {
	Name       string        // counter key prefix, e.g. "authorize"
	PerAddress int64         // writes one address (or IPv6 /64) may make per Window
	Total      int64         // writes all clients together may make per Window
	Window     time.Duration // length of the fixed counting window
}

// Take uses one unit of l for the client at ip. It returns ErrExceeded
// (wrapped with which bound) when the address or the total is over its
// allowance, and the store's error, wrapped, when counting failed: callers
// treat that as a dependency failure, not as a refusal.
func (l Limit) Take(ctx context.Context, c Counter, ip string) error {
	if l.Window <= 0 || (l.PerAddress <= 0 && l.Total <= 0) {
		return nil
	}
	// The address first: a client over its own allowance is refused
	// without spending everyone's (the chain stops there).
	var steps []storage.CountStep
	var bounds []string
	if l.PerAddress > 0 {
		steps = append(steps, storage.CountStep{Key: "quota:" + l.Name + ":addr:" + AddressKey(ip), Window: l.Window, Max: l.PerAddress})
		bounds = append(bounds, "per-address")
	}
	if l.Total > 0 {
		steps = append(steps, storage.CountStep{Key: "quota:" + l.Name + ":total", Window: l.Window, Max: l.Total})
		bounds = append(bounds, "total")
	}
	counts, err := c.IncrChain(ctx, steps)
	if err != nil {
		return fmt.Errorf("quota %s: count: %w", l.Name, err)
	}
	for i, n := range counts {
		if n > steps[i].Max {
			return fmt.Errorf("quota %s: %s allowance of %d: %w", l.Name, bounds[i], steps[i].Max, ErrExceeded)
		}
	}
	return nil
}

type addressKey struct{}

// WithAddress returns ctx carrying the client address ip, for code that
// stores on a client's behalf but sees only a context (zitadel's storage
// callbacks, a challenge issued while a page renders).
func WithAddress(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, addressKey{}, ip)
}

// Address returns the client address WithAddress put in ctx, or "unknown":
// writes whose address is lost then share one allowance instead of
// escaping the per-address bound.
func Address(ctx context.Context) string {
	if ip, ok := ctx.Value(addressKey{}).(string); ok && ip != "" {
		return ip
	}
	return "unknown"
}
