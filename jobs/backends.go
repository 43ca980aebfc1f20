package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrationLockKey serializes River's migrations across nodes on Postgres
// ("sp river" in ASCII); it differs from sqlstore's lock only so the two
// never wait for each other needlessly.
const migrationLockKey int64 = 0x7370207269766572

// OpenPostgres applies River's migrations to the database of pool (under an
// advisory lock, so several nodes may start at once) and returns a queue on
// it. pool is the durable store's: jobs enqueued in its transactions share
// them. Use the search_path of pool's connections for River's tables.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, c Config) (*Queue, error) {
	c = c.withDefaults()
	driver := riverpgxv5.New(pool)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: postgres: migrate: %w", err)
	}
	if err := migratePostgres(ctx, pool, m); err != nil {
		return nil, fmt.Errorf("jobs: postgres: migrate: %w", err)
	}
	workers := river.NewWorkers()
	client, err := river.NewClient(driver, riverConfig(c, workers))
	if err != nil {
		return nil, fmt.Errorf("jobs: postgres: %w", err)
	}
	return &Queue{
		eng: &backend[*riverpgxv5.Driver, pgx.Tx]{
			driver: driver, client: client,
			begin: func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
			end: func(ctx context.Context, tx pgx.Tx, commit bool) error {
				if commit {
					return tx.Commit(ctx)
				}
				return tx.Rollback(ctx)
			},
		},
		workers: workers, logger: c.Logger,
	}, nil
}

// migratePostgres runs River's migrations while holding a session advisory
// lock on one connection of pool. Not one transaction, as sqlstore's are:
// some of River's migrations add an enum value that a later one uses, which
// Postgres allows only after a commit. A node that starts meanwhile waits
// for the lock and then finds nothing left to do.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, m *rivermigrate.Migrator[pgx.Tx]) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		// Dropping the connection releases the lock too, should this fail.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// OpenSQLite applies River's migrations to the SQLite database db and
// returns a queue on it. db must be the durable store's write handle (one
// connection, BEGIN IMMEDIATE): River then queues behind the store's
// writers in this process instead of meeting SQLITE_BUSY, and its
// migration transaction holds the write lock against other processes.
func OpenSQLite(ctx context.Context, db *sql.DB, c Config) (*Queue, error) {
	c = c.withDefaults()
	driver := riversqlite.New(db)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: sqlite: migrate: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("jobs: sqlite: migrate: %w", err)
	}
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("jobs: sqlite: migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("jobs: sqlite: migrate: %w", err)
	}
	workers := river.NewWorkers()
	client, err := river.NewClient(driver, riverConfig(c, workers))
	if err != nil {
		return nil, fmt.Errorf("jobs: sqlite: %w", err)
	}
	return &Queue{
		eng: &backend[*riversqlite.Driver, *sql.Tx]{
			driver: driver, client: client,
			begin: func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
			end: func(_ context.Context, tx *sql.Tx, commit bool) error {
				if commit {
					return tx.Commit()
				}
				return tx.Rollback()
			},
		},
		workers: workers, logger: c.Logger,
	}, nil
}

// Open opens the queue on a durable store's own database: a store that
// exposes its pgx pool (storage/postgres) or its SQLite write handle
// (storage/sqlite). Jobs must live in the store's database, or they could
// not be inserted in its transactions.
func Open(ctx context.Context, store any, c Config) (*Queue, error) {
	switch s := store.(type) {
	case interface{ Pool() *pgxpool.Pool }:
		return OpenPostgres(ctx, s.Pool(), c)
	case interface{ WriteDB() *sql.DB }:
		return OpenSQLite(ctx, s.WriteDB(), c)
	}
	return nil, fmt.Errorf("jobs: a %T exposes neither a Postgres pool nor an SQLite handle", store)
}
