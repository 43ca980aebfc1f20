package sqlstore

import (
	"bytes"
	"context"
	"time"

	"satupintu/storage"
)

const keyColumns = `id, algorithm, private_der, sealed, predecessor, created_at, activates_at, not_after`

// CreateSigningKey stores k; see storage.Keys. The unique index on
// (algorithm, predecessor) of migration 0015 decides between racing
// rotators, on SQLite and Postgres alike.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey, retire time.Time) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		// A successor already naming the predecessor is a lost race, not
		// an id collision: tell the two apart before the insert fails.
		if k.Predecessor != "" {
			var n int64
			err := q.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE algorithm = $1 AND predecessor = $2`,
				k.Algorithm, k.Predecessor).Scan(&n)
			if err != nil {
				return err
			}
			if n > 0 {
				return storage.ErrConflict
			}
		}
		_, err := q.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Algorithm, k.PrivateDER, k.Sealed, k.Predecessor,
			micros(k.CreatedAt), micros(k.ActivatesAt), micros(k.NotAfter))
		if err != nil {
			if s.d.IsUniqueViolation(err) && k.Predecessor != "" && s.successorExists(ctx, k) {
				return storage.ErrConflict
			}
			return err
		}
		if k.Predecessor != "" && !retire.IsZero() {
			_, err = q.Exec(ctx, `UPDATE signing_keys SET not_after = $3
				WHERE algorithm = $1 AND not_after = 0 AND id <> $2`, k.Algorithm, k.ID, micros(retire))
		}
		return err
	})
	return s.wrap("create signing key "+k.ID, err)
}

// successorExists reports whether the unique violation came from the
// successor index. On Postgres the failed insert aborted the transaction,
// so the question goes outside it.
func (s *Store) successorExists(ctx context.Context, k storage.SigningKey) bool {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE algorithm = $1 AND predecessor = $2 AND id <> $3`,
		k.Algorithm, k.Predecessor, k.ID).Scan(&n); err != nil {
		return false
	}
	return n > 0
}

// SigningKeys returns every key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	ks, err := collect(rows, err, func(r scanner) (storage.SigningKey, error) {
		var (
			k                            storage.SigningKey
			created, activates, notAfter int64
		)
		if err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateDER, &k.Sealed, &k.Predecessor,
			&created, &activates, &notAfter); err != nil {
			return storage.SigningKey{}, err
		}
		k.CreatedAt, k.ActivatesAt, k.NotAfter = fromMicros(created), fromMicros(activates), fromMicros(notAfter)
		return k, nil
	})
	return ks, s.wrap("list signing keys", err)
}

// SealSigningKey replaces a plaintext private key with its sealed form.
func (s *Store) SealSigningKey(ctx context.Context, id string, sealed []byte) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var was bool
		if err := q.QueryRow(ctx, `SELECT sealed FROM signing_keys WHERE id = $1`+s.d.ForUpdate, id).Scan(&was); err != nil {
			return err
		}
		if was {
			return storage.ErrConflict
		}
		_, err := q.Exec(ctx, `UPDATE signing_keys SET private_der = $2, sealed = $3 WHERE id = $1`, id, sealed, true)
		return err
	})
	return s.wrap("seal signing key "+id, err)
}

// DeleteRetiredSigningKeys deletes keys retired by now.
func (s *Store) DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM signing_keys WHERE not_after <> 0 AND not_after <= $1`, micros(now))
	return int(n), s.wrap("delete retired signing keys", err)
}

// ReplaceSecret sets the secret name to next if it still holds old (the
// key-encryption key sealing a value stored in plaintext); ErrConflict if
// it holds something else by now, ErrNotFound if there is none.
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, next []byte) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var cur []byte
		if err := q.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`+s.d.ForUpdate, name).Scan(&cur); err != nil {
			return err
		}
		if !bytes.Equal(cur, old) {
			return storage.ErrConflict
		}
		_, err := q.Exec(ctx, `UPDATE secrets SET value = $2 WHERE name = $1`, name, next)
		return err
	})
	return s.wrap("replace secret "+name, err)
}
