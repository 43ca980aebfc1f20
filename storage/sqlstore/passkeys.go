package sqlstore

import (
	"context"
	"fmt"

	"satupintu/storage"
)

const passkeyColumns = `id, user_id, credential_id, name, record, created_at, last_used_at`

func scanPasskey(r scanner) (storage.Passkey, error) {
	var (
		p             storage.Passkey
		created, used int64
	)
	if err := r.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Record, &created, &used); err != nil {
		return storage.Passkey{}, err
	}
	p.CredentialID, p.Record = parseBlob(p.CredentialID), parseBlob(p.Record)
	p.CreatedAt, p.LastUsedAt = fromMicros(created), fromMicros(used)
	return p, nil
}

// CreatePasskey stores p unless the user already has maxPerUser. The user's
// row is locked first (FOR UPDATE on Postgres, the write lock on SQLite), so
// two registrations racing for the last place are counted one after the
// other.
func (s *Store) CreatePasskey(ctx context.Context, p storage.Passkey, maxPerUser int) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var id string
		if err := q.QueryRow(ctx, `SELECT id FROM users WHERE id = $1`+s.d.ForUpdate, p.UserID).Scan(&id); err != nil {
			return err
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM passkeys WHERE user_id = $1`, p.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerUser {
			return fmt.Errorf("user has %d passkeys: %w", n, storage.ErrConflict)
		}
		_, err := q.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.UserID, blob(p.CredentialID), p.Name, blob(p.Record), micros(p.CreatedAt), micros(p.LastUsedAt))
		return err
	})
	return s.wrap("create passkey for user "+p.UserID, err)
}

// PasskeysOf returns the user's passkeys, oldest first (id breaks ties).
func (s *Store) PasskeysOf(ctx context.Context, userID string) ([]storage.Passkey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	ps, err := collect(rows, err, scanPasskey)
	return ps, s.wrap("list passkeys of user "+userID, err)
}

// PasskeyByCredentialID finds the passkey an authenticator presented.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (storage.Passkey, error) {
	p, err := scanPasskey(s.db.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys
		WHERE credential_id = $1`, blob(credentialID)))
	return p, s.wrap("get passkey by credential id", err)
}

// UpdatePasskey changes the name, record and last use of passkey id.
func (s *Store) UpdatePasskey(ctx context.Context, id string, fn func(*storage.Passkey) error) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		p, err := scanPasskey(q.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if fnErr = fn(&p); fnErr != nil {
			return fnErr
		}
		_, err = q.Exec(ctx, `UPDATE passkeys SET name = $2, record = $3, last_used_at = $4 WHERE id = $1`,
			id, p.Name, blob(p.Record), micros(p.LastUsedAt))
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return s.wrap("update passkey "+id, err)
}

// DeletePasskey deletes passkey id if it belongs to userID.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("delete passkey "+id+" of user "+userID, err)
}
