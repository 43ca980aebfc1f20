// Package storage holds satupintu's domain types and the small interfaces the
// protocol and UI packages consume. It knows no SQL, no HTTP and no templates:
// backends live in the sub-packages (sqlite, postgres for durable data; memory,
// redis for short-lived state) and are chosen once, in cmd/satupintu.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"time"
)

// Sentinel errors. Backends map their own errors (sql.ErrNoRows, unique
// violations, redis.Nil) to these at the boundary; callers use errors.Is.
var (
	ErrNotFound      = errors.New("storage: not found")
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrConflict reports a lost race or a state that forbids the change,
	// such as rotating a refresh token that was already used.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable reports that the backing server could not do the work
	// right now: unreachable, timed out, shutting down, out of memory or
	// refusing writes (read-only, disk full). The request may succeed later,
	// so callers answer 503, never "not found" or "invalid". Backends join
	// it with the driver's error, which stays in the chain for the log.
	ErrUnavailable = errors.New("storage: unavailable")
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random identifier with 160 bits from crypto/rand
// (ASVS 11.5.1 asks for at least 128), in lower-case base32.
func NewID() string {
	var b [20]byte
	rand.Read(b[:]) // never returns an error (crypto/rand documents it)
	return lower(idEncoding.EncodeToString(b[:]))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// Address is a postal address as the registration form collects it.
type Address struct {
	Street     string `json:"street_address,omitempty"`
	City       string `json:"locality,omitempty"`
	Province   string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Organization is a registered company.
type Organization struct {
	ID           string
	NIB          string // 13 digits
	NPWP         string // 15 or 16 digits, digits only
	Name         string
	TraderType   string // e.g. "importir", "eksportir", "ppjk"
	BusinessType string // a code of the wizard's list: "pt", "cv", … (README, claims)
	Address      Address
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Roles a user may hold besides being a trader.
const (
	RoleOfficer = "officer"
	RoleAdmin   = "admin"
)

// User is a person who signs in. A user may belong to several
// organizations (Memberships); OrganizationID is the default one.
type User struct {
	ID             string // the OIDC sub: random, never reused
	Username       string // unique, compared case-insensitively (stored lower case)
	Email          string // unique, stored lower case
	EmailVerified  bool
	Name           string
	Phone          string // E.164, e.g. +6281234567890
	Position       string // job title inside the organization
	PasswordHash   string // PHC string (argon2id); empty means no password set
	OrganizationID string // the default organization; empty for staff accounts
	Roles          []string
	Disabled       bool
	ExpiresAt      time.Time // zero: never expires
	// TOTP multi-factor: the shared secret (encrypted by the caller before
	// it is stored), when enrolment was confirmed (zero: not enrolled) and
	// the argon2id hashes of the unused recovery codes. Backends return
	// an empty secret or code list as nil: none left and none issued are
	// the same state, and enrolment is told by MFAEnrolledAt alone.
	TOTPSecret        []byte
	MFAEnrolledAt     time.Time
	RecoveryCodes     []string
	PasswordChangedAt time.Time
	// LockEpoch is part of the key sign-in failures of the account are
	// counted under (login/throttle.go): raising it (an administrator's
	// unlock) starts every node on a fresh count and lifts the lock.
	LockEpoch int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MFAEnrolled reports whether the user confirmed a second factor.
func (u *User) MFAEnrolled() bool { return !u.MFAEnrolledAt.IsZero() }

// HasRole reports whether the user holds role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// CanSignIn reports whether the account may authenticate at now:
// disabled and expired accounts may not.
func (u *User) CanSignIn(now time.Time) bool {
	if u.Disabled {
		return false
	}
	return u.ExpiresAt.IsZero() || now.Before(u.ExpiresAt)
}

// Grant types a client may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client is a relying party registered with the provider.
type Client struct {
	ID                     string
	SecretHash             string // PHC string; empty for public clients
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool // no secret; PKCE required
	GrantTypes             []string
	AccessTokenFormat      string // "opaque" (default) or "jwt"
	// RequireMFA makes every sign-in to this client use a second factor.
	RequireMFA bool
	// The "Your Apps" listing: shown to signed-in users when Listed, opened
	// at LaunchURL; AllowedTraderTypes limits it (empty: everyone).
	Listed             bool
	Description        string
	LogoURL            string
	LaunchURL          string
	AllowedTraderTypes []string
	// AccountLinkURL is the client's endpoint that checks a user's existing
	// credentials in that application ("Create SSO" in the 2011 manual);
	// empty: the client does not offer account linking.
	AccountLinkURL string
	// BackchannelLogoutURI receives a logout token when a session that
	// signed the user in to this client ends (OIDC Back-Channel Logout
	// 1.0); empty: the client is not told.
	BackchannelLogoutURI string
	// InitiateLoginURI is the client's third-party-initiated login
	// endpoint (OIDC Core §4): "Open" in Your Apps sends the browser there
	// with iss, and the application starts the sign-in. Empty: "Open" goes
	// to LaunchURL, where the user may find themselves signed out.
	InitiateLoginURI string
	// SubjectType is "public" (the user's id, the default) or "pairwise"
	// (OIDC Core §8.1: a sub of SectorIdentifier's own, so applications of
	// different sectors cannot join their users by sub).
	SubjectType string
	// SectorIdentifier is the host pairwise subjects are computed for: the
	// redirect URIs' one host, or the host of SectorIdentifierURI, whose
	// JSON list named every redirect URI at registration. Fixed once set.
	SectorIdentifier    string
	SectorIdentifierURI string
	// AuthMethod is the registered token_endpoint_auth_method (one of the
	// AuthMethod constants); empty: AuthMethodNone for a public client,
	// AuthMethodSecretBasic otherwise (EffectiveAuthMethod).
	AuthMethod string
	// JWKS (a JSON JWK Set, public keys only) or JWKSURI (where to fetch
	// it) holds the keys of a private_key_jwt client; one of the two.
	JWKS    string
	JWKSURI string
	// SecretSealed is a client_secret_jwt client's secret, sealed by the
	// provider (op.SealClientSecret): its HMAC key must be known in the
	// clear, while SecretHash only verifies.
	SecretSealed []byte
	// RequirePAR refuses this client's authorization requests unless they
	// were pushed first (RFC 9126 §6).
	RequirePAR bool
	// DPoPRequired refuses token requests without a DPoP proof (RFC 9449),
	// so every access token of this client is sender-constrained.
	DPoPRequired bool
	// IDTokenSignedResponseAlg is the JWS alg of the client's ID tokens
	// and logout tokens (OIDC Dynamic Client Registration §2); empty: the
	// provider's default.
	IDTokenSignedResponseAlg string
	// AdminAPI lets the client obtain the "admin" scope by
	// client_credentials (the admin API); only a confidential client whose
	// only grant is client_credentials may have it (validate.Client).
	AdminAPI bool
	// Disabled refuses the client everywhere (the provider treats it as
	// unknown, Your Apps hides it) while keeping its record and secret, so
	// enabling it again needs nothing new at the application.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Client authentication methods (OIDC Core §9, RFC 7591 §2).
const (
	AuthMethodNone          = "none"
	AuthMethodSecretBasic   = "client_secret_basic"
	AuthMethodSecretPost    = "client_secret_post"
	AuthMethodSecretJWT     = "client_secret_jwt"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// AuthMethods lists every method a client may register.
var AuthMethods = []string{AuthMethodSecretBasic, AuthMethodSecretPost, AuthMethodSecretJWT, AuthMethodPrivateKeyJWT, AuthMethodNone}

// EffectiveAuthMethod is the method the client authenticates with; rows
// written before AuthMethod existed derive it from Public.
func (c *Client) EffectiveAuthMethod() string {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.Public:
		return AuthMethodNone
	default:
		return AuthMethodSecretBasic
	}
}

// AllowsGrant reports whether the client may use grant type g.
func (c *Client) AllowsGrant(g string) bool {
	for _, have := range c.GrantTypes {
		if have == g {
			return true
		}
	}
	return false
}

// SigningKey is a private key the provider signs tokens with. Keys are kept
// after they stop signing so tokens they signed still verify.
type SigningKey struct {
	ID        string // the JWS kid
	Algorithm string // "RS256", "PS256", "ES256" or "EdDSA"
	// PrivateDER is PKCS #8, or, when Sealed, that DER encrypted with the
	// key-encryption key (op.SealKey); backends store it as given.
	PrivateDER []byte
	Sealed     bool
	// Predecessor is the key of the same algorithm this one replaces;
	// empty for the first. A key has at most one successor.
	Predecessor string
	CreatedAt   time.Time
	// ActivatesAt is when the key may start signing: it is published
	// before, so relying parties already hold it (OIDC Core §10.1.1).
	ActivatesAt time.Time
	// NotAfter is when the key retires: it leaves the published set and
	// may be deleted. Zero while it has no successor.
	NotAfter time.Time
}

// RefreshToken is the durable record of a refresh token. The token value
// handed to the client is never stored: ID is its SHA-256, hex encoded.
// Tokens of one grant share a FamilyID so a reused token can revoke them all
// (RFC 9700 §4.14.2).
type RefreshToken struct {
	ID        string
	FamilyID  string
	ClientID  string
	UserID    string
	Scopes    []string
	Audience  []string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set when the token was exchanged for a successor.
	UsedAt time.Time
	// JKT binds a public client's token to its DPoP key (RFC 9449 §5):
	// a refresh must present a proof by that key. Empty: not bound.
	JKT string
}

// AuditEvent is one security-relevant action.
type AuditEvent struct {
	ID       int64
	Time     time.Time
	Action   string // e.g. "login.success", "client.create"
	ActorID  string // user or client that acted; empty if unknown
	Subject  string // what was acted on
	ClientID string
	IP       string
	Detail   map[string]string
	// Outcome is "success" or "failure"; empty when appended means
	// AuditOutcome(Action).
	Outcome string
	// PrevHash and Hash chain the log (AuditHash); the store fills them.
	PrevHash, Hash []byte
}

// Users stores accounts.
type Users interface {
	CreateUser(ctx context.Context, u User) error
	UserByID(ctx context.Context, id string) (User, error)
	// UserByLogin finds a user by username or email (case-insensitive).
	UserByLogin(ctx context.Context, login string) (User, error)
	// UpdateUser applies fn to the current record inside a transaction;
	// an error from fn aborts the update and is returned as is.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) error
	ListUsers(ctx context.Context) ([]User, error)
}

// Organizations stores companies.
type Organizations interface {
	CreateOrganization(ctx context.Context, o Organization) error
	OrganizationByID(ctx context.Context, id string) (Organization, error)
	OrganizationByNIB(ctx context.Context, nib string) (Organization, error)
}

// Clients stores relying parties.
type Clients interface {
	CreateClient(ctx context.Context, c Client) error
	ClientByID(ctx context.Context, id string) (Client, error)
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) error
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context) ([]Client, error)
}

// Keys stores signing keys.
type Keys interface {
	// CreateSigningKey stores k. When k.Predecessor is set, the same
	// transaction sets NotAfter to retire on every other key of k's
	// algorithm that has none yet: the predecessor, and keys stored before
	// keys had predecessors (a zero retire changes nothing). A key has one
	// successor at most: if another key of k's algorithm already names the
	// same predecessor (another node rotated first), nothing is stored and
	// the error is ErrConflict; a taken id is ErrAlreadyExists. The
	// predecessor need not exist any more.
	CreateSigningKey(ctx context.Context, k SigningKey, retire time.Time) error
	// SigningKeys returns every stored key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// SealSigningKey replaces the plaintext private key of id with its
	// sealed form; ErrNotFound if there is no such key, ErrConflict if it
	// is sealed already (another node sealed it first).
	SealSigningKey(ctx context.Context, id string, sealed []byte) error
	// DeleteRetiredSigningKeys deletes the keys whose NotAfter is set and
	// not after now, and returns how many.
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}

// RefreshTokens stores refresh tokens.
type RefreshTokens interface {
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	RefreshTokenByID(ctx context.Context, id string) (RefreshToken, error)
	// RotateRefreshToken marks oldID used at next.CreatedAt and stores next,
	// atomically. It returns ErrConflict if oldID was already used, so two
	// concurrent refreshes with one token cannot both succeed.
	RotateRefreshToken(ctx context.Context, oldID string, next RefreshToken) error
	// RevokeRefreshTokenFamily deletes every token of the family.
	RevokeRefreshTokenFamily(ctx context.Context, familyID string) error
	// RevokeUserRefreshTokens deletes every token of the user.
	RevokeUserRefreshTokens(ctx context.Context, userID string) error
	// UserRefreshTokens returns the user's unused, unexpired tokens at now
	// (one a grant), oldest first: what each application may still do.
	UserRefreshTokens(ctx context.Context, userID string, now time.Time) ([]RefreshToken, error)
	// RevokeUserClientRefreshTokens deletes the user's tokens of one client
	// and returns the families they belonged to (their access tokens go
	// too, in the ephemeral store).
	RevokeUserClientRefreshTokens(ctx context.Context, userID, clientID string) ([]string, error)
}

// Secrets stores generated key material that must survive restarts and be
// shared by every node (cookie keys, the token encryption key).
type Secrets interface {
	// Secret returns the secret called name, creating it from gen on first use.
	// Two nodes racing on first use end up with the same value.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// Audit is the append-only audit log. Any byte sequence a client sent may
// reach it (an attempted login name): AppendAudit stores every event,
// escaping what a database or a reader's terminal must not get (invalid
// UTF-8 as \xHH; NUL, other control characters and bidirectional
// overrides as \uHHHH) and cutting each field, Detail keys and values
// included, to MaxAuditField bytes (ending in "…"). Detail keeps at most
// MaxAuditDetail entries, the first by key.
const (
	MaxAuditField  = 512
	MaxAuditDetail = 32
)

// Audit stores AuditEvents, chained: each event carries the Hash of the
// one before it (AuditHash), so an edited, inserted or removed row shows.
//
// An event about a change commits with it: attach it to the write's
// context with WithAudit and the store appends it inside the write's own
// transaction (a rolled-back write stores none and leaves it pending; a
// committed one stores it once, and later writes with that context do
// not again). AppendAudit is for events no write goes with (a failed
// sign-in).
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns up to limit events with ID < before (0: newest), newest first.
	ListAudit(ctx context.Context, before int64, limit int) ([]AuditEvent, error)
	// ListAuditFiltered returns up to f.Limit events matching f, newest
	// first; every filter is an index range.
	ListAuditFiltered(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// AuditAscending returns up to limit events with ID > afterID, oldest
	// first, hashes included: what a verifier streams.
	AuditAscending(ctx context.Context, afterID int64, limit int) ([]AuditEvent, error)
	// AuditHead returns the id and hash of the newest chained event (0 and
	// nil for an empty log): a verifier's check that no tail was cut off.
	AuditHead(ctx context.Context) (id int64, hash []byte, err error)
	// PruneAudit deletes the events that occurred before before (the
	// retention limit) and returns how many it deleted. Each transaction
	// that deletes also appends an AuditPruneAction event saying which ids
	// it removed, so a verifier can tell pruning from tampering.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// AppLink records that a user proved an account in a client application
// ("Create SSO"): the application then receives its own username for them.
type AppLink struct {
	UserID      string
	ClientID    string
	AppUsername string
	LinkedAt    time.Time
}

// AppLinks stores account links.
type AppLinks interface {
	// LinkApp stores or replaces the link of (UserID, ClientID); both must
	// exist (ErrNotFound). Deleting either deletes the link.
	LinkApp(ctx context.Context, l AppLink) error
	AppLink(ctx context.Context, userID, clientID string) (AppLink, error)
	// AppLinksOf returns the user's links ordered by ClientID.
	AppLinksOf(ctx context.Context, userID string) ([]AppLink, error)
	// UnlinkApp deletes the link; deleting a missing one is not an error.
	UnlinkApp(ctx context.Context, userID, clientID string) error
}

// Durable is everything a durable backend provides.
type Durable interface {
	Users
	UserSearcher
	Organizations
	Clients
	Keys
	RefreshTokens
	Secrets
	Audit
	Registrations
	ActionTokens
	AppLinks
	Passkeys
	UpstreamLinks
	Privacy
	Memberships
	Invitations
	SettingsStore
	Ping(ctx context.Context) error
	Close() error
}
