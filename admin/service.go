package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"satupintu/storage"
	"satupintu/storage/validate"
)

// Actor is who performs an operation: a signed-in operator in the console
// or a client of the admin API. The audit log names it.
type Actor struct {
	UserID   string // the operator; empty for the API
	ClientID string // the API client; empty for the console
	IP       string
}

func (a Actor) id() string { return cmp.Or(a.UserID, a.ClientID) }

// The narrow slices of storage the operations use.
type (
	Clients interface {
		CreateClient(ctx context.Context, c storage.Client) error
		ClientByID(ctx context.Context, id string) (storage.Client, error)
		UpdateClient(ctx context.Context, id string, fn func(*storage.Client) error) error
		DeleteClient(ctx context.Context, id string) error
		ListClients(ctx context.Context) ([]storage.Client, error)
	}
	Users interface {
		UserByID(ctx context.Context, id string) (storage.User, error)
		// CountEnabledAdmins counts the enabled accounts with the admin
		// role (the last-admin guard).
		CountEnabledAdmins(ctx context.Context) (int, error)
		UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
		SearchUsers(ctx context.Context, q storage.UserSearch) (storage.UserPage, error)
		RevokeUserRefreshTokens(ctx context.Context, userID string) error
	}
	Sessions interface {
		UserSessions(ctx context.Context, userID string) ([]storage.Session, error)
		DeleteSession(ctx context.Context, id string) error
	}
	Keys interface {
		SigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
)

// Service is every operation of the console and the API, written once:
// each checks its input with the rules the CLI uses and records one audit
// event, in the same transaction as its write where there is one.
type Service struct {
	Clients  Clients
	Users    Users
	Sessions Sessions
	Keys     Keys
	Audit    Audit
	Orgs     Organizations
	// SettingsStore holds the service name, contact details, Help Center
	// and banner.
	SettingsStore SettingsStore

	// PrepareClient checks a client as `satupintu client create` does and
	// fills what follows from its fields (the pairwise sector); the rules
	// live with the CLI's, in cmd/satupintu.
	PrepareClient func(ctx context.Context, c *storage.Client) error
	// TraderTypes are the codes a client's Your Apps listing may be
	// limited to.
	TraderTypes []string
	// IssueSecret gives c a new secret (hashed or sealed into c) and
	// returns it; "" for clients without one.
	IssueSecret func(ctx context.Context, c *storage.Client) (string, error)
	// ClientChanged drops the client from every node's cache.
	ClientChanged func(ctx context.Context, id string)
	// NewSigningKey makes a successor for the algorithm's signing key and
	// returns its id; KeyStates names each key's state (next, active,
	// retired) at a time.
	NewSigningKey func(ctx context.Context, alg string) (string, error)
	KeyStates     func(keys []storage.SigningKey, now time.Time) map[string]string
	Algorithms    []string
	// MailPasswordReset mails u a reset link, as "forgot password" does.
	// It returns ErrCannotReset for an account that cannot reset.
	MailPasswordReset func(ctx context.Context, u storage.User) error
	// OnSessionEnd tells the applications of an ended session (back-channel
	// logout).
	OnSessionEnd func(ctx context.Context, s storage.Session)

	Now    func() time.Time
	Logger *slog.Logger
}

// Problems the operations report. The console shows their message key,
// the API their title; nothing else of an error reaches either.
var (
	ErrNotFound  = &Problem{Status: 404, Key: "admin.error.not_found", Title: "not found"}
	ErrSelf      = &Problem{Status: 409, Key: "admin.error.self", Title: "an operator cannot do this to their own account"}
	ErrLastAdmin = &Problem{Status: 409, Key: "admin.error.last_admin", Title: "this is the last enabled admin"}
	ErrNoSecret  = &Problem{Status: 409, Key: "admin.client.no_secret", Title: "this client has no secret to rotate"}
	ErrConflict  = &Problem{Status: 409, Key: "admin.error.conflict", Title: "the record changed meanwhile; reload and try again"}
)

// Problem is an error an operator caused and can fix; Detail says what
// (a validation message), and is safe to show.
type Problem struct {
	Status int
	Key    string // message key for the console
	Title  string // RFC 9457 title for the API
	Detail string // English, for the API and the log
	// Field is the validation error behind the problem, if any: the
	// console shows its own catalog message (Bahasa Indonesia first).
	Field *validate.FieldError
}

func (p *Problem) Error() string { return strings.TrimSpace(p.Title + ": " + p.Detail) }

func invalid(detail string) error {
	return &Problem{Status: 422, Key: "admin.error.invalid", Title: "invalid input", Detail: detail}
}

// invalidInput is the Problem of input the domain rules (storage/validate)
// refuse, keeping the rule's own message for the console.
func invalidInput(err error) error {
	p := &Problem{Status: 422, Key: "admin.error.invalid", Title: "invalid input", Detail: err.Error()}
	errors.As(err, &p.Field)
	return p
}

// notFound maps the store's ErrNotFound to the operations' own.
func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	if errors.Is(err, storage.ErrConflict) {
		return ErrConflict
	}
	return err
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// event is the audit record of one operation by a.
func (s *Service) event(a Actor, action, subject string, detail map[string]string) storage.AuditEvent {
	return storage.AuditEvent{Time: s.now(), Action: action, ActorID: a.id(), Subject: subject,
		ClientID: a.ClientID, IP: a.IP, Detail: detail}
}

// record appends the event of an operation whose change is not in the
// durable store (sessions, mail); the change stands when the log fails.
func (s *Service) record(ctx context.Context, e storage.AuditEvent) {
	if err := s.Audit.AppendAudit(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "append audit event failed", "action", e.Action, "error", err)
	}
}

// ---- clients

// ListClients returns the clients whose id or name contains q (every
// client when q is empty), by name. An agency has tens of clients, not
// millions: the list is read whole.
func (s *Service) ListClients(ctx context.Context, q string) ([]storage.Client, error) {
	all, err := s.Clients.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list clients: %w", err)
	}
	q = strings.ToLower(strings.TrimSpace(q))
	out := all[:0]
	for _, c := range all {
		if q == "" || strings.Contains(strings.ToLower(c.ID), q) || strings.Contains(strings.ToLower(c.Name), q) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y storage.Client) int {
		return cmp.Or(strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// Client returns one client.
func (s *Service) Client(ctx context.Context, id string) (storage.Client, error) {
	c, err := s.Clients.ClientByID(ctx, id)
	return c, notFound(err)
}

// CreateClient registers the client in; it returns the stored client and
// its secret, shown once (only its hash is kept).
func (s *Service) CreateClient(ctx context.Context, a Actor, in ClientInput) (storage.Client, string, error) {
	c := storage.Client{ID: storage.NewID()}
	if err := in.apply(&c); err != nil {
		return storage.Client{}, "", err
	}
	if err := s.PrepareClient(ctx, &c); err != nil {
		return storage.Client{}, "", invalidInput(err)
	}
	secret, err := s.IssueSecret(ctx, &c)
	if err != nil {
		return storage.Client{}, "", fmt.Errorf("admin: issue secret: %w", err)
	}
	c.CreatedAt, c.UpdatedAt = s.now(), s.now()
	e := s.event(a, "client.create", c.ID, map[string]string{"name": c.Name})
	if err := s.Clients.CreateClient(storage.WithAudit(ctx, e), c); err != nil {
		return storage.Client{}, "", fmt.Errorf("admin: create client: %w", err)
	}
	return c, secret, nil
}

// UpdateClient replaces the editable fields of client id with in. A change
// of authentication method to one that needs a secret the client lacks
// issues one, returned like CreateClient's.
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, in ClientInput) (storage.Client, string, error) {
	var (
		out    storage.Client
		secret string
	)
	e := s.event(a, "client.update", id, nil)
	err := s.Clients.UpdateClient(storage.WithAudit(ctx, e), id, func(c *storage.Client) error {
		method := c.EffectiveAuthMethod()
		if err := in.apply(c); err != nil {
			return err
		}
		if err := s.PrepareClient(ctx, c); err != nil {
			return invalidInput(err)
		}
		if secretChanges(method, c.EffectiveAuthMethod()) {
			var err error
			if secret, err = s.IssueSecret(ctx, c); err != nil {
				return fmt.Errorf("admin: issue secret: %w", err)
			}
		}
		c.UpdatedAt = s.now()
		out = *c
		return nil
	})
	if err != nil {
		return storage.Client{}, "", notFound(err)
	}
	s.ClientChanged(ctx, id)
	return out, secret, nil
}

// secretChanges reports whether moving from method from to to needs a new
// secret (or none): client_secret_basic and _post share a hashed secret,
// client_secret_jwt needs one sealed, none and private_key_jwt have none.
func secretChanges(from, to string) bool {
	jwt := func(m string) bool { return m == storage.AuthMethodSecretJWT }
	return from != to && (needsSecret(from) != needsSecret(to) || jwt(from) != jwt(to))
}

// needsSecret reports whether clients of method m authenticate with a
// secret satupintu issues.
func needsSecret(m string) bool {
	return m != storage.AuthMethodNone && m != storage.AuthMethodPrivateKeyJWT
}

// RotateSecret gives client id a new secret and returns the client and
// the secret; the old one stops working at once on every node.
func (s *Service) RotateSecret(ctx context.Context, a Actor, id string) (storage.Client, string, error) {
	var (
		out    storage.Client
		secret string
	)
	e := s.event(a, "client.rotate_secret", id, nil)
	err := s.Clients.UpdateClient(storage.WithAudit(ctx, e), id, func(c *storage.Client) error {
		if c.Public || !needsSecret(c.EffectiveAuthMethod()) {
			return ErrNoSecret
		}
		var err error
		if secret, err = s.IssueSecret(ctx, c); err != nil {
			return fmt.Errorf("admin: issue secret: %w", err)
		}
		c.UpdatedAt = s.now()
		out = *c
		return nil
	})
	if err != nil {
		return storage.Client{}, "", notFound(err)
	}
	s.ClientChanged(ctx, id)
	return out, secret, nil
}

// SetClientDisabled disables or enables client id: disabled, the provider
// refuses it as unknown on every node at once, and Your Apps hides it.
func (s *Service) SetClientDisabled(ctx context.Context, a Actor, id string, disabled bool) error {
	action := "client.enable"
	if disabled {
		action = "client.disable"
	}
	err := s.Clients.UpdateClient(storage.WithAudit(ctx, s.event(a, action, id, nil)), id, func(c *storage.Client) error {
		c.Disabled, c.UpdatedAt = disabled, s.now()
		return nil
	})
	if err != nil {
		return notFound(err)
	}
	s.ClientChanged(ctx, id)
	return nil
}

// DeleteClient removes client id. Its refresh tokens and account links go
// with it (the store's foreign keys).
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	c, err := s.Clients.ClientByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	e := s.event(a, "client.delete", id, map[string]string{"name": c.Name})
	if err := s.Clients.DeleteClient(storage.WithAudit(ctx, e), id); err != nil {
		return notFound(err)
	}
	s.ClientChanged(ctx, id)
	return nil
}

// ---- users

// SearchUsers is storage's indexed search; an unknown kind or an empty
// value is a Problem, a stale cursor starts again at the first page.
func (s *Service) SearchUsers(ctx context.Context, q storage.UserSearch) (storage.UserPage, error) {
	q.Value = strings.TrimSpace(q.Value)
	if !slices.Contains(SearchKinds, q.By) {
		return storage.UserPage{}, invalid("search by one of " + strings.Join(SearchKinds, ", "))
	}
	if q.Value == "" {
		return storage.UserPage{}, nil
	}
	if len(q.Value) > 256 {
		return storage.UserPage{}, invalid("the search text is too long")
	}
	p, err := s.Users.SearchUsers(ctx, q)
	if errors.Is(err, storage.ErrInvalidCursor) {
		q.After = ""
		p, err = s.Users.SearchUsers(ctx, q)
	}
	if err != nil {
		return storage.UserPage{}, fmt.Errorf("admin: search users: %w", err)
	}
	return p, nil
}

// SearchKinds are what a user search may match, in the console's order.
var SearchKinds = []string{storage.SearchName, storage.SearchUsername, storage.SearchEmail, storage.SearchNIB, storage.SearchNPWP}

// User returns one user and their live sessions.
func (s *Service) User(ctx context.Context, id string) (storage.User, []storage.Session, error) {
	u, err := s.Users.UserByID(ctx, id)
	if err != nil {
		return storage.User{}, nil, notFound(err)
	}
	ss, err := s.Sessions.UserSessions(ctx, id)
	if err != nil {
		return storage.User{}, nil, fmt.Errorf("admin: sessions of %s: %w", id, err)
	}
	now := s.now()
	ss = slices.DeleteFunc(ss, func(x storage.Session) bool { return !now.Before(x.ExpiresAt) })
	slices.SortFunc(ss, func(x, y storage.Session) int { return y.CreatedAt.Compare(x.CreatedAt) })
	return u, ss, nil
}

// updateUser runs fn on user id with the event e in the same transaction.
func (s *Service) updateUser(ctx context.Context, e storage.AuditEvent, id string, fn func(*storage.User) error) (storage.User, error) {
	var out storage.User
	err := s.Users.UpdateUser(storage.WithAudit(ctx, e), id, func(u *storage.User) error {
		if err := fn(u); err != nil {
			return err
		}
		u.UpdatedAt = s.now()
		out = *u
		return nil
	})
	return out, notFound(err)
}

// SetUserDisabled disables or enables user id. Disabling ends the user's
// sessions (their applications are told) and revokes their refresh
// tokens, so nothing they hold keeps working.
func (s *Service) SetUserDisabled(ctx context.Context, a Actor, id string, disabled bool) error {
	if disabled && id == a.UserID {
		return ErrSelf
	}
	if disabled {
		if err := s.keepsAnAdmin(ctx, id); err != nil {
			return err
		}
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	if _, err := s.updateUser(ctx, s.event(a, action, id, nil), id, func(u *storage.User) error {
		u.Disabled = disabled
		return nil
	}); err != nil {
		return err
	}
	if disabled {
		// The disable stands whatever happens here: a disabled account
		// loses its sessions at its next request and its tokens are
		// refused; this only makes it immediate and tells the apps.
		if err := s.endAccess(ctx, id); err != nil {
			s.Logger.ErrorContext(ctx, "end access of a disabled user failed", "user_id", id, "error", err)
		}
	}
	return nil
}

// keepsAnAdmin refuses to disable or demote the last enabled admin: with
// none left, nobody could use the console again. Two operators demoting
// each other at the same moment can still both succeed; the CLI's `user
// create --role admin` is the way back.
func (s *Service) keepsAnAdmin(ctx context.Context, id string) error {
	u, err := s.Users.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	if !u.HasRole(storage.RoleAdmin) || u.Disabled {
		return nil
	}
	n, err := s.Users.CountEnabledAdmins(ctx)
	if err != nil {
		return fmt.Errorf("admin: count admins: %w", err)
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// endAccess ends every session of the user and revokes their refresh
// tokens.
func (s *Service) endAccess(ctx context.Context, userID string) error {
	if _, err := s.endSessions(ctx, userID, ""); err != nil {
		return err
	}
	if err := s.Users.RevokeUserRefreshTokens(ctx, userID); err != nil {
		return fmt.Errorf("admin: revoke refresh tokens of %s: %w", userID, err)
	}
	return nil
}

// SetUserExpiry sets (zero: clears) the moment user id's account stops
// signing in. A moment in the past is refused: that is disabling.
func (s *Service) SetUserExpiry(ctx context.Context, a Actor, id string, at time.Time) error {
	if !at.IsZero() && id == a.UserID {
		return ErrSelf
	}
	if !at.IsZero() && !at.After(s.now()) {
		return invalid("the expiry must be in the future; disable the account instead")
	}
	detail := map[string]string{"expires_at": "never"}
	if !at.IsZero() {
		detail["expires_at"] = at.UTC().Format(time.RFC3339)
	}
	_, err := s.updateUser(ctx, s.event(a, "user.set_expiry", id, detail), id, func(u *storage.User) error {
		u.ExpiresAt = at.UTC()
		return nil
	})
	return err
}

// UnlockUser lifts the sign-in lockout of user id through the lock epoch
// in the database (every node starts a fresh count); the event is stored
// with the change.
func (s *Service) UnlockUser(ctx context.Context, a Actor, id string) error {
	e := s.event(a, "user.unlock", id, nil)
	return notFound(storage.UnlockSignIn(storage.WithAudit(ctx, e), s.Users, id, s.now()))
}

// ResetSecondFactor removes user id's authenticator app and recovery
// codes (a lost phone); they enrol again at their next sign-in where it is
// required. Their sessions end: one may have been opened with the lost
// device.
func (s *Service) ResetSecondFactor(ctx context.Context, a Actor, id string) error {
	if id == a.UserID {
		return ErrSelf
	}
	if _, err := s.updateUser(ctx, s.event(a, "mfa.reset", id, nil), id, func(u *storage.User) error {
		u.TOTPSecret, u.MFAEnrolledAt, u.RecoveryCodes = nil, time.Time{}, nil
		return nil
	}); err != nil {
		return err
	}
	_, err := s.endSessions(ctx, id, "")
	return err
}

// SendPasswordReset mails user id a password-reset link; the event is
// stored with the link.
func (s *Service) SendPasswordReset(ctx context.Context, a Actor, id string) error {
	u, err := s.Users.UserByID(ctx, id)
	if err != nil {
		return notFound(err)
	}
	e := s.event(a, "password.reset_sent", id, nil)
	if err := s.MailPasswordReset(storage.WithAudit(ctx, e), u); err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return err
		}
		return fmt.Errorf("admin: send reset link to %s: %w", id, err)
	}
	return nil
}

// ErrCannotReset: the account has no email or password yet, or cannot
// sign in (MailPasswordReset's refusal).
var ErrCannotReset = &Problem{Status: 409, Key: "admin.user.cannot_reset",
	Title: "this account cannot reset its password (no email or password, or disabled)"}

// EndSessions ends user id's session sid, or all of them when sid is
// empty; it returns how many ended.
func (s *Service) EndSessions(ctx context.Context, a Actor, id, sid string) (int, error) {
	if _, err := s.Users.UserByID(ctx, id); err != nil {
		return 0, notFound(err)
	}
	n, err := s.endSessions(ctx, id, sid)
	if err != nil {
		return n, err
	}
	detail := map[string]string{"sessions": fmt.Sprint(n)}
	s.record(ctx, s.event(a, "session.end", id, detail))
	return n, nil
}

func (s *Service) endSessions(ctx context.Context, userID, only string) (int, error) {
	ss, err := s.Sessions.UserSessions(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("admin: sessions of %s: %w", userID, err)
	}
	n := 0
	for _, x := range ss {
		if only != "" && x.SID != only {
			continue
		}
		if err := s.Sessions.DeleteSession(ctx, x.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return n, fmt.Errorf("admin: end session: %w", err)
		}
		n++
		if s.OnSessionEnd != nil {
			s.OnSessionEnd(ctx, x)
		}
	}
	return n, nil
}

// Roles an operator may grant.
var Roles = []string{storage.RoleAdmin, storage.RoleOfficer}

// SetRole grants or removes role for user id. Nobody removes their own
// admin role, and the last enabled admin keeps theirs.
func (s *Service) SetRole(ctx context.Context, a Actor, id, role string, grant bool) error {
	if !slices.Contains(Roles, role) {
		return invalid("role must be one of " + strings.Join(Roles, ", "))
	}
	if !grant && id == a.UserID && role == storage.RoleAdmin {
		return ErrSelf
	}
	if !grant && role == storage.RoleAdmin {
		if err := s.keepsAnAdmin(ctx, id); err != nil {
			return err
		}
	}
	action := "role.grant"
	if !grant {
		action = "role.remove"
	}
	_, err := s.updateUser(ctx, s.event(a, action, id, map[string]string{"role": role}), id, func(u *storage.User) error {
		u.Roles = slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == role })
		if grant {
			u.Roles = append(u.Roles, role)
			slices.Sort(u.Roles)
		}
		return nil
	})
	if err == nil && !grant {
		// A role's pages check it on every request; sessions stay.
		s.Logger.InfoContext(ctx, "role removed", "user_id", id, "role", role)
	}
	return err
}

// ---- signing keys

// KeyView is a signing key as operators see it: never key material.
type KeyView struct {
	ID, Algorithm, State         string
	Created, Activates, NotAfter time.Time
	Sealed                       bool
}

// ListKeys returns every signing key with its state, by algorithm and age.
func (s *Service) ListKeys(ctx context.Context) ([]KeyView, error) {
	keys, err := s.Keys.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list keys: %w", err)
	}
	states := s.KeyStates(keys, s.now())
	out := make([]KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyView{ID: k.ID, Algorithm: k.Algorithm, State: states[k.ID], Created: k.CreatedAt,
			Activates: k.ActivatesAt, NotAfter: k.NotAfter, Sealed: k.Sealed})
	}
	slices.SortFunc(out, func(x, y KeyView) int {
		return cmp.Or(strings.Compare(x.Algorithm, y.Algorithm), x.Activates.Compare(y.Activates))
	})
	return out, nil
}

// RotateKey makes a successor for alg's signing key.
func (s *Service) RotateKey(ctx context.Context, a Actor, alg string) (string, error) {
	if !slices.Contains(s.Algorithms, alg) {
		return "", invalid("algorithm must be one of " + strings.Join(s.Algorithms, ", "))
	}
	// The key manager (op) writes the key; the event follows it.
	id, err := s.NewSigningKey(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("admin: rotate %s key: %w", alg, err)
	}
	s.record(ctx, s.event(a, "key.rotate", id, map[string]string{"alg": alg}))
	return id, nil
}
