package sqlite

import (
	"context"
	"fmt"
	"strings"

	"satupintu/storage/sqlstore"
)

var _ sqlstore.BulkLoader = (*Store)(nil)

const (
	// bulkRowsPerTx rows are committed at a time: large enough that commits
	// cost little, small enough that the WAL stays small and other
	// processes get the write lock between batches.
	bulkRowsPerTx = 20_000
	// bulkParams bounds one INSERT's parameters (SQLite allows 32,766).
	bulkParams = 30_000
	// bulkRowsPerStmt bounds the rows of one multi-row INSERT: beyond a few
	// hundred, a longer statement saves nothing.
	bulkRowsPerStmt = 256
)

// BulkLoad writes n rows to table with multi-row INSERTs prepared once,
// bulkRowsPerTx rows per transaction, on the store's write connection.
func (s *Store) BulkLoad(ctx context.Context, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	per := min(bulkRowsPerStmt, bulkParams/len(columns))
	stmtFor := func(rows int) string {
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
		return `INSERT INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
	}
	for start := 0; start < n; start += bulkRowsPerTx {
		end := min(start+bulkRowsPerTx, n)
		if err := s.bulkTx(ctx, stmtFor, per, start, end, len(columns), row); err != nil {
			return fmt.Errorf("sqlite: insert into %s: %w", table, err)
		}
	}
	return nil
}

// bulkTx inserts rows [start, end) in one transaction.
func (s *Store) bulkTx(ctx context.Context, stmtFor func(rows int) string, per, start, end, width int, row func(i int) ([]any, error)) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	full, err := tx.PrepareContext(ctx, stmtFor(per))
	if err != nil {
		return err
	}
	defer full.Close()
	args := make([]any, 0, per*width)
	for i := start; i < end; i += per {
		rows := min(per, end-i)
		args = args[:0]
		for j := i; j < i+rows; j++ {
			values, err := row(j)
			if err != nil {
				return err
			}
			args = append(args, values...)
		}
		if rows == per {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, stmtFor(rows), args...)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Seed adds rows to a test database (sqlstore.Store.SeedWith, through batched
// INSERTs).
func (s *Store) Seed(ctx context.Context, cfg sqlstore.SeedConfig) (sqlstore.SeedResult, error) {
	return s.Store.SeedWith(ctx, s, cfg)
}
