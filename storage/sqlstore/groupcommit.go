package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"satupintu/storage"
)

// Group commit of refresh tokens. Every code exchange with offline_access
// stores one, and one INSERT with its own commit per exchange was 18.5 % of
// the server's CPU per SSO flow on Postgres. The token must stay durable,
// so concurrent CreateRefreshToken calls of one Store are written together:
// one multi-row INSERT, one commit.
//
// There are no timers. A caller queues its row; if no batch is being
// written it becomes the writer and writes what is queued at once, so a
// lone caller waits no longer than before. Callers that arrive meanwhile
// queue up and form the next batch, written by the first of them (the
// writer promotes it when its own batch is done), so a caller waits for
// the batches ahead of it and its own, never for those queued after it.

// maxRefreshBatch caps the rows of one INSERT: 64 × 12 placeholders stay
// far below SQLite's oldest limit (999) and Postgres's (65,535).
const maxRefreshBatch = 64

// refreshWriteTimeout bounds one batch, fallback included. The batch does
// not run under any one caller's context (a caller that gives up must not
// fail the others), so it needs a bound of its own.
const refreshWriteTimeout = 10 * time.Second

// refreshBatcher queues the rows of concurrent CreateRefreshToken calls.
// Its zero value is ready. Invariant: pending is empty unless writing.
type refreshBatcher struct {
	mu      sync.Mutex
	pending []*refreshWrite
	writing bool // a writer is between taking its batch and handing on
}

// refreshWrite is one queued row. done receives exactly one outcome:
// either the row's result or, for the head of the queue, the writer's role.
type refreshWrite struct {
	t    storage.RefreshToken
	done chan refreshOutcome // buffered: the writer never blocks on it
}

type refreshOutcome struct {
	err  error
	lead bool // the receiver is now the writer of the next batch
}

// CreateRefreshToken stores a new refresh token, in one statement with
// those of concurrent calls (see refreshBatcher).
//
// A caller whose ctx ends while its row waits returns ctx's error at once,
// but the row stays queued and may still be written. That is harmless: the
// token was never returned to anyone, so it can never be presented, and it
// expires like any other. The writer itself ignores its caller's
// cancellation for the same reason and is bounded by refreshWriteTimeout.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	if storage.AuditPending(ctx) {
		// The batch runs under its writer's context: audit events
		// attached to this one commit with this row alone.
		_, err := s.db.Exec(ctx, insertRefresh, refreshArgs(t)...)
		return s.wrap("create refresh token", err)
	}
	w := &refreshWrite{t: t, done: make(chan refreshOutcome, 1)}
	g := &s.refresh
	g.mu.Lock()
	g.pending = append(g.pending, w)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if lead {
		return s.writeRefreshBatch(ctx, w)
	}
	select {
	case o := <-w.done:
		if o.lead {
			return s.writeRefreshBatch(ctx, w)
		}
		return o.err
	case <-ctx.Done():
		// The row stays queued; should it be promoted to writer, the
		// batch still has to be written for everyone queued behind it.
		go func() {
			// Everyone in the batch is answered before a driver panic
			// propagates; here no server would recover it, so it ends.
			defer func() { recover() }()
			if o := <-w.done; o.lead {
				s.writeRefreshBatch(context.WithoutCancel(ctx), w)
			}
		}()
		return s.wrap("create refresh token", ctx.Err())
	}
}

// writeRefreshBatch is run by the writer, own, which heads the queue: it
// takes up to maxRefreshBatch rows, writes them, promotes the next head
// (if any) to writer, and hands every other row its result.
func (s *Store) writeRefreshBatch(ctx context.Context, own *refreshWrite) error {
	g := &s.refresh
	g.mu.Lock()
	n := min(len(g.pending), maxRefreshBatch)
	batch := make([]*refreshWrite, n)
	copy(batch, g.pending)
	// Clear the taken slots so the queue's array does not keep them alive.
	clear(g.pending[:n])
	g.pending = g.pending[n:]
	g.mu.Unlock()

	// Whatever happens (a driver panic included, which net/http would
	// recover), hand the role on and answer everyone, or the queue stalls.
	errs := make([]error, n)
	written := false
	defer func() {
		if !written {
			for i := range errs {
				errs[i] = fmt.Errorf("%s: create refresh token: batch writer panicked", s.d.Name)
			}
		}
		g.mu.Lock()
		if len(g.pending) > 0 {
			g.pending[0].done <- refreshOutcome{lead: true}
		} else {
			g.writing = false
		}
		g.mu.Unlock()
		for i, w := range batch {
			if w != own {
				w.done <- refreshOutcome{err: errs[i]}
			}
		}
	}()
	s.insertRefreshTokens(ctx, batch, errs)
	written = true
	for i, w := range batch {
		if w == own {
			return errs[i]
		}
	}
	// Unreachable: own was the head of the queue, so it is in batch.
	return fmt.Errorf("%s: create refresh token: writer's own row not in its batch", s.d.Name)
}

// insertRefreshTokens writes batch and sets errs[i] to the result of
// batch[i]. If the multi-row INSERT fails on the data (say one id is
// taken), it writes the rows one by one so each caller gets its own
// result; if the database is unavailable, every row shares that error
// rather than trying it once per row.
func (s *Store) insertRefreshTokens(ctx context.Context, batch []*refreshWrite, errs []error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshWriteTimeout)
	defer cancel()
	const op = "create refresh token"
	if len(batch) == 1 {
		_, err := s.db.Exec(ctx, insertRefresh, refreshArgs(batch[0].t)...)
		errs[0] = s.wrap(op, err)
		return
	}
	args := make([]any, 0, len(batch)*refreshParams)
	for _, w := range batch {
		args = append(args, refreshArgs(w.t)...)
	}
	_, err := s.db.Exec(ctx, insertRefreshRows(len(batch)), args...)
	// Row by row only for a fault in the data: not when the database is
	// away or the time is up (a timeout, a deadlock), which 64 more
	// statements would only prolong.
	if err := s.wrap(op, err); err == nil || errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	for i, w := range batch {
		_, err := s.db.Exec(ctx, insertRefresh, refreshArgs(w.t)...)
		errs[i] = s.wrap(op, err)
	}
}

// refreshParams is the number of placeholders of one row of insertRefresh.
const refreshParams = 12

// insertRefreshRows is insertRefresh for n rows. The texts are few
// (n ≤ maxRefreshBatch), so the drivers' statement caches keep them all.
func insertRefreshRows(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO refresh_tokens (` + refreshColumns + `) VALUES `)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range refreshParams {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", r*refreshParams+c+1)
		}
		b.WriteByte(')')
	}
	return b.String()
}
