package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// Failed sign-ins in the audit log, bounded (policy in throttle.go, "Audit").

const (
	// AuditFailuresPerWindow is how many login.failure events of one
	// address and reason a window writes as they happen; the rest of the
	// window is counted and written as one login.failures event.
	AuditFailuresPerWindow = 5
	// AuditFailureWindow is the length of those windows, aligned to the
	// clock so every node counts into the same one.
	AuditFailureWindow = time.Minute
	// auditFailureHorizon is how long a window's count waits for the next
	// written failure of its address and reason to be written with it.
	auditFailureHorizon = 24 * time.Hour
)

// failureAudit writes login.failure events, aggregating floods. Counts live
// in the ephemeral store, shared by every node: per address, reason and
// window a counter (whose first AuditFailuresPerWindow increments write
// their event), and per address and reason the one-time "open" mark naming
// the last window that wrote, whose surplus is still to be written.
type failureAudit struct {
	Counters storage.Counters
	Marks    storage.OneTime
	Audit    Audit
}

// failureAudit is h's; it holds nothing of its own.
func (h *Handler) failureAudit() *failureAudit {
	return &failureAudit{Counters: h.Counters, Marks: h.OneTime, Audit: h.Audit}
}

// auditFailure records a login.failure event e of r (time and address
// filled in here). Like audit, a failing store is logged, never the
// user's problem; and if counting fails the event is written as it is,
// since a lost event is worse than an extra row.
func (h *Handler) auditFailure(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now()
	e.IP = web.RemoteIP(r)
	if err := h.failureAudit().record(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}

// record writes e or counts it. Within a window, the first
// AuditFailuresPerWindow failures of e's address and reason are written;
// the first of them also writes, as one login.failures event, the count
// of the surplus of the last window that wrote, if it had any.
func (a *failureAudit) record(ctx context.Context, e storage.AuditEvent) error {
	addr, reason := quota.AddressKey(e.IP), e.Detail["reason"]
	window := e.Time.UnixNano() / int64(AuditFailureWindow)
	n, err := a.Counters.Incr(ctx, a.countKey(addr, reason, window), auditFailureHorizon)
	if err != nil {
		return errors.Join(fmt.Errorf("login: count audit failure: %w", err), a.Audit.AppendAudit(ctx, e))
	}
	if n > AuditFailuresPerWindow {
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
// Of simultaneous first failures of a window only one, the one whose
// increment made the count 1, gets here.
func (a *failureAudit) flush(ctx context.Context, addr, reason string, window int64) error {
	mark := a.markKey(addr, reason)
	b, err := a.Marks.TakeOnce(ctx, mark)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return fmt.Errorf("login: read audit window mark: %w", err)
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
	if err := a.Marks.PutOnce(ctx, mark, []byte(strconv.FormatInt(window, 10)), auditFailureHorizon); err != nil &&
		!errors.Is(err, storage.ErrAlreadyExists) { // a concurrent first failure of another window marked it
		return fmt.Errorf("login: mark audit window: %w", err)
	}
	return nil
}

// writeSurplus writes how many failures of addr and reason window counted
// beyond the ones it wrote, and forgets the count.
func (a *failureAudit) writeSurplus(ctx context.Context, addr, reason string, window int64) error {
	key := a.countKey(addr, reason, window)
	n, err := a.Counters.Count(ctx, key)
	if err != nil {
		return fmt.Errorf("login: read audit failure count: %w", err)
	}
	if n > AuditFailuresPerWindow {
		from := time.Unix(0, window*int64(AuditFailureWindow)).UTC()
		to := from.Add(AuditFailureWindow)
		err := a.Audit.AppendAudit(ctx, storage.AuditEvent{
			Time:   to,
			Action: "login.failures",
			IP:     addr,
			Detail: map[string]string{
				"reason": reason,
				"count":  strconv.FormatInt(n-AuditFailuresPerWindow, 10),
				"from":   from.Format(time.RFC3339),
				"to":     to.Format(time.RFC3339),
			},
		})
		if err != nil {
			return err
		}
	}
	if err := a.Counters.ResetCounter(ctx, key); err != nil {
		return fmt.Errorf("login: reset audit failure count: %w", err)
	}
	return nil
}

func (a *failureAudit) countKey(addr, reason string, window int64) string {
	return "audit-fail:" + addr + ":" + reason + ":" + strconv.FormatInt(window, 10)
}

func (a *failureAudit) markKey(addr, reason string) string {
	return "audit-fail-open:" + addr + ":" + reason
}
