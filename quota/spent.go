package quota

import (
	"context"
	"fmt"
)

// Reader is the slice of storage.Counters that Spent uses.
type Reader interface {
	Count(ctx context.Context, key string) (int64, error)
}

// Spent reports whether the allowance of the client at ip is used up, so
// that a Take now would be refused, without using any of it. It lets a
// limit count only failures (wrong codes) and still refuse the next try
// before it is checked.
func (l Limit) Spent(ctx context.Context, c Reader, ip string) (bool, error) {
	if l.Window <= 0 || (l.PerAddress <= 0 && l.Total <= 0) {
		return false, nil
	}
	if l.PerAddress > 0 {
		n, err := c.Count(ctx, "quota:"+l.Name+":addr:"+AddressKey(ip))
		if err != nil {
			return false, fmt.Errorf("quota %s: read address count: %w", l.Name, err)
		}
		if n >= l.PerAddress {
			return true, nil
		}
	}
	if l.Total > 0 {
		n, err := c.Count(ctx, "quota:"+l.Name+":total")
		if err != nil {
			return false, fmt.Errorf("quota %s: read total count: %w", l.Name, err)
		}
		if n >= l.Total {
			return true, nil
		}
	}
	return false, nil
}
