package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"satupintu/storage"
)

var (
	_ storage.Memberships = (*Store)(nil)
	_ storage.Invitations = (*Store)(nil)
)

const membershipColumns = `organization_id, user_id, role, created_at`

func scanMembership(r scanner) (storage.Membership, error) {
	var (
		m       storage.Membership
		created int64
	)
	if err := r.Scan(&m.OrganizationID, &m.UserID, &m.Role, &created); err != nil {
		return storage.Membership{}, err
	}
	m.CreatedAt = fromMicros(created)
	return m, nil
}

// insertMembership stores m on q and makes its organization the user's
// default if the user has none, so approval and invitation can add a
// member inside their own transactions.
func insertMembership(ctx context.Context, q Querier, m storage.Membership) error {
	if !storage.ValidMemberRole(m.Role) {
		return fmt.Errorf("membership role %q is not admin or member", m.Role)
	}
	if _, err := q.Exec(ctx, `INSERT INTO memberships (`+membershipColumns+`) VALUES ($1, $2, $3, $4)`,
		m.OrganizationID, m.UserID, m.Role, micros(m.CreatedAt)); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE users SET organization_id = $1 WHERE id = $2 AND organization_id = ''`,
		m.OrganizationID, m.UserID)
	return err
}

// AddMembership stores m. The user and the organization are checked first,
// as LinkApp does, so a missing one is ErrNotFound on both databases rather
// than each one's wording of a foreign key violation.
func (s *Store) AddMembership(ctx context.Context, m storage.Membership) error {
	op := "add membership of " + m.UserID + " in " + m.OrganizationID
	err := s.db.InTx(ctx, func(q Querier) error {
		var users, orgs int64
		if err := q.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM users WHERE id = $1),
			(SELECT COUNT(*) FROM organizations WHERE id = $2)`, m.UserID, m.OrganizationID).Scan(&users, &orgs); err != nil {
			return err
		}
		if users == 0 || orgs == 0 {
			return storage.ErrNotFound
		}
		return insertMembership(ctx, q, m)
	})
	s.changed(ctx, err, UserOwner(m.UserID))
	return s.wrap(op, err)
}

// Membership returns the membership of userID in orgID.
func (s *Store) Membership(ctx context.Context, orgID, userID string) (storage.Membership, error) {
	m, err := scanMembership(s.db.QueryRow(ctx, `SELECT `+membershipColumns+` FROM memberships
		WHERE organization_id = $1 AND user_id = $2`, orgID, userID))
	return m, s.wrap("get membership of "+userID+" in "+orgID, err)
}

// MembershipsOf returns the user's memberships, oldest first.
func (s *Store) MembershipsOf(ctx context.Context, userID string) ([]storage.Membership, error) {
	rows, err := s.db.Query(ctx, `SELECT `+membershipColumns+` FROM memberships
		WHERE user_id = $1 ORDER BY created_at, organization_id`, userID)
	ms, err := collect(rows, err, scanMembership)
	return ms, s.wrap("list memberships of "+userID, err)
}

// Members returns the organization's memberships, oldest first.
func (s *Store) Members(ctx context.Context, orgID string) ([]storage.Membership, error) {
	rows, err := s.db.Query(ctx, `SELECT `+membershipColumns+` FROM memberships
		WHERE organization_id = $1 ORDER BY created_at, user_id`, orgID)
	ms, err := collect(rows, err, scanMembership)
	return ms, s.wrap("list members of "+orgID, err)
}

// SetMemberRole changes a member's role.
func (s *Store) SetMemberRole(ctx context.Context, orgID, userID, role string) error {
	op := "set role of " + userID + " in " + orgID
	if !storage.ValidMemberRole(role) {
		return s.wrap(op, fmt.Errorf("role %q is not admin or member", role))
	}
	n, err := s.db.Exec(ctx, `UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2`,
		orgID, userID, role)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	s.changed(ctx, err, UserOwner(userID))
	return s.wrap(op, err)
}

// TransferAdmin hands the administrator role from one member to another.
// The conditional UPDATE of from is the check: of two transfers at once
// only one finds from still the administrator.
func (s *Store) TransferAdmin(ctx context.Context, orgID, from, to string) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var n int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND user_id = $2`,
			orgID, to).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		changed, err := q.Exec(ctx, `UPDATE memberships SET role = 'member'
			WHERE organization_id = $1 AND user_id = $2 AND role = 'admin'`, orgID, from)
		if err != nil {
			return err
		}
		if changed == 0 {
			return fmt.Errorf("%s is not the administrator: %w", from, storage.ErrConflict)
		}
		_, err = q.Exec(ctx, `UPDATE memberships SET role = 'admin' WHERE organization_id = $1 AND user_id = $2`, orgID, to)
		return err
	})
	s.changed(ctx, err, UserOwner(from), UserOwner(to))
	return s.wrap("transfer admin of "+orgID, err)
}

// RemoveMembership ends the membership, forgets the user's choices of the
// organization and moves the user's default to their oldest remaining
// organization (or none), in one transaction.
func (s *Store) RemoveMembership(ctx context.Context, orgID, userID string) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2`, orgID, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		if _, err := q.Exec(ctx, `DELETE FROM organization_choices WHERE organization_id = $1 AND user_id = $2`,
			orgID, userID); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE users SET organization_id = COALESCE((SELECT m.organization_id
			FROM memberships m WHERE m.user_id = $1 ORDER BY m.created_at, m.organization_id LIMIT 1), '')
			WHERE id = $1 AND organization_id = $2`, userID, orgID)
		return err
	})
	s.changed(ctx, err, UserOwner(userID))
	return s.wrap("remove membership of "+userID+" in "+orgID, err)
}

// ChooseOrganization remembers the user's organization for clientID.
func (s *Store) ChooseOrganization(ctx context.Context, userID, clientID, orgID string, at time.Time) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var members, clients int64
		if err := q.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND user_id = $2),
			(SELECT COUNT(*) FROM clients WHERE id = $3)`, orgID, userID, clientID).Scan(&members, &clients); err != nil {
			return err
		}
		if members == 0 || clients == 0 {
			return storage.ErrNotFound
		}
		_, err := q.Exec(ctx, `INSERT INTO organization_choices (user_id, client_id, organization_id, chosen_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) DO UPDATE
			SET organization_id = excluded.organization_id, chosen_at = excluded.chosen_at`,
			userID, clientID, orgID, micros(at))
		return err
	})
	s.changed(ctx, err, UserOwner(userID))
	return s.wrap("choose organization of "+userID+" for "+clientID, err)
}

// ChosenOrganization returns the organization the user chose for clientID.
// The join keeps a choice from outliving the membership even if a writer
// forgot to delete it.
func (s *Store) ChosenOrganization(ctx context.Context, userID, clientID string) (string, error) {
	var orgID string
	err := s.db.QueryRow(ctx, `SELECT c.organization_id FROM organization_choices c
		JOIN memberships m ON m.organization_id = c.organization_id AND m.user_id = c.user_id
		WHERE c.user_id = $1 AND c.client_id = $2`, userID, clientID).Scan(&orgID)
	return orgID, s.wrap("get chosen organization of "+userID, err)
}

const invitationColumns = `id, organization_id, email, role, invited_by, token_hash, created_at,
	expires_at, accepted_at, user_id`

func scanInvitation(r scanner) (storage.Invitation, error) {
	var (
		v                          storage.Invitation
		created, expires, accepted int64
	)
	if err := r.Scan(&v.ID, &v.OrganizationID, &v.Email, &v.Role, &v.InvitedBy, &v.TokenHash,
		&created, &expires, &accepted, &v.UserID); err != nil {
		return storage.Invitation{}, err
	}
	v.CreatedAt, v.ExpiresAt, v.AcceptedAt = fromMicros(created), fromMicros(expires), fromMicros(accepted)
	return v, nil
}

// CreateInvitation stores a pending invitation; the email is lower-cased.
func (s *Store) CreateInvitation(ctx context.Context, v storage.Invitation) error {
	if !storage.ValidMemberRole(v.Role) {
		return s.wrap("create invitation", fmt.Errorf("role %q is not admin or member", v.Role))
	}
	_, err := s.db.Exec(ctx, `INSERT INTO invitations (`+invitationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		v.ID, v.OrganizationID, strings.ToLower(v.Email), v.Role, v.InvitedBy, v.TokenHash,
		micros(v.CreatedAt), micros(v.ExpiresAt), micros(v.AcceptedAt), v.UserID)
	return s.wrap("create invitation", err)
}

// PendingInvitations returns the organization's invitations not accepted.
func (s *Store) PendingInvitations(ctx context.Context, orgID string) ([]storage.Invitation, error) {
	rows, err := s.db.Query(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE organization_id = $1 AND accepted_at = 0 ORDER BY created_at, id`, orgID)
	vs, err := collect(rows, err, scanInvitation)
	return vs, s.wrap("list invitations of "+orgID, err)
}

// LiveInvitation returns the pending, unexpired invitation of tokenHash.
func (s *Store) LiveInvitation(ctx context.Context, tokenHash string, now time.Time) (storage.Invitation, error) {
	v, err := scanInvitation(s.db.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE token_hash = $1 AND accepted_at = 0 AND expires_at > $2`, tokenHash, micros(now)))
	return v, s.wrap("get invitation", err)
}

// RenewInvitation replaces a pending invitation's token and expiry.
func (s *Store) RenewInvitation(ctx context.Context, orgID, id, tokenHash string, expiresAt time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE invitations SET token_hash = $3, expires_at = $4
		WHERE organization_id = $1 AND id = $2 AND accepted_at = 0`, orgID, id, tokenHash, micros(expiresAt))
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("renew invitation "+id, err)
}

// DeleteInvitation cancels a pending invitation.
func (s *Store) DeleteInvitation(ctx context.Context, orgID, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM invitations WHERE organization_id = $1 AND id = $2 AND accepted_at = 0`, orgID, id)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("delete invitation "+id, err)
}

// AcceptInvitation takes the invitation once and makes the user a member.
// The conditional UPDATE is the single-use check, as ConsumeActionToken's:
// of two acceptances only one finds accepted_at = 0.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash string, now time.Time, user storage.User, create bool) (storage.Invitation, error) {
	const op = "accept invitation"
	if now.IsZero() {
		return storage.Invitation{}, fmt.Errorf("%s: %s: now is not set", s.d.Name, op)
	}
	var v storage.Invitation
	err := s.db.InTx(ctx, func(q Querier) error {
		var err error
		v, err = scanInvitation(q.QueryRow(ctx, `UPDATE invitations SET accepted_at = $1, user_id = $3
			WHERE token_hash = $2 AND accepted_at = 0 AND expires_at > $1
			RETURNING `+invitationColumns, micros(now), tokenHash, user.ID))
		if err != nil {
			return err
		}
		if create {
			if _, err := q.Exec(ctx, insertUser, userArgs(user)...); err != nil {
				return fmt.Errorf("create user %s: %w", user.ID, err)
			}
		}
		return insertMembership(ctx, q, storage.Membership{OrganizationID: v.OrganizationID,
			UserID: user.ID, Role: v.Role, CreatedAt: now})
	})
	if err != nil {
		return storage.Invitation{}, s.wrap(op, err)
	}
	s.changed(ctx, nil, UserOwner(user.ID))
	return v, nil
}
