package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"satupintu/storage/sqlstore"
)

var _ sqlstore.BulkLoader = (*Store)(nil)

// BulkLoad writes n rows to table with one COPY (the fastest way into
// Postgres), then ANALYZEs it so the planner sees the new size at once
// instead of whenever autovacuum gets to it.
func (s *Store) BulkLoad(ctx context.Context, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	if n <= 0 {
		return nil
	}
	src := pgx.CopyFromSlice(n, row)
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
		return fmt.Errorf("postgres: copy into %s: %w", table, err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE "+pgx.Identifier{table}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: analyze %s: %w", table, err)
	}
	return nil
}

// Seed adds rows to a test database (sqlstore.Store.SeedWith, through COPY).
func (s *Store) Seed(ctx context.Context, cfg sqlstore.SeedConfig) (sqlstore.SeedResult, error) {
	return s.Store.SeedWith(ctx, s, cfg)
}
