package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"satupintu/jobs"
	"satupintu/mail"
	"satupintu/op"
	"satupintu/storage"
)

// mailOutbox queues mail for delivery (jobs.Outbox); the login and
// registration handlers take it in place of a sender.
type mailOutbox interface {
	Mail(ctx context.Context, tx storage.Tx, m mail.Message) error
}

// queueStopTimeout is how long shutdown waits for mails being delivered
// before it cancels them; River retries a cancelled one on the next start.
const queueStopTimeout = 15 * time.Second

// openOutbox opens the job queue on the durable store's database (applying
// River's migrations) and registers the mail worker delivering through
// sender. The queue is not started yet: newServer registers the
// back-channel logout worker on it, then start begins working. The
// returned stop ends it gracefully; call it before the store closes.
func openOutbox(ctx context.Context, durable storage.Durable, kek *op.KEK, sender mail.Sender, logger *slog.Logger) (o *jobs.Outbox, q *jobs.Queue, start func() error, stop func(), err error) {
	q, err = jobs.Open(ctx, durable, jobs.Config{Logger: logger})
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("job queue: %w", err)
	}
	// Generated once and kept in the database, as the TOTP key is: it
	// keeps the links in queued mail out of sight of River's tools.
	key, err := secret(ctx, sealedSecrets{st: durable, kek: kek}, "mail-outbox-key", nil, 32)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	o, err = jobs.NewOutbox(q, sender, key)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("mail outbox: %w", err)
	}
	start = func() error {
		// Not ctx: its end (SIGTERM) would cut deliveries off mid-message;
		// stop below lets them finish first.
		if err := q.Start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		if d, err := q.Depth(ctx); err == nil && d.Available+d.Retryable+d.Discarded > 0 {
			logger.Info("job queue", "available", d.Available, "retryable", d.Retryable, "discarded", d.Discarded)
		}
		return nil
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), queueStopTimeout)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			logger.Error("stop job queue", "error", err)
		}
	}
	return o, q, start, stop, nil
}
