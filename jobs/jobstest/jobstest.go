// Package jobstest runs a real job queue and mail outbox for handler
// tests, on the test's own durable store, retrying quickly.
package jobstest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"satupintu/jobs"
	"satupintu/mail"
)

// Config retries within a fraction of a second and polls often, so a
// test waiting for a mail waits for the mail server, not the backoff.
func Config() jobs.Config {
	return jobs.Config{RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond}
}

// Outbox is a running outbox and its queue.
type Outbox struct {
	*jobs.Outbox
	Queue *jobs.Queue
}

// Settle waits until no job waits or runs: every mail queued so far was
// delivered (or gave up), so a test can count what arrived, or check that
// something did not.
func (o *Outbox) Settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := o.Queue.Depth(t.Context())
		if err == nil && d.Available+d.Running+d.Retryable+d.Scheduled == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobstest: the queue did not settle: %+v, %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Start starts a queue on store (a *sqlite.Store or *postgres.Store)
// delivering through sender, and stops it when the test ends, before the
// store closes (call it after opening the store).
func Start(t testing.TB, store any, sender mail.Sender) *Outbox {
	t.Helper()
	o := Open(t, store, sender)
	o.Start(t)
	return o
}

// Open is Start without starting the queue, so more workers can be
// registered on o.Queue first (the server's back-channel logout worker);
// then call o.Start.
func Open(t testing.TB, store any, sender mail.Sender) *Outbox {
	t.Helper()
	q, err := jobs.Open(t.Context(), store, Config())
	if err != nil {
		t.Fatalf("jobstest: %v", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	o, err := jobs.NewOutbox(q, sender, key)
	if err != nil {
		t.Fatalf("jobstest: %v", err)
	}
	return &Outbox{Outbox: o, Queue: q}
}

// Start starts working o's queue and stops it when the test ends.
func (o *Outbox) Start(t testing.TB) {
	t.Helper()
	q := o.Queue
	// Not t.Context: it ends before the cleanups, which would cut running
	// deliveries instead of letting Stop finish them.
	if err := q.Start(context.WithoutCancel(t.Context())); err != nil {
		t.Fatalf("jobstest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("jobstest: %v", err)
		}
	})
}
