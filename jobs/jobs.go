// Package jobs is satupintu's durable job queue: work that must happen
// even if this node stops right after the request that asked for it (a
// mail, a back-channel logout), kept in the database every node
// shares and worked by whichever node takes it first.
//
// It is a thin layer over River (riverqueue.com), which already does what
// a queue on the database needs: jobs taken by one node at a time (FOR
// UPDATE SKIP LOCKED on Postgres, the single writer on SQLite), retries
// with backoff, rescue of jobs whose node
// died, unique jobs, graceful stop, and one transactional insert on
// Postgres (pgx) and SQLite (database/sql) alike. What this package adds:
// River's schema migrations run at open, serialized across nodes; jobs can
// be enqueued inside a storage transaction (through storage.TxHook) without
// the callers naming a driver; the mail outbox (outbox.go); and the
// back-channel logout delivery (logout.go).
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"satupintu/storage"
)

// Config tunes a Queue; the zero value is production's.
type Config struct {
	Logger *slog.Logger // nil: discard
	// Workers is how many jobs this node works at once (default 4): mail
	// is I/O bound, and the SQLite backend has one write connection anyway.
	Workers int
	// RetryBase and RetryMax shape the backoff after a failed attempt:
	// RetryBase doubled per attempt up to RetryMax, ±10 % jitter so nodes
	// that failed together do not retry together. Defaults 10 s and 30 min.
	RetryBase, RetryMax time.Duration
	// MaxAttempts before a job is discarded (default 60: with the default
	// backoff about a day of trying).
	MaxAttempts int
	// PollInterval is how often a node looks for jobs (default 1 s): it
	// polls rather than listens, see riverConfig.
	PollInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 10 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 60
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	return c
}

// backoff is River's retry policy for every job: exponential with jitter,
// capped, so a mail server that is down for hours is asked every half hour
// rather than hammered or given up on in minutes.
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	d += time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d)
}

// engine is the one part of a Queue that depends on the driver's
// transaction type (pgx.Tx or *sql.Tx); backend implements it for both.
type engine interface {
	insert(ctx context.Context, tx storage.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// completeMail marks a mail job completed in its own committed
	// transaction, before the worker returns (see MailWorker.Work).
	completeMail(ctx context.Context, job *river.Job[MailArgs]) error
	counts(ctx context.Context) (map[rivertype.JobState]int, error)
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

// Queue is a node's handle on the job queue. Register workers, then Start;
// Stop before closing the store.
type Queue struct {
	eng     engine
	workers *river.Workers
	logger  *slog.Logger

	mu      sync.Mutex
	started bool
}

// ErrStarted is returned by Register after Start.
var ErrStarted = errors.New("jobs: queue already started")

// Register adds the worker for one kind of job. River reads its workers
// when it fetches a job, so all must be registered before Start.
func Register[T river.JobArgs](q *Queue, w river.Worker[T]) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return ErrStarted
	}
	if err := river.AddWorkerSafely(q.workers, w); err != nil {
		return fmt.Errorf("jobs: register: %w", err)
	}
	return nil
}

// Start begins working jobs on this node.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.eng.start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.started = true
	return nil
}

// Stop stops fetching jobs and waits, until ctx ends, for the running ones
// to finish; after that they are cancelled and River retries them later
// (on this node or another). Stopping a queue never started is a no-op.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		return nil
	}
	q.started = false
	if err := q.eng.stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// Enqueue inserts a job. With tx (from a storage.TxHook) the job is part of
// that transaction: it exists only if the transaction commits. With a nil
// tx it is inserted on its own.
func (q *Queue) Enqueue(ctx context.Context, tx storage.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.eng.insert(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// Depth is how many jobs wait in each state that matters to an operator.
type Depth struct {
	Available int // ready to run now
	Running   int
	Retryable int // failed at least once, waiting for their next attempt
	Scheduled int
	Discarded int // gave up after MaxAttempts, kept for a week for inspection
}

// Depth counts the jobs by state, for a metrics endpoint or a health page.
func (q *Queue) Depth(ctx context.Context) (Depth, error) {
	m, err := q.eng.counts(ctx)
	if err != nil {
		return Depth{}, fmt.Errorf("jobs: depth: %w", err)
	}
	return Depth{
		Available: m[rivertype.JobStateAvailable],
		Running:   m[rivertype.JobStateRunning],
		Retryable: m[rivertype.JobStateRetryable],
		Scheduled: m[rivertype.JobStateScheduled],
		Discarded: m[rivertype.JobStateDiscarded],
	}, nil
}

// riverConfig is the River client configuration shared by both backends.
func riverConfig(c Config, workers *river.Workers) *river.Config {
	return &river.Config{
		// River reports every poll and maintenance run at info; an
		// operator needs its warnings, and ours (errorLogger, Work).
		Logger:      slog.New(warnings{c.Logger.Handler()}).With("component", "river"),
		MaxAttempts: c.MaxAttempts,
		RetryPolicy: backoff{base: c.RetryBase, max: c.RetryMax},
		// River's default is an hour; a mail held that long by a node that
		// died outlives the code or link it carries. Jobs here run for
		// minutes at most (mailTimeout).
		RescueStuckJobsAfter: 10 * time.Minute,
		FetchPollInterval:    c.PollInterval,
		FetchCooldown:        min(c.PollInterval, 100*time.Millisecond),
		// No LISTEN/NOTIFY: it would hold one of the pool's few
		// connections (pgxpool's default is max(4, cores)) for good. A
		// job then waits at most PollInterval to be fetched.
		PollOnly:     true,
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.Workers}},
		Workers:      workers,
		ErrorHandler: errorLogger{c.Logger},
	}
}

// warnings passes on records at warn level and above only.
type warnings struct{ slog.Handler }

func (w warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnings) WithAttrs(as []slog.Attr) slog.Handler { return warnings{w.Handler.WithAttrs(as)} }
func (w warnings) WithGroup(name string) slog.Handler    { return warnings{w.Handler.WithGroup(name)} }

// errorLogger logs each failed attempt once, in our words and keys.
type errorLogger struct{ logger *slog.Logger }

func (e errorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	level := slog.LevelWarn
	if job.Attempt >= job.MaxAttempts {
		level = slog.LevelError // discarded: nobody will try again
	}
	e.logger.Log(ctx, level, "job failed", "job_id", job.ID, "kind", job.Kind,
		"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "error", err)
	return nil
}

func (e errorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	e.logger.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt,
		"panic", fmt.Sprint(v), "trace", trace)
	return nil
}

// backend is the engine for a River driver over transactions of type TTx.
type backend[TDriver riverdriver.Driver[TTx], TTx any] struct {
	driver TDriver
	client *river.Client[TTx]
	// begin opens a transaction on the store's database; end commits it
	// (commit true) or rolls it back.
	begin func(ctx context.Context) (TTx, error)
	end   func(ctx context.Context, tx TTx, commit bool) error
}

func (b *backend[TDriver, TTx]) insert(ctx context.Context, tx storage.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if tx == nil {
		return b.client.Insert(ctx, args, opts)
	}
	t, ok := tx.Driver().(TTx)
	if !ok {
		return nil, fmt.Errorf("transaction is a %T, this queue needs a %T", tx.Driver(), *new(TTx))
	}
	return b.client.InsertTx(ctx, t, args, opts)
}

func (b *backend[TDriver, TTx]) completeMail(ctx context.Context, job *river.Job[MailArgs]) error {
	tx, err := b.begin(ctx)
	if err != nil {
		return err
	}
	if _, err := river.JobCompleteTx[TDriver](ctx, tx, job); err != nil {
		return errors.Join(err, b.end(ctx, tx, false))
	}
	return b.end(ctx, tx, true)
}

func (b *backend[TDriver, TTx]) counts(ctx context.Context) (map[rivertype.JobState]int, error) {
	return b.driver.GetExecutor().JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
}

func (b *backend[TDriver, TTx]) start(ctx context.Context) error { return b.client.Start(ctx) }

// stop waits for running jobs until ctx ends, then cancels them (River
// retries them later) and waits a little more for them to return, so the
// store is not closed under a running job.
func (b *backend[TDriver, TTx]) stop(ctx context.Context) error {
	err := b.client.Stop(ctx)
	if ctx.Err() == nil {
		return err
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, b.client.StopAndCancel(hard))
}
