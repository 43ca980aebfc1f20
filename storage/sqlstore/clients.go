package sqlstore

import (
	"context"

	"satupintu/storage"
)

const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris, public,
	grant_types, access_token_format, created_at, updated_at,
	require_mfa, listed, description, logo_url, launch_url, allowed_trader_types, account_link_url,
	backchannel_logout_uri, initiate_login_uri,
	id_token_signed_response_alg`

func scanClient(r scanner) (storage.Client, error) {
	var (
		c                                          storage.Client
		redirects, postLogout, grants, traderTypes string
		created, updated                           int64
	)
	err := r.Scan(&c.ID, &c.SecretHash, &c.Name, &redirects, &postLogout, &c.Public, &grants,
		&c.AccessTokenFormat, &created, &updated,
		&c.RequireMFA, &c.Listed, &c.Description, &c.LogoURL, &c.LaunchURL, &traderTypes, &c.AccountLinkURL,
		&c.BackchannelLogoutURI, &c.InitiateLoginURI,
		&c.IDTokenSignedResponseAlg)
	if err != nil {
		return storage.Client{}, err
	}
	for _, l := range []struct {
		text string
		dst  *[]string
	}{
		{redirects, &c.RedirectURIs}, {postLogout, &c.PostLogoutRedirectURIs}, {grants, &c.GrantTypes},
		{traderTypes, &c.AllowedTraderTypes},
	} {
		if err := parseList(l.text, l.dst); err != nil {
			return storage.Client{}, err
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// clientArgs lists c's columns in clientColumns order.
func clientArgs(c storage.Client) []any {
	return []any{c.ID, c.SecretHash, c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.GrantTypes), c.AccessTokenFormat, micros(c.CreatedAt), micros(c.UpdatedAt),
		c.RequireMFA, c.Listed, c.Description, c.LogoURL, c.LaunchURL, list(c.AllowedTraderTypes), c.AccountLinkURL,
		c.BackchannelLogoutURI, c.InitiateLoginURI,
		c.IDTokenSignedResponseAlg}
}

// CreateClient stores a new client.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	_, err := s.db.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
		$20)`, clientArgs(c)...)
	return s.wrap("create client "+c.ID, err)
}

// ClientByID returns the client with id.
func (s *Store) ClientByID(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.db.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	return c, s.wrap("get client "+id, err)
}

// UpdateClient applies fn to the stored client inside a transaction.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*storage.Client) error) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		c, err := scanClient(q.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if fnErr = fn(&c); fnErr != nil {
			return fnErr
		}
		c.ID = id // relying parties know the client by this id
		_, err = q.Exec(ctx, `UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
			post_logout_redirect_uris = $5, public = $6, grant_types = $7, access_token_format = $8,
			created_at = $9, updated_at = $10, require_mfa = $11, listed = $12, description = $13,
			logo_url = $14, launch_url = $15, allowed_trader_types = $16, account_link_url = $17,
			backchannel_logout_uri = $18, initiate_login_uri = $19,
			id_token_signed_response_alg = $20
			WHERE id = $1`, clientArgs(c)...)
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return s.wrap("update client "+id, err)
}

// DeleteClient deletes the client; ErrNotFound if there is none. Its
// account links go with it (ON DELETE CASCADE, migration 0003).
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("delete client "+id, err)
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.db.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	cs, err := collect(rows, err, scanClient)
	return cs, s.wrap("list clients", err)
}
