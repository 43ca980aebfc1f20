package sqlstore

import (
	"context"
	"time"

	"satupintu/storage"
)

const upstreamLinkColumns = `upstream_id, subject, user_id, created_at, last_used_at`

func scanUpstreamLink(r scanner) (storage.UpstreamLink, error) {
	var (
		l             storage.UpstreamLink
		created, used int64
	)
	if err := r.Scan(&l.UpstreamID, &l.Subject, &l.UserID, &created, &used); err != nil {
		return storage.UpstreamLink{}, err
	}
	l.CreatedAt, l.LastUsedAt = fromMicros(created), fromMicros(used)
	return l, nil
}

const insertUpstreamLink = `INSERT INTO upstream_links (` + upstreamLinkColumns + `) VALUES ($1, $2, $3, $4, $5)`

func upstreamLinkArgs(l storage.UpstreamLink) []any {
	return []any{l.UpstreamID, l.Subject, l.UserID, micros(l.CreatedAt), micros(l.LastUsedAt)}
}

// CreateUpstreamLink stores l. The user is checked first so that a missing
// one is ErrNotFound on both databases (as LinkApp does); the primary key
// makes a second link of one upstream identity ErrAlreadyExists, whoever
// races for it.
func (s *Store) CreateUpstreamLink(ctx context.Context, l storage.UpstreamLink) error {
	op := "create upstream link " + l.UpstreamID + " for user " + l.UserID
	var users int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE id = $1`, l.UserID).Scan(&users)
	if err == nil && users == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return s.wrap(op, err)
	}
	_, err = s.db.Exec(ctx, insertUpstreamLink, upstreamLinkArgs(l)...)
	return s.wrap(op, err)
}

// UpstreamLink returns the link of the upstream identity.
func (s *Store) UpstreamLink(ctx context.Context, upstreamID, subject string) (storage.UpstreamLink, error) {
	l, err := scanUpstreamLink(s.db.QueryRow(ctx, `SELECT `+upstreamLinkColumns+` FROM upstream_links
		WHERE upstream_id = $1 AND subject = $2`, upstreamID, subject))
	return l, s.wrap("get upstream link "+upstreamID, err)
}

// UpstreamLinksOf returns the user's links ordered by upstream, then subject.
func (s *Store) UpstreamLinksOf(ctx context.Context, userID string) ([]storage.UpstreamLink, error) {
	rows, err := s.db.Query(ctx, `SELECT `+upstreamLinkColumns+` FROM upstream_links
		WHERE user_id = $1 ORDER BY upstream_id, subject`, userID)
	ls, err := collect(rows, err, scanUpstreamLink)
	return ls, s.wrap("list upstream links of user "+userID, err)
}

// TouchUpstreamLink records a sign-in with the link.
func (s *Store) TouchUpstreamLink(ctx context.Context, upstreamID, subject string, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE upstream_links SET last_used_at = $3
		WHERE upstream_id = $1 AND subject = $2`, upstreamID, subject, micros(at))
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("touch upstream link "+upstreamID, err)
}

// DeleteUpstreamLink deletes the link only if it is userID's, so one user
// can never unlink another's identity.
func (s *Store) DeleteUpstreamLink(ctx context.Context, userID, upstreamID, subject string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM upstream_links
		WHERE user_id = $1 AND upstream_id = $2 AND subject = $3`, userID, upstreamID, subject)
	return s.wrap("delete upstream link "+upstreamID+" of user "+userID, err)
}
