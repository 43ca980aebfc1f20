package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"satupintu/storage"
)

// clientColumnNames are the clients table's columns in scanClient and
// clientArgs order; the statements are built from it, so a new column is
// one name here plus its field in those two functions.
var clientColumnNames = []string{"id", "secret_hash", "name", "redirect_uris", "post_logout_redirect_uris", "public",
	"grant_types", "access_token_format", "created_at", "updated_at",
	"require_mfa", "listed", "description", "logo_url", "launch_url", "allowed_trader_types", "account_link_url",
	"backchannel_logout_uri", "initiate_login_uri",
	"token_endpoint_auth_method", "jwks", "jwks_uri", "secret_sealed", "require_par",
	"subject_type", "sector_identifier", "sector_identifier_uri", "dpop_required",
	"id_token_signed_response_alg", "admin_api", "disabled"}

var (
	clientColumns = strings.Join(clientColumnNames, ", ")
	// insertClient and updateClient number the values as clientArgs does.
	insertClient, updateClient = clientStatements()
)

func clientStatements() (insert, update string) {
	values := make([]string, len(clientColumnNames))
	var sets []string
	for i, name := range clientColumnNames {
		values[i] = fmt.Sprintf("$%d", i+1)
		if name != "id" {
			sets = append(sets, fmt.Sprintf("%s = $%d", name, i+1))
		}
	}
	return "INSERT INTO clients (" + clientColumns + ") VALUES (" + strings.Join(values, ", ") + ")",
		"UPDATE clients SET " + strings.Join(sets, ", ") + " WHERE id = $1"
}

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
		&c.AuthMethod, &c.JWKS, &c.JWKSURI, &c.SecretSealed, &c.RequirePAR,
		&c.SubjectType, &c.SectorIdentifier, &c.SectorIdentifierURI, &c.DPoPRequired,
		&c.IDTokenSignedResponseAlg, &c.AdminAPI, &c.Disabled)
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
	c.SecretSealed = parseBlob(c.SecretSealed)
	return c, nil
}

// clientArgs lists c's columns in clientColumns order.
func clientArgs(c storage.Client) []any {
	return []any{c.ID, c.SecretHash, c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.GrantTypes), c.AccessTokenFormat, micros(c.CreatedAt), micros(c.UpdatedAt),
		c.RequireMFA, c.Listed, c.Description, c.LogoURL, c.LaunchURL, list(c.AllowedTraderTypes), c.AccountLinkURL,
		c.BackchannelLogoutURI, c.InitiateLoginURI,
		c.AuthMethod, c.JWKS, c.JWKSURI, blob(c.SecretSealed), c.RequirePAR,
		c.SubjectType, c.SectorIdentifier, c.SectorIdentifierURI, c.DPoPRequired,
		c.IDTokenSignedResponseAlg, c.AdminAPI, c.Disabled}
}

// CreateClient stores a new client.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	_, err := s.db.Exec(ctx, insertClient, clientArgs(c)...)
	// A node may have cached "no such client" for this id.
	s.changed(ctx, err, ClientOwner(c.ID))
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
		_, err = q.Exec(ctx, updateClient, clientArgs(c)...)
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	s.changed(ctx, err, ClientOwner(id))
	return s.wrap("update client "+id, err)
}

// DeleteClient deletes the client; ErrNotFound if there is none. Its
// account links and the organizations users chose for it go with it (ON
// DELETE CASCADE), so those users' cached choices are reported changed.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	var users []string
	err := s.db.InTx(ctx, func(q Querier) error {
		rows, err := q.Query(ctx, `SELECT DISTINCT user_id FROM organization_choices WHERE client_id = $1`, id)
		if users, err = collect(rows, err, func(r scanner) (string, error) {
			var u string
			return u, r.Scan(&u)
		}); err != nil {
			return err
		}
		n, err := q.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
		return err
	})
	owners := []string{ClientOwner(id)}
	for _, u := range users {
		owners = append(owners, UserOwner(u))
	}
	s.changed(ctx, err, owners...)
	return s.wrap("delete client "+id, err)
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.db.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	cs, err := collect(rows, err, scanClient)
	return cs, s.wrap("list clients", err)
}
