package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"satupintu/storage"
)

const userColumns = `id, username, email, email_verified, name, phone, job_title, password_hash,
	organization_id, roles, disabled, expires_at, created_at, updated_at,
	totp_secret, mfa_enrolled_at, recovery_codes, password_changed_at, lock_epoch`

func scanUser(r scanner) (storage.User, error) {
	var (
		u                         storage.User
		roles, recoveryCodes      string
		expires, created, updated int64
		mfaEnrolled, pwChanged    int64
	)
	err := r.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.Name, &u.Phone, &u.Position,
		&u.PasswordHash, &u.OrganizationID, &roles, &u.Disabled, &expires, &created, &updated,
		&u.TOTPSecret, &mfaEnrolled, &recoveryCodes, &pwChanged, &u.LockEpoch)
	if err != nil {
		return storage.User{}, err
	}
	if err := parseList(roles, &u.Roles); err != nil {
		return storage.User{}, err
	}
	if err := parseList(recoveryCodes, &u.RecoveryCodes); err != nil {
		return storage.User{}, err
	}
	u.TOTPSecret = parseBlob(u.TOTPSecret)
	u.ExpiresAt, u.CreatedAt, u.UpdatedAt = fromMicros(expires), fromMicros(created), fromMicros(updated)
	u.MFAEnrolledAt, u.PasswordChangedAt = fromMicros(mfaEnrolled), fromMicros(pwChanged)
	return u, nil
}

// userArgs lists u's columns in userColumns order, then name_key.
// Usernames and emails are lower-cased here, the one place every write
// passes, so the UNIQUE constraints compare them case-insensitively; the
// name's search key is derived here for the same reason.
func userArgs(u storage.User) []any {
	return []any{u.ID, strings.ToLower(u.Username), strings.ToLower(u.Email), u.EmailVerified, u.Name,
		u.Phone, u.Position, u.PasswordHash, u.OrganizationID, list(u.Roles), u.Disabled,
		micros(u.ExpiresAt), micros(u.CreatedAt), micros(u.UpdatedAt),
		blob(u.TOTPSecret), micros(u.MFAEnrolledAt), list(u.RecoveryCodes), micros(u.PasswordChangedAt),
		u.LockEpoch, nameKey(u.Name)}
}

const insertUser = `INSERT INTO users (` + userColumns + `, name_key)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`

// CreateUser stores a new user. A user created with an organization (the
// demo trader, an operator's `user create --organization`) is its member in
// the same transaction: its administrator if it had none yet.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	if u.OrganizationID == "" {
		_, err := s.db.Exec(ctx, insertUser, userArgs(u)...)
		s.changed(ctx, err, UserOwner(u.ID))
		return s.wrap("create user "+u.ID, err)
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		var orgs, admins int64
		if err := q.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM organizations WHERE id = $1),
			(SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'admin')`,
			u.OrganizationID).Scan(&orgs, &admins); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, insertUser, userArgs(u)...); err != nil {
			return err
		}
		if orgs == 0 {
			// users.organization_id has never been a foreign key; an id
			// naming no organization stays what it was, a dangling default.
			return nil
		}
		role := storage.MemberStaff
		if admins == 0 {
			role = storage.MemberAdmin
		}
		return insertMembership(ctx, q, storage.Membership{OrganizationID: u.OrganizationID, UserID: u.ID,
			Role: role, CreatedAt: u.CreatedAt})
	})
	s.changed(ctx, err, UserOwner(u.ID))
	return s.wrap("create user "+u.ID, err)
}

const userByIDQuery = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// UserByID returns the user with id.
func (s *Store) UserByID(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, userByIDQuery, id))
	return u, s.wrap("get user "+id, err)
}

// UserByLogin finds a user by username or email, case-insensitively.
func (s *Store) UserByLogin(ctx context.Context, login string) (storage.User, error) {
	login = strings.ToLower(login)
	if login == "" {
		// Users without an email store ''; an empty login must not match them.
		return storage.User{}, s.wrap("get user by login", storage.ErrNotFound)
	}
	u, err := scanUser(s.db.QueryRow(ctx, UserByLoginQuery, login))
	return u, s.wrap("get user by login", err)
}

// UserByLoginQuery finds the user whose username or email is $1 with two
// index lookups: the username's unique index, and the partial email index,
// which `email <> ”` lets the planner use under a generic plan too (it
// cannot match a bare parameter). An OR of the two was a full scan on
// SQLite and a parallel sequential scan under Postgres's generic plan. A
// username never contains '@' in practice, but if one ever equals another
// user's email, the username match wins. Exported for the query-plan tests
// of the backends.
const UserByLoginQuery = `SELECT ` + userColumns + ` FROM (
	SELECT ` + userColumns + `, 0 AS preference FROM users WHERE username = $1
	UNION ALL
	SELECT ` + userColumns + `, 1 AS preference FROM users WHERE email = $1 AND email <> ''
) AS found ORDER BY preference LIMIT 1`

// UpdateUser applies fn to the stored user inside a transaction.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if fnErr = fn(&u); fnErr != nil {
			return fnErr
		}
		u.ID = id // the id is the OIDC sub: it never changes
		args := userArgs(u)
		_, err = q.Exec(ctx, `UPDATE users SET username = $2, email = $3, email_verified = $4, name = $5,
			phone = $6, job_title = $7, password_hash = $8, organization_id = $9, roles = $10,
			disabled = $11, expires_at = $12, created_at = $13, updated_at = $14, totp_secret = $15,
			mfa_enrolled_at = $16, recovery_codes = $17, password_changed_at = $18, lock_epoch = $19, name_key = $20
			WHERE id = $1`, args...)
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	s.changed(ctx, err, UserOwner(id))
	return s.wrap("update user "+id, err)
}

// ListUsers returns every user, ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	us, err := collect(rows, err, scanUser)
	return us, s.wrap("list users", err)
}

const organizationColumns = `id, nib, npwp, name, trader_type, business_type, address, created_at, updated_at`

func scanOrganization(r scanner) (storage.Organization, error) {
	var (
		o                storage.Organization
		address          string
		created, updated int64
	)
	err := r.Scan(&o.ID, &o.NIB, &o.NPWP, &o.Name, &o.TraderType, &o.BusinessType, &address, &created, &updated)
	if err != nil {
		return storage.Organization{}, err
	}
	if err := json.Unmarshal([]byte(address), &o.Address); err != nil {
		return storage.Organization{}, fmt.Errorf("decode address: %w", err)
	}
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

// CreateOrganization stores a new organization; its NIB must be unique.
func (s *Store) CreateOrganization(ctx context.Context, o storage.Organization) error {
	return s.wrap("create organization "+o.ID, insertOrganization(ctx, s.db, o))
}

// insertOrganization is CreateOrganization on q, so that approving a
// registration can create the organization inside its transaction.
func insertOrganization(ctx context.Context, q Querier, o storage.Organization) error {
	address, err := json.Marshal(o.Address)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO organizations (`+organizationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, o.NIB, o.NPWP, o.Name, o.TraderType, o.BusinessType, string(address),
		micros(o.CreatedAt), micros(o.UpdatedAt))
	return err
}

// OrganizationByID returns the organization with id.
func (s *Store) OrganizationByID(ctx context.Context, id string) (storage.Organization, error) {
	o, err := scanOrganization(s.db.QueryRow(ctx, `SELECT `+organizationColumns+` FROM organizations WHERE id = $1`, id))
	return o, s.wrap("get organization "+id, err)
}

// OrganizationByNIB returns the organization registered under nib.
func (s *Store) OrganizationByNIB(ctx context.Context, nib string) (storage.Organization, error) {
	o, err := scanOrganization(s.db.QueryRow(ctx, `SELECT `+organizationColumns+` FROM organizations WHERE nib = $1`, nib))
	return o, s.wrap("get organization by nib", err)
}
