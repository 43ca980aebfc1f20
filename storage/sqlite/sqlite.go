// Package sqlite is the embedded durable backend: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo), so `satupintu serve` runs with no database
// server. The queries live in storage/sqlstore, shared with Postgres; this
// package only opens the file, adapts database/sql to sqlstore.DB and names
// SQLite's dialect.
//
// The file is opened in WAL mode with a busy timeout so that a second process
// (the admin CLI) can write while the server runs: readers never block, and
// writers wait for each other instead of failing with SQLITE_BUSY.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"satupintu/storage"
	"satupintu/storage/sqlstore"
)

// Store is the SQLite durable store.
type Store struct {
	*sqlstore.Store
	write *sql.DB
}

// WriteDB is the store's single write connection, for the job queue: its
// jobs are inserted in the store's transactions, and sharing the one
// writer keeps River from meeting SQLITE_BUSY in this process.
func (s *Store) WriteDB() *sql.DB { return s.write }

var _ storage.Durable = (*Store)(nil)

// dialect is SQLite's side of the differences sqlstore knows about.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name: "sqlite",
		Blob: "BLOB",
		// AUTOINCREMENT: ids are never reused even after old rows are purged,
		// so an audit paging cursor never skips or repeats events.
		Identity:  "INTEGER PRIMARY KEY AUTOINCREMENT",
		ForUpdate: "", // BEGIN IMMEDIATE already holds the write lock
		IsNoRows:  func(err error) bool { return errors.Is(err, sql.ErrNoRows) },
		IsUniqueViolation: func(err error) bool {
			var e *sqlite.Error
			if !errors.As(err, &e) {
				return false
			}
			return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		},
		IsUnavailable: unavailable,
	}
}

// unavailable reports an error about the database file rather than the
// data: another process held the write lock past the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED), the disk is full or failing (SQLITE_FULL,
// SQLITE_IOERR), memory ran out, or the request's deadline passed while it
// waited. Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, …)
// carry their primary code in the low byte.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}

// busyTimeoutMillis is how long a writer waits for another process's write
// transaction before giving up. Admin CLI writes are short; five seconds
// covers a slow disk without hanging a request forever.
const busyTimeoutMillis = 5000

// Open opens (creating if needed) the database at path, creating parent
// directories, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		// The driver reads '?' as the start of DSN options.
		return nil, fmt.Errorf("sqlite: open %s: path must not contain '?' or '#' or start with file:", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	opts := url.Values{}
	opts.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	opts.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is safe from corruption in WAL mode; a power loss may drop the
	// last commits, never tear one. FULL would fsync on every commit.
	opts.Add("_pragma", "synchronous(NORMAL)")
	opts.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE: a transaction takes the write lock at its start, so
	// read-modify-write transactions queue behind each other (waiting up to
	// the busy timeout) instead of deadlocking on a read-to-write upgrade.
	opts.Set("_txlock", "immediate")

	// All writes go through one connection: writers in this process queue in
	// database/sql's pool rather than in SQLite's sleeping busy handler, and
	// only other processes ever meet SQLITE_BUSY.
	write, err := sql.Open("sqlite", path+"?"+opts.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)

	// Reads use a pool of read-only connections; in WAL mode they run
	// concurrently with the writer.
	opts.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", path+"?"+opts.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))

	s := &Store{Store: sqlstore.New(&db{write: write, read: read, writeStmts: stmtCache{db: write}, readStmts: stmtCache{db: read}}, dialect()), write: write}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// db adapts database/sql to sqlstore.DB, sending writes and transactions to
// the single write connection and plain reads to the read pool.
type db struct {
	write, read           *sql.DB
	writeStmts, readStmts stmtCache
}

// stmtCache keeps prepared statements: parsing SQL was ~7% of the CPU of a
// whole code flow, and the query texts are a small fixed set.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.m.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (c *stmtCache) close() {
	c.m.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
}

// errRow reports a preparation error from Scan, as *sql.Row does.
type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

func (d *db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := d.writeStmts.get(ctx, query)
	if err != nil {
		return 0, err
	}
	return execOn(ctx, st, args)
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st, err := d.readStmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	st, err := d.readStmts.get(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE via _txlock
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit; covers a panicking fn
	if err := fn(txQuerier{tx, &d.writeStmts}); err != nil {
		return err
	}
	return tx.Commit()
}

func (d *db) Ping(ctx context.Context) error {
	if err := d.write.PingContext(ctx); err != nil {
		return err
	}
	return d.read.PingContext(ctx)
}

func (d *db) Close() error {
	d.readStmts.close()
	d.writeStmts.close()
	return errors.Join(d.read.Close(), d.write.Close())
}

// txQuerier runs the write connection's cached statements inside tx.
type txQuerier struct {
	tx    *sql.Tx
	stmts *stmtCache
}

// stmt uses a cached statement when there is one. It never prepares
// through the pool: the tx holds the only write connection, so that
// would wait forever; a statement first seen in a tx is prepared on it.
func (q txQuerier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := q.stmts.m.Load(query); ok {
		return q.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	return q.tx.PrepareContext(ctx, query)
}

func (q txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	return execOn(ctx, st, args)
}

func (q txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (q txQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// Driver exposes the transaction to storage.TxHook (the job queue inserts
// its jobs in it).
func (q txQuerier) Driver() any { return q.tx }

func execOn(ctx context.Context, st *sql.Stmt, args []any) (int64, error) {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
