package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"satupintu/storage"
)

const refreshColumns = `id, family_id, client_id, user_id, scopes, audience, amr,
	auth_time, created_at, expires_at, used_at`

func scanRefresh(r scanner) (storage.RefreshToken, error) {
	var (
		t                                storage.RefreshToken
		scopes, audience, amr            string
		authTime, created, expires, used int64
	)
	err := r.Scan(&t.ID, &t.FamilyID, &t.ClientID, &t.UserID, &scopes, &audience, &amr,
		&authTime, &created, &expires, &used)
	if err != nil {
		return storage.RefreshToken{}, err
	}
	for _, l := range []struct {
		text string
		dst  *[]string
	}{{scopes, &t.Scopes}, {audience, &t.Audience}, {amr, &t.AMR}} {
		if err := parseList(l.text, l.dst); err != nil {
			return storage.RefreshToken{}, err
		}
	}
	t.AuthTime, t.CreatedAt = fromMicros(authTime), fromMicros(created)
	t.ExpiresAt, t.UsedAt = fromMicros(expires), fromMicros(used)
	return t, nil
}

const insertRefresh = `INSERT INTO refresh_tokens (` + refreshColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func refreshArgs(t storage.RefreshToken) []any {
	return []any{t.ID, t.FamilyID, t.ClientID, t.UserID, list(t.Scopes), list(t.Audience), list(t.AMR),
		micros(t.AuthTime), micros(t.CreatedAt), micros(t.ExpiresAt), micros(t.UsedAt)}
}

// CreateRefreshToken stores a new refresh token.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	_, err := s.db.Exec(ctx, insertRefresh, refreshArgs(t)...)
	return s.wrap("create refresh token", err)
}

// RefreshTokenByID returns the refresh token with id (the token's hash).
func (s *Store) RefreshTokenByID(ctx context.Context, id string) (storage.RefreshToken, error) {
	t, err := scanRefresh(s.db.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE id = $1`, id))
	return t, s.wrap("get refresh token", err)
}

// RotateRefreshToken marks oldID used and stores next in one transaction.
// The conditional UPDATE is what makes rotation single-use: of two
// concurrent rotations only one finds used_at = 0 (on Postgres the second
// waits for the first's row lock and then re-checks the condition).
func (s *Store) RotateRefreshToken(ctx context.Context, oldID string, next storage.RefreshToken) error {
	if next.CreatedAt.IsZero() {
		// used_at = 0 means unused: a zero time would leave oldID reusable.
		return fmt.Errorf("%s: rotate refresh token: next.CreatedAt is not set", s.d.Name)
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at = 0`,
			micros(next.CreatedAt), oldID)
		if err != nil {
			return err
		}
		if n == 0 {
			var used int64
			if err := q.QueryRow(ctx, `SELECT used_at FROM refresh_tokens WHERE id = $1`, oldID).Scan(&used); err != nil {
				return err // no rows: ErrNotFound
			}
			return storage.ErrConflict
		}
		_, err = q.Exec(ctx, insertRefresh, refreshArgs(next)...)
		return err
	})
	return s.wrap("rotate refresh token", err)
}

// RevokeRefreshTokenFamily deletes every token of the family.
func (s *Store) RevokeRefreshTokenFamily(ctx context.Context, familyID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM refresh_tokens WHERE family_id = $1`, familyID)
	return s.wrap("revoke refresh token family", err)
}

// RevokeUserRefreshTokens deletes every token of the user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM refresh_tokens WHERE user_id = $1`, userID)
	return s.wrap("revoke refresh tokens of user "+userID, err)
}

// Secret returns the secret called name, creating it with gen on first use.
// gen runs outside any transaction (it may be slow); if two processes race,
// INSERT … ON CONFLICT DO NOTHING keeps the first value and both read it back.
func (s *Store) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	op := "secret " + name
	var v []byte
	err := s.db.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !s.d.IsNoRows(err) {
		return nil, s.wrap(op, err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(fresh) == 0 {
		return nil, s.wrap(op, errors.New("generator returned an empty secret"))
	}
	err = s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, fresh, time.Now().UnixMicro()); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return v, nil
}

// AppendAudit appends e; the store assigns e.ID.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	detail := "{}"
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return s.wrap("append audit event", err)
		}
		detail = string(b)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit_events (occurred_at, action, actor_id, subject, client_id, ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		micros(e.Time), e.Action, e.ActorID, e.Subject, e.ClientID, e.IP, detail)
	return s.wrap("append audit event", err)
}

// ListAudit returns up to limit events with ID < before (0: from the
// newest), newest first.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.db.Query(ctx, `SELECT id, occurred_at, action, actor_id, subject, client_id, ip, detail
		FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, int64(limit))
	es, err := collect(rows, err, func(r scanner) (storage.AuditEvent, error) {
		var (
			e      storage.AuditEvent
			at     int64
			detail string
		)
		if err := r.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.Subject, &e.ClientID, &e.IP, &detail); err != nil {
			return storage.AuditEvent{}, err
		}
		e.Time = fromMicros(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return storage.AuditEvent{}, fmt.Errorf("decode detail: %w", err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		return e, nil
	})
	return es, s.wrap("list audit events", err)
}
