package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migrations are forward-only and numbered: 0001_initial.sql, 0002_….sql.
// Never edit one that has landed; a database that ran it will not run it
// again.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// auditChainMigration adds the audit chain (0018_audit_chain.sql).
const auditChainMigration = 18

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations in order, with the dialect's
// type names substituted.
func (s *Store) migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	types := strings.NewReplacer("{{BLOB}}", s.d.Blob, "{{IDENTITY}}", s.d.Identity)
	var out []migration
	for _, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		if len(out) > 0 && version <= out[len(out)-1].version {
			return nil, fmt.Errorf("migration %s: version %d is not above the previous one", base, version)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		text := types.Replace(string(b))
		if strings.Contains(text, "{{") {
			return nil, fmt.Errorf("migration %s: unknown {{…}} type name", base)
		}
		out = append(out, migration{version: version, name: base, sql: text})
	}
	return out, nil
}

// Migrate applies every embedded migration the database has not seen yet,
// each in its own transaction together with its schema_migrations row, so a
// failed migration leaves nothing behind. Several processes may call it at
// once: each transaction first takes the migration lock and then checks
// again whether the migration is still to do.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", s.d.Name, err)
	}
	for _, m := range ms {
		err := s.db.InTx(ctx, func(q Querier) error {
			if s.d.LockMigrations != "" {
				if _, err := q.Exec(ctx, s.d.LockMigrations); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    BIGINT PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at BIGINT NOT NULL
			)`); err != nil {
				return err
			}
			var newest int64
			if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
				return err
			}
			if latest := ms[len(ms)-1].version; newest > latest {
				// Running old code on a newer schema could silently lose
				// data in columns it does not know.
				return fmt.Errorf("database schema version %d is newer than this program's %d", newest, latest)
			}
			var n int64
			if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for i, stmt := range statements(m.sql) {
				if _, err := q.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s statement %d: %w", m.name, i+1, err)
				}
			}
			if m.version == auditChainMigration {
				// Chain the events stored before, so verification covers them.
				if err := s.chainAudit(ctx, q, auditHead{}); err != nil {
					return fmt.Errorf("%s: chain stored audit events: %w", m.name, err)
				}
			}
			_, err := q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", s.d.Name, err)
		}
	}
	return nil
}

// statements splits a migration into its statements, one Exec each:
// Postgres's extended protocol (pgx's default) takes a single statement per
// call. Migrations therefore end every statement with ';' at the end of a
// line and put no such line inside a statement; "--" comment lines are
// dropped.
func statements(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			if stmt := strings.TrimSpace(cur.String()); stmt != ";" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest) // a last statement without ';'
	}
	return out
}
