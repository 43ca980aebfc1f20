package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"satupintu/mail"
	"satupintu/storage"
)

// MailArgs is one outgoing email waiting in the outbox. ID names the
// message: River keeps one job per ID (unique by args), so inserting the
// same message twice queues it once.
//
// The message is stored rendered, links included, because the outbox must
// deliver exactly what the transaction promised; River deletes a delivered
// job after a day (CompletedJobRetentionPeriod) and a discarded one after a
// week.
type MailArgs struct {
	ID      string `json:"id" river:"unique"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// Kind names mail jobs in River's table; never change it while jobs of
// the old name may wait.
func (MailArgs) Kind() string { return "mail" }

// InsertOpts makes a mail job unique by its ID, in every state, so a
// delivered message is never queued again under the same ID.
func (MailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Outbox queues mail for delivery by MailWorker. A mail about a change is
// queued inside the change's transaction (Mail with the tx of a
// storage.TxHook), so it goes out if and only if the change commits, and
// survives the node that made it.
type Outbox struct {
	q *Queue
}

// NewOutbox registers the mail worker, delivering through sender, on q
// (before q starts) and returns the outbox that feeds it.
func NewOutbox(q *Queue, sender mail.Sender) (*Outbox, error) {
	w := &MailWorker{sender: sender, complete: q.eng.completeMail, logger: q.logger}
	if err := Register(q, w); err != nil {
		return nil, err
	}
	return &Outbox{q: q}, nil
}

// Mail queues m under a new message ID: inside tx when tx is not nil,
// else on its own.
func (o *Outbox) Mail(ctx context.Context, tx storage.Tx, m mail.Message) error {
	args := MailArgs{ID: storage.NewID(), To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	if err := o.q.Enqueue(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Hook returns a storage.TxHook that queues m in the change's transaction.
func (o *Outbox) Hook(m mail.Message) storage.TxHook {
	return func(ctx context.Context, tx storage.Tx) error { return o.Mail(ctx, tx, m) }
}

// mailTimeout bounds one delivery attempt; the SMTP sender has its own
// minute, this covers a folder on a stuck disk too.
const mailTimeout = 2 * time.Minute

// MailWorker delivers queued mail. A failed attempt is retried with
// backoff; a message the sender refuses as malformed is cancelled, since no
// retry can fix it.
type MailWorker struct {
	river.WorkerDefaults[MailArgs]
	sender   mail.Sender
	complete func(context.Context, *river.Job[MailArgs]) error
	logger   *slog.Logger
}

// Timeout bounds one attempt.
func (w *MailWorker) Timeout(*river.Job[MailArgs]) time.Duration { return mailTimeout }

// Work sends the message, then records the delivery at once in its own
// transaction. River would record it too, but asynchronously, in
// batches: a node that stopped before that flush would send the message
// again once the job is rescued. What remains is the moment between the
// mail server's "250 OK" and that commit, which no SMTP client can close;
// a message sent again then carries the same Message-ID (the job's ID), by
// which mail readers recognize it.
func (w *MailWorker) Work(ctx context.Context, job *river.Job[MailArgs]) error {
	a := job.Args
	err := w.sender.Send(ctx, mail.Message{To: a.To, Subject: a.Subject, Text: a.Text, HTML: a.HTML, ID: a.ID})
	if errors.Is(err, mail.ErrInvalidMessage) {
		w.logger.ErrorContext(ctx, "mail refused, not retried", "job_id", job.ID, "message_id", a.ID, "error", err)
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("outbox: send %s: %w", a.ID, err)
	}
	if err := w.complete(ctx, job); err != nil {
		// Sent, so no retry: River's own completion follows.
		w.logger.WarnContext(ctx, "mail sent, delivery not recorded yet", "job_id", job.ID, "message_id", a.ID, "error", err)
	}
	w.logger.InfoContext(ctx, "mail delivered", "job_id", job.ID, "message_id", a.ID, "attempt", job.Attempt)
	return nil
}
