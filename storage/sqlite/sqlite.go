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

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"satupintu/storage"
	"satupintu/storage/sqlstore"
)

// Store is the SQLite durable store.
type Store struct {
	*sqlstore.Store
}

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
	}
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

	s := &Store{sqlstore.New(&db{write: write, read: read}, dialect())}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// db adapts database/sql to sqlstore.DB, sending writes and transactions to
// the single write connection and plain reads to the read pool.
type db struct {
	write, read *sql.DB
}

func (d *db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return execOn(ctx, d.write, query, args)
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.read.QueryContext(ctx, query, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.read.QueryRowContext(ctx, query, args...)
}

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE via _txlock
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit; covers a panicking fn
	if err := fn(txQuerier{tx}); err != nil {
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
	return errors.Join(d.read.Close(), d.write.Close())
}

type txQuerier struct{ tx *sql.Tx }

func (q txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return execOn(ctx, q.tx, query, args)
}

func (q txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.tx.QueryRowContext(ctx, query, args...)
}

func execOn(ctx context.Context, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args []any) (int64, error) {
	res, err := e.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
