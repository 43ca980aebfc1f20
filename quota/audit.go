package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"satupintu/storage"
)

// Audit rows are an anonymous write too: a refused request that is audited
// must not let a flood grow the audit table (one client managed 107 failed
// sign-ins a second). AuditFlood bounds them per address and reason.

// Defaults of AuditFlood.
const (
	// DefaultAuditPerWindow is how many events of one address and reason
	// a window writes as they happen.
	DefaultAuditPerWindow = 5
	// DefaultAuditWindow is the length of those windows, aligned to the
	// clock so every node counts into the same one.
	DefaultAuditWindow = time.Minute
	// DefaultAuditHorizon is how long a window's count waits for the next
	// written event of its address and reason to be written with it.
	DefaultAuditHorizon = 24 * time.Hour
)

// AuditAppender is the slice of storage.Audit an AuditFlood writes to.
type AuditAppender interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// AuditFlood writes the audit events of one kind of anonymous refusal,
// aggregating floods: per client address (an IPv6 /64) and reason, in
// windows aligned to the clock, the first PerWindow events are written as
// they happen, with everything they carry; the rest are only counted in
// the ephemeral store, and their number is written as one event of
// SummaryAction (detail reason, count, from, to) together with the first
// event written for that address and reason in a later window, up to
// Horizon later. A
// flood thus writes at most PerWindow+1 rows a window per address and
// reason; the count of a burst's last window is only written if that
// address is refused again for that reason within Horizon.
//
// Counts live in the ephemeral store, shared by every node: per address,
// reason and window a counter (whose first PerWindow increments write
// their event), and per address and reason the one-time "open" mark
// naming the last window that wrote, whose surplus is still to be written.
type AuditFlood struct {
	Counters      storage.Counters
	Marks         storage.OneTime
	Audit         AuditAppender
	Name          string // key prefix, e.g. "audit-fail"
	SummaryAction string // action of the count events, e.g. "login.failures"
	// Zero values take the Default… constants.
	PerWindow int64
	Window    time.Duration
	Horizon   time.Duration
}

func (a *AuditFlood) perWindow() int64 {
	if a.PerWindow > 0 {
		return a.PerWindow
	}
	return DefaultAuditPerWindow
}

func (a *AuditFlood) window() time.Duration {
	if a.Window > 0 {
		return a.Window
	}
	return DefaultAuditWindow
}

func (a *AuditFlood) horizon() time.Duration {
	if a.Horizon > 0 {
		return a.Horizon
	}
	return DefaultAuditHorizon
}

// Record writes e (Time and IP set, the reason in Detail["reason"]) or
// counts it. Within a window, the first PerWindow events of e's address
// and reason are written; the first of them also writes, as one event of
// SummaryAction, the count of the surplus of the last window that wrote,
// if it had any. If counting fails the event is written as it is, since a lost event
// is worse than an extra row.
func (a *AuditFlood) Record(ctx context.Context, e storage.AuditEvent) error {
	addr, reason := AddressKey(e.IP), e.Detail["reason"]
	window := e.Time.UnixNano() / int64(a.window())
	n, err := a.Counters.Incr(ctx, a.countKey(addr, reason, window), a.horizon())
	if err != nil {
		return errors.Join(fmt.Errorf("quota: count audit event: %w", err), a.Audit.AppendAudit(ctx, e))
	}
	if n > a.perWindow() {
		return nil // counted; written with a later event
	}
	if n == 1 {
		if err := a.flush(ctx, addr, reason, window); err != nil {
			// The surplus is lost, not the event: write it all the same.
			return errors.Join(err, a.Audit.AppendAudit(ctx, e))
		}
	}
	return a.Audit.AppendAudit(ctx, e)
}

// flush writes the surplus of the last window of addr and reason that
// wrote (the open mark), if it was before window, and marks window open.
// Of simultaneous first events of a window only one, the one whose
// increment made the count 1, gets here.
func (a *AuditFlood) flush(ctx context.Context, addr, reason string, window int64) error {
	mark := a.markKey(addr, reason)
	b, err := a.Marks.TakeOnce(ctx, mark)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return fmt.Errorf("quota: read audit window mark: %w", err)
	default:
		open, perr := strconv.ParseInt(string(b), 10, 64)
		switch {
		case perr != nil:
		case open > window:
			// A straggler from an earlier window: the later one stays open.
			window = open
		case open < window:
			if err := a.writeSurplus(ctx, addr, reason, open); err != nil {
				return err
			}
		}
	}
	if err := a.Marks.PutOnce(ctx, mark, []byte(strconv.FormatInt(window, 10)), a.horizon()); err != nil &&
		!errors.Is(err, storage.ErrAlreadyExists) { // a concurrent first event of another window marked it
		return fmt.Errorf("quota: mark audit window: %w", err)
	}
	return nil
}

// writeSurplus writes how many events of addr and reason window counted
// beyond the ones it wrote, and forgets the count.
func (a *AuditFlood) writeSurplus(ctx context.Context, addr, reason string, window int64) error {
	key := a.countKey(addr, reason, window)
	n, err := a.Counters.Count(ctx, key)
	if err != nil {
		return fmt.Errorf("quota: read audit event count: %w", err)
	}
	if n > a.perWindow() {
		from := time.Unix(0, window*int64(a.window())).UTC()
		to := from.Add(a.window())
		err := a.Audit.AppendAudit(ctx, storage.AuditEvent{
			Time:   to,
			Action: a.SummaryAction,
			IP:     addr,
			Detail: map[string]string{
				"reason": reason,
				"count":  strconv.FormatInt(n-a.perWindow(), 10),
				"from":   from.Format(time.RFC3339),
				"to":     to.Format(time.RFC3339),
			},
		})
		if err != nil {
			return err
		}
	}
	if err := a.Counters.ResetCounter(ctx, key); err != nil {
		return fmt.Errorf("quota: reset audit event count: %w", err)
	}
	return nil
}

func (a *AuditFlood) countKey(addr, reason string, window int64) string {
	return a.Name + ":" + addr + ":" + reason + ":" + strconv.FormatInt(window, 10)
}

func (a *AuditFlood) markKey(addr, reason string) string {
	return a.Name + "-open:" + addr + ":" + reason
}
