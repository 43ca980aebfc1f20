// Package sqlstore implements storage.Durable once, in SQL that both SQLite
// and Postgres accept, so the two SQL backends never carry two copies of a
// query. A backend (storage/sqlite, storage/postgres) is a thin adapter: it
// opens the database, implements DB over its driver and supplies a Dialect,
// which names the few places where the databases really differ.
//
// Placeholders are written $1, $2, … everywhere: Postgres requires them and
// modernc.org/sqlite binds $N to the N-th argument, so no rewriting is needed.
package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"satupintu/storage"
)

// Row is a single-row query result (*sql.Row and pgx.Row both fit).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a multi-row query result (*sql.Rows fits; pgx needs a one-line
// wrapper because its Close returns nothing).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Querier runs statements, inside or outside a transaction.
type Querier interface {
	// Exec runs a statement and reports the number of rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Query and QueryRow outside a transaction may run on a read-only
	// connection: use them for SELECT only.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// DB is what the adapter provides.
type DB interface {
	Querier
	// InTx runs fn in a read-write transaction and commits if fn returns
	// nil; otherwise it rolls back and returns fn's error unchanged. The
	// transaction must serialize read-modify-write with other writers:
	// SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE), Postgres
	// relies on the row locks of Dialect.ForUpdate. fn must not use the DB
	// itself (an SQLite adapter may have a single write connection).
	InTx(ctx context.Context, fn func(Querier) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Dialect holds everything that differs between the SQL backends. Keep it
// small: a new field needs a reason no portable SQL can avoid.
type Dialect struct {
	// Name prefixes error messages ("sqlite: get user …").
	Name string
	// Blob and Identity replace {{BLOB}} and {{IDENTITY}} in migrations:
	// the byte-string column type ("BLOB", "BYTEA") and an auto-increasing
	// int64 primary key ("INTEGER PRIMARY KEY AUTOINCREMENT",
	// "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY").
	Blob     string
	Identity string
	// ForUpdate is appended to the SELECT of a read-modify-write (" FOR
	// UPDATE" on Postgres; empty on SQLite, whose transactions already hold
	// the database write lock and which has no such clause).
	ForUpdate string
	// LockMigrations, if not empty, runs first in every migration
	// transaction to serialize nodes migrating at once (Postgres:
	// pg_advisory_xact_lock). SQLite's BEGIN IMMEDIATE already does.
	LockMigrations string
	// PinQueueIndex makes the officer queue name the index of a lone status
	// or trader-type filter (listRegistrationsQuery). Postgres needs it:
	// with "status = $1" a generic plan guesses the value's share at
	// 1/ndistinct and reads the time index backward, filtering, which took
	// 315 ms at a million registrations for a value rare among the recent
	// ones. SQLite seeks the column's index by itself, and the range form
	// would stop it seeking on the time column after it.
	PinQueueIndex bool
	// IsNoRows reports the driver's "no rows" error (sql.ErrNoRows,
	// pgx.ErrNoRows).
	IsNoRows func(error) bool
	// IsUniqueViolation reports a unique or primary key violation
	// (SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, SQLSTATE 23505).
	IsUniqueViolation func(error) bool
	// IsUnavailable reports an error about the database rather than the
	// data: unreachable, timed out, busy, out of disk, refusing writes.
	// Such errors become storage.ErrUnavailable. Nil: none are.
	IsUnavailable func(error) bool
}

// Store implements storage.Durable over a DB. It holds no state besides its
// handle (and the refresh tokens being written this moment), so any number
// of processes may share one database.
type Store struct {
	db DB
	d  Dialect
	// onAudit sees the action of every audit event stored (metrics).
	onAudit atomic.Pointer[func(action string)]
	// onChange hear of committed writes to what a node caches.
	onChange atomic.Pointer[[]func(ctx context.Context, owners []string)]
	// refresh queues concurrent CreateRefreshToken calls (groupcommit.go).
	refresh refreshBatcher
}

// OnChange makes fn hear of every committed write that changes a user (the
// owner "u:<id>": the account, its memberships and chosen organizations)
// or an organization ("o:<id>"), or a client ("c:<id>": the provider's
// client cache), so caches can drop what they hold. It
// runs after the commit, on the writer's goroutine. Each call adds a
// listener (two servers on one store each keep their cache right).
func (s *Store) OnChange(fn func(ctx context.Context, owners []string)) {
	for {
		old := s.onChange.Load()
		var next []func(context.Context, []string)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if s.onChange.CompareAndSwap(old, &next) {
			return
		}
	}
}

// changed reports owners to OnChange when err is nil (the write committed).
func (s *Store) changed(ctx context.Context, err error, owners ...string) {
	if err != nil {
		return
	}
	if fns := s.onChange.Load(); fns != nil {
		for _, fn := range *fns {
			fn(ctx, owners)
		}
	}
}

// UserOwner and OrganizationOwner name what OnChange reports.
func UserOwner(id string) string         { return "u:" + id }
func OrganizationOwner(id string) string { return "o:" + id }

// ClientOwner names a client in what OnChange reports.
func ClientOwner(id string) string { return "c:" + id }

// ObserveAudit makes fn see the action of every audit event stored; it
// runs after the insert, on the caller's goroutine, and must be quick.
func (s *Store) ObserveAudit(fn func(action string)) { s.onAudit.Store(&fn) }

var _ storage.Durable = (*Store)(nil)

// New returns a Store. Call Migrate before using it.
func New(db DB, d Dialect) *Store {
	s := &Store{d: d}
	s.db = auditDB{DB: db, s: s}
	return s
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap("ping", s.db.Ping(ctx))
}

// Close closes the database handle.
func (s *Store) Close() error {
	return s.db.Close()
}

// wrap adds context to err and maps driver errors to the storage sentinels,
// so callers can use errors.Is whichever backend they run on.
func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, storage.ErrConflict),
		errors.Is(err, storage.ErrUnavailable):
		return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
	case s.d.IsUnavailable != nil && s.d.IsUnavailable(err):
		// The driver's error stays in the chain: the log needs it.
		return fmt.Errorf("%s: %s: %w: %w", s.d.Name, op, storage.ErrUnavailable, err)
	case s.d.IsNoRows(err):
		return fmt.Errorf("%s: %s: %w", s.d.Name, op, storage.ErrNotFound)
	case s.d.IsUniqueViolation(err):
		// Keep the driver's text: it names the constraint that failed.
		return fmt.Errorf("%s: %s: %w (%v)", s.d.Name, op, storage.ErrAlreadyExists, err)
	}
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// micros stores a time as unix microseconds. The zero time is 0, so "never"
// and "not yet" survive the round trip.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros; times come back in UTC.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// list encodes a string slice as JSON text; nil and empty both become "[]".
func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}

// parseList decodes list's output; empty lists come back nil.
func parseList(s string, dst *[]string) error {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Errorf("decode list: %w", err)
	}
	if len(v) == 0 {
		v = nil
	}
	*dst = v
	return nil
}

// blob returns b for a NOT NULL byte column: drivers send a nil slice as
// NULL, so nil becomes an empty, non-nil slice.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// parseBlob is the inverse of blob: an empty value comes back nil, as
// empty lists do, whatever the driver scanned it into.
func parseBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// scanner is the Scan method shared by Row and Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect reads every row of rows with scan.
func collect[T any](rows Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// runHooks runs a change's hooks inside its transaction q. The adapters'
// transaction Queriers implement storage.Tx; one that does not cannot run
// hooks, and a change asked to is refused rather than committed without
// what the hooks would have written.
func (s *Store) runHooks(ctx context.Context, q Querier, hooks []storage.TxHook) error {
	if len(hooks) == 0 {
		return nil
	}
	tx, ok := q.(storage.Tx)
	if !ok {
		return fmt.Errorf("transaction hooks: %T does not expose its driver transaction", q)
	}
	for _, h := range hooks {
		if err := h(ctx, tx); err != nil {
			return fmt.Errorf("transaction hook: %w", err)
		}
	}
	return nil
}
