package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"satupintu/storage"
)

const refreshColumns = `id, family_id, client_id, user_id, scopes, audience, amr,
	auth_time, created_at, expires_at, used_at, dpop_jkt`

func scanRefresh(r scanner) (storage.RefreshToken, error) {
	var (
		t                                storage.RefreshToken
		scopes, audience, amr            string
		authTime, created, expires, used int64
	)
	err := r.Scan(&t.ID, &t.FamilyID, &t.ClientID, &t.UserID, &scopes, &audience, &amr,
		&authTime, &created, &expires, &used, &t.JKT)
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
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func refreshArgs(t storage.RefreshToken) []any {
	return []any{t.ID, t.FamilyID, t.ClientID, t.UserID, list(t.Scopes), list(t.Audience), list(t.AMR),
		micros(t.AuthTime), micros(t.CreatedAt), micros(t.ExpiresAt), micros(t.UsedAt), t.JKT}
}

// CreateRefreshToken is in groupcommit.go.

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
// UserRefreshTokens reads the user's live grants (refresh_tokens_user).
func (s *Store) UserRefreshTokens(ctx context.Context, userID string, now time.Time) ([]storage.RefreshToken, error) {
	rows, err := s.db.Query(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens
		WHERE user_id = $1 AND used_at = 0 AND expires_at > $2 ORDER BY created_at, id`, userID, micros(now))
	ts, err := collect(rows, err, scanRefresh)
	return ts, s.wrap("list refresh tokens of user "+userID, err)
}

// RevokeUserClientRefreshTokens deletes the user's tokens of clientID, used
// or not (a used one is history a replay could still trip over).
func (s *Store) RevokeUserClientRefreshTokens(ctx context.Context, userID, clientID string) ([]string, error) {
	var families []string
	err := s.db.InTx(ctx, func(q Querier) error {
		rows, err := q.Query(ctx, `SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = $1 AND client_id = $2`, userID, clientID)
		families, err = collect(rows, err, func(r scanner) (string, error) {
			var f string
			return f, r.Scan(&f)
		})
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `DELETE FROM refresh_tokens WHERE user_id = $1 AND client_id = $2`, userID, clientID)
		return err
	})
	return families, s.wrap("revoke refresh tokens of user "+userID+" for "+clientID, err)
}

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

// auditDetail is d with storable keys and values, at most
// storage.MaxAuditDetail of them (the first by key).
func auditDetail(d map[string]string) map[string]string {
	keys := slices.Sorted(maps.Keys(d))
	out := make(map[string]string, min(len(keys), storage.MaxAuditDetail))
	for _, k := range keys[:min(len(keys), storage.MaxAuditDetail)] {
		out[auditText(k)] = auditText(d[k])
	}
	return out
}

// auditText returns s as the audit log stores it: invalid UTF-8 bytes as
// \xHH, control characters (NUL included) and the characters that reorder
// or break lines on display (bidi controls, U+2028/9) as \uHHHH, then cut
// on a character boundary to storage.MaxAuditField bytes, ending in "…"
// when cut. A backslash stays as it is: an escape reads the same as those
// characters typed, which the log tolerates; losing the event it does not.
func auditText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || auditEscaped(r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= storage.MaxAuditField {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case auditEscaped(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
		if b.Len() > storage.MaxAuditField {
			break
		}
	}
	out := b.String()
	if len(out) <= storage.MaxAuditField {
		return out
	}
	const ellipsis = "…"
	cut := storage.MaxAuditField - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis
}

// auditEscaped reports whether r is stored as an escape: C0 and C1
// controls and DEL, the line and paragraph separators, and the bidi marks,
// embeddings, overrides and isolates (Trojan Source, CVE-2021-42574).
func auditEscaped(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u200e', r == '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
