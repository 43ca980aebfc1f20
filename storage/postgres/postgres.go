// Package postgres is the production durable backend: every node of a
// satupintu cluster shares one Postgres database. The queries live in
// storage/sqlstore, shared with SQLite; this package only opens a pgxpool,
// adapts it to sqlstore.DB and names Postgres's dialect.
//
// Read-modify-write runs at READ COMMITTED: sqlstore locks the row it is
// about to change (SELECT … FOR UPDATE) or changes it with a conditional
// UPDATE, and both re-check the latest committed row after waiting for a
// concurrent writer, so no update is lost without paying for SERIALIZABLE
// retries.
//
// A database outage must cost requests, not the process: connecting times out
// after a few seconds instead of hanging, errors carry their context and are
// never mistaken for storage.ErrNotFound, and a connection found dead drops
// the whole pool so the next request dials a fresh one.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"satupintu/storage"
	"satupintu/storage/sqlstore"
)

// Store is the Postgres durable store.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

// Pool is the store's connection pool, for the job queue, whose jobs are
// inserted in the store's transactions and must live in the same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

var _ storage.Durable = (*Store)(nil)

// migrationLockKey names the advisory lock that serializes migrations
// across nodes: "satupint" in ASCII. Any fixed value works as long as no
// other application sharing the database uses it. Advisory locks are per
// database, not per schema, so installations in two schemas of one database
// merely take turns migrating.
const migrationLockKey int64 = 0x7361747570696e74

// SQLSTATEs (Postgres manual, appendix A).
const (
	uniqueViolation = "23505"
	// characterNotInRepertoire is what Postgres answers to a text
	// parameter holding NUL or invalid UTF-8, which TEXT cannot store.
	characterNotInRepertoire = "22021"
	// readOnlyTransaction: a write on a standby, or with
	// default_transaction_read_only on.
	readOnlyTransaction = "25006"
)

// dialect is Postgres's side of the differences sqlstore knows about.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:           "postgres",
		Blob:           "BYTEA",
		Identity:       "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		ForUpdate:      " FOR UPDATE",
		LockMigrations: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
		PinQueueIndex:  true,
		IsNoRows:       func(err error) bool { return errors.Is(err, pgx.ErrNoRows) },
		IsUniqueViolation: func(err error) bool {
			return sqlState(err) == uniqueViolation
		},
		IsUnavailable: unavailable,
	}
}

// unavailable reports an error about the database rather than the data, so
// that callers answer 503 and a relying party keeps its refresh token: the
// connection failed (refused, reset, timed out, closed under us), or the
// server cannot serve or refuses writes right now (SQLSTATE classes 08
// connection exception, 53 insufficient resources such as a full disk or
// too many connections, 58 system error such as an I/O error; 57P01–57P03
// shutting down or starting; 25006 a read-only transaction, as on a standby
// after failover or with default_transaction_read_only). Errors from
// acquiring a connection are marked in acquire.
func unavailable(err error) bool {
	if code := sqlState(err); code != "" {
		switch {
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "58"),
			code == "57P01", code == "57P02", code == "57P03", code == readOnlyTransaction:
			return true
		}
		return false // the server answered about this statement
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// connectTimeout bounds dialing plus the startup handshake when the URL sets
// no connect_timeout. Without it pgxpool waits up to two minutes, and every
// request would hang that long while the database is unreachable.
const connectTimeout = 5 * time.Second

// config parses url (a postgres:// URL or a key=value DSN; pool_* settings
// such as pool_max_conns are honoured) and applies our defaults.
func config(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url) // its errors redact the password
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	return cfg, nil
}

// Option configures Open.
type Option func(*pgxpool.Config)

// WithTracer sets the pool's query tracer, for tracing or for counting
// statements (the round-trip budget tests). A tracer that also implements
// pgx.BatchTracer or pgx.ConnectTracer sees those too.
func WithTracer(t pgx.QueryTracer) Option {
	return func(c *pgxpool.Config) { c.ConnConfig.Tracer = t }
}

// Open connects to the database at url and applies pending migrations; it
// fails if the database is unreachable. Several nodes may open (and so
// migrate) one database at once. pgx settings in url apply: for example
// pool_max_conns, or default_query_exec_mode=exec behind a PgBouncer in
// transaction mode, which cannot keep pgx's prepared statements.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := config(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg) // dials lazily
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	d := &db{pool: pool}
	// Ping first so an unreachable server is reported as such, naming
	// where we tried (never the URL: it may hold a password).
	if err := d.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	s := &Store{Store: sqlstore.New(d, dialect()), pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// db adapts a pgxpool to sqlstore.DB. It acquires connections itself, rather
// than using the pool's Exec and Query, to see whether a connection died.
type db struct {
	pool *pgxpool.Pool
}

// acquire takes a connection from the pool. Failing to get one (refused,
// timed out, the handshake failed, the pool closed) is about the database,
// never the data, so it is storage.ErrUnavailable; only a request that was
// itself cancelled is left as it is.
func (d *db) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return c, err
}

// release returns c to the pool. If c died while ctx was still live, the
// server most likely restarted or failed over, and every idle connection is
// as dead as this one. pgxpool only pings connections idle for over a
// second, so under load each of them would fail a request in turn; Reset
// drops them all and the next request dials afresh. A cancelled ctx also
// closes the connection (pgx cannot otherwise interrupt a query), but that
// says nothing about the others, so it does not count.
func (d *db) release(ctx context.Context, c *pgxpool.Conn) {
	if c.Conn().IsClosed() && ctx.Err() == nil {
		d.pool.Reset()
	}
	c.Release() // destroys c if it is closed or mid-transaction
}

func (d *db) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := d.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer d.release(ctx, c)
	tag, err := c.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (d *db) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	c, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.Query(ctx, sql, args...)
	if err != nil {
		r.Close() // pgx returns closable rows with its errors
		d.release(ctx, c)
		return nil, err
	}
	// The connection is busy until the rows are closed.
	return &rows{Rows: r, done: func() { d.release(ctx, c) }}, nil
}

func (d *db) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return rowFunc(func(dest ...any) error {
		c, err := d.acquire(ctx)
		if err != nil {
			return err
		}
		defer d.release(ctx, c)
		return lookup(c.QueryRow(ctx, sql, args...).Scan(dest...), args)
	})
}

// lookup makes a read whose text argument Postgres refuses to store (NUL,
// invalid UTF-8) find no row, which is the truth: no stored value can equal
// it. Such strings come straight from requests (a login name, a client_id),
// and SQLite finds no row either; without this they would be internal errors
// on Postgres only. Only reads outside a transaction are mapped: inside one
// the failed statement has aborted the transaction.
func lookup(err error, args []any) error {
	if sqlState(err) != characterNotInRepertoire {
		return err
	}
	for _, a := range args {
		if s, ok := a.(string); ok && !storable(s) {
			return pgx.ErrNoRows
		}
	}
	return err
}

// storable reports whether Postgres's TEXT can hold s.
func storable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := range len(s) {
		if s[i] == 0 {
			return false
		}
	}
	return true
}

// InTx runs fn in a READ COMMITTED transaction (see the package comment for
// why that suffices) on one connection.
func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	c, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(ctx, c)
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	// A no-op after Commit; after an error or a panic in fn it rolls back.
	// Should the rollback fail, pgx closes the connection and release
	// discards it, so no half-finished transaction returns to the pool.
	defer tx.Rollback(ctx)
	if err := fn(txQuerier{tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (d *db) Ping(ctx context.Context) error {
	c, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(ctx, c)
	return c.Ping(ctx)
}

// Close waits for connections in use to be released and closes them all.
func (d *db) Close() error {
	d.pool.Close()
	return nil
}

// txQuerier runs statements inside tx.
type txQuerier struct {
	tx pgx.Tx
}

func (q txQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q txQuerier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	r, err := q.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return &rows{Rows: r}, nil
}

func (q txQuerier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.tx.QueryRow(ctx, sql, args...)
}

// Driver exposes the transaction to storage.TxHook (the job queue inserts
// its jobs in it).
func (q txQuerier) Driver() any { return q.tx }

// rows adapts pgx.Rows, whose Close returns nothing, and releases the
// connection (done) once, when closed.
type rows struct {
	pgx.Rows
	done func()
}

func (r *rows) Close() error {
	r.Rows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return r.Rows.Err()
}

// rowFunc is a Row that runs its query when scanned, so the connection is
// held only for that moment.
type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }
