package sqlstore

import (
	"context"

	"satupintu/storage"
)

const appLinkColumns = `user_id, client_id, app_username, linked_at`

func scanAppLink(r scanner) (storage.AppLink, error) {
	var (
		l      storage.AppLink
		linked int64
	)
	if err := r.Scan(&l.UserID, &l.ClientID, &l.AppUsername, &linked); err != nil {
		return storage.AppLink{}, err
	}
	l.LinkedAt = fromMicros(linked)
	return l, nil
}

// LinkApp stores the link of (l.UserID, l.ClientID), replacing the username
// and time of an existing one. The user and the client must exist
// (ErrNotFound otherwise). The foreign keys would refuse the row anyway, but
// with an error each database words its own way; checking first gives the
// sentinel, and a user or client deleted between check and insert still
// cannot leave a dangling link: the insert then fails.
func (s *Store) LinkApp(ctx context.Context, l storage.AppLink) error {
	op := "link app " + l.ClientID + " for user " + l.UserID
	// Outside a transaction, so that an id Postgres cannot store (NUL,
	// invalid UTF-8) finds nothing, as on SQLite, rather than failing.
	var users, clients int64
	err := s.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM users WHERE id = $1),
		(SELECT COUNT(*) FROM clients WHERE id = $2)`, l.UserID, l.ClientID).Scan(&users, &clients)
	if err == nil && (users == 0 || clients == 0) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return s.wrap(op, err)
	}
	// Both databases take this upsert (SQLite since 3.24); it is one
	// statement, so two concurrent links of one pair cannot both insert.
	_, err = s.db.Exec(ctx, `INSERT INTO app_links (`+appLinkColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE
		SET app_username = excluded.app_username, linked_at = excluded.linked_at`,
		l.UserID, l.ClientID, l.AppUsername, micros(l.LinkedAt))
	return s.wrap(op, err)
}

// AppLink returns the link of userID to clientID.
func (s *Store) AppLink(ctx context.Context, userID, clientID string) (storage.AppLink, error) {
	l, err := scanAppLink(s.db.QueryRow(ctx, `SELECT `+appLinkColumns+` FROM app_links
		WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	return l, s.wrap("get app link "+clientID+" for user "+userID, err)
}

// AppLinksOf returns the user's links, ordered by client id (in the
// database's collation, which for lower-case ASCII ids is byte order on
// both); none is an empty list, not an error.
func (s *Store) AppLinksOf(ctx context.Context, userID string) ([]storage.AppLink, error) {
	rows, err := s.db.Query(ctx, `SELECT `+appLinkColumns+` FROM app_links
		WHERE user_id = $1 ORDER BY client_id`, userID)
	ls, err := collect(rows, err, scanAppLink)
	return ls, s.wrap("list app links of user "+userID, err)
}

// UnlinkApp deletes the link if there is one: unlinking is idempotent.
func (s *Store) UnlinkApp(ctx context.Context, userID, clientID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM app_links WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	return s.wrap("unlink app "+clientID+" for user "+userID, err)
}
