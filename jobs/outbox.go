package jobs

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
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
// The message is stored rendered, because the outbox must deliver exactly
// what the transaction promised; but sealed (AES-256-GCM, the ID as
// associated data), because it holds live activation and reset links whose
// tokens the database otherwise keeps only as hashes, and River's table is
// read by more people and tools (its UI, support queries) than ours. River
// deletes a delivered job after a day and a discarded one after a week.
type MailArgs struct {
	ID     string `json:"id" river:"unique"`
	Sealed []byte `json:"sealed"` // nonce, then the sealed sealedMail
}

// sealedMail is what MailArgs.Sealed holds.
type sealedMail struct {
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
	q    *Queue
	aead cipher.AEAD
}

// NewOutbox registers the mail worker, delivering through sender, on q
// (before q starts) and returns the outbox that feeds it. key (32 bytes)
// seals the queued messages; every node must use the same one, and a
// message sealed under a key since replaced is given up.
func NewOutbox(q *Queue, sender mail.Sender, key []byte) (*Outbox, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("outbox: key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	w := &MailWorker{sender: sender, aead: aead, complete: q.eng.completeMail, logger: q.logger}
	if err := Register(q, w); err != nil {
		return nil, err
	}
	return &Outbox{q: q, aead: aead}, nil
}

// Mail queues m under a new message ID: inside tx when tx is not nil,
// else on its own.
func (o *Outbox) Mail(ctx context.Context, tx storage.Tx, m mail.Message) error {
	plain, err := json.Marshal(sealedMail{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	id := storage.NewID()
	nonce := make([]byte, o.aead.NonceSize())
	rand.Read(nonce) // never returns an error (crypto/rand documents it)
	args := MailArgs{ID: id, Sealed: o.aead.Seal(nonce, nonce, plain, []byte(id))}
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
	aead     cipher.AEAD
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
	m, err := w.open(a)
	if err != nil {
		// Another key sealed it (or it was altered): no retry can help.
		w.logger.ErrorContext(ctx, "mail cannot be opened, not retried", "job_id", job.ID, "message_id", a.ID, "error", err)
		return river.JobCancel(err)
	}
	err = w.sender.Send(ctx, m)
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

// open unseals a queued message.
func (w *MailWorker) open(a MailArgs) (mail.Message, error) {
	n := w.aead.NonceSize()
	if len(a.Sealed) < n {
		return mail.Message{}, errors.New("outbox: sealed message too short")
	}
	plain, err := w.aead.Open(nil, a.Sealed[:n], a.Sealed[n:], []byte(a.ID))
	if err != nil {
		return mail.Message{}, fmt.Errorf("outbox: open %s: %w", a.ID, err)
	}
	var m sealedMail
	if err := json.Unmarshal(plain, &m); err != nil {
		return mail.Message{}, fmt.Errorf("outbox: decode %s: %w", a.ID, err)
	}
	return mail.Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, ID: a.ID}, nil
}
