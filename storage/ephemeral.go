package storage

import (
	"context"
	"slices"
	"time"
)

// AuthRequest is an authorization request between /authorize and the token
// exchange. It lives in the ephemeral store with a TTL.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *int64 // seconds; nil when the request had none
	LoginHint           string
	HintSubject         string // sub of a valid id_token_hint
	UILocales           []string
	ACRValues           []string
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the code may only
	// be exchanged with a DPoP proof by the key of this thumbprint.
	DPoPJKT   string
	CreatedAt time.Time

	// Set by the sign-in UI once the user is authenticated.
	Done      bool
	UserID    string
	AuthTime  time.Time
	AMR       []string
	SessionID string
	SID       string // the session's sid claim (Session.SID)
}

// Clone returns a copy of r that shares no slice or pointer with it.
func (r AuthRequest) Clone() AuthRequest {
	r.Scopes = slices.Clone(r.Scopes)
	r.Prompt = slices.Clone(r.Prompt)
	r.UILocales = slices.Clone(r.UILocales)
	r.ACRValues = slices.Clone(r.ACRValues)
	r.AMR = slices.Clone(r.AMR)
	if r.MaxAge != nil {
		v := *r.MaxAge
		r.MaxAge = &v
	}
	return r
}

// Session is a single sign-on session, referenced by the session cookie.
type Session struct {
	ID string
	// SID names the session to relying parties (the sid claim of ID and
	// logout tokens). It is random and separate from ID, which the session
	// cookie carries as a bearer secret; empty for sessions stored before it.
	SID       string
	UserID    string
	AuthTime  time.Time
	AMR       []string
	ClientIDs []string // clients that received tokens in this session
	UserAgent string
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AccessToken is an opaque access token's record; the token handed out is an
// encrypted reference to ID.
type AccessToken struct {
	ID       string
	ClientID string
	UserID   string // empty for client_credentials
	Scopes   []string
	Audience []string
	FamilyID string // refresh token family it came with, if any
	// OrganizationID is the organization its organization claim named:
	// the token is inactive once the user is no longer a member.
	OrganizationID string
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound
	// to (RFC 9449 §6); empty for a bearer token.
	JKT       string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthRequests stores authorization requests and their codes.
type AuthRequests interface {
	CreateAuthRequest(ctx context.Context, r AuthRequest, ttl time.Duration) error
	AuthRequestByID(ctx context.Context, id string) (AuthRequest, error)
	// UpdateAuthRequest applies fn atomically; the TTL is kept.
	UpdateAuthRequest(ctx context.Context, id string, fn func(*AuthRequest) error) error
	// SaveAuthCode links code to request id for ttl.
	SaveAuthCode(ctx context.Context, id, code string, ttl time.Duration) error
	// CreateAuthRequestWithCode is CreateAuthRequest and SaveAuthCode in
	// one step, for a request answered while it is created (single
	// sign-on): r lives for ttl, code for codeTTL. A taken id or code is
	// ErrAlreadyExists and stores neither.
	CreateAuthRequestWithCode(ctx context.Context, r AuthRequest, ttl time.Duration, code string, codeTTL time.Duration) error
	// ConsumeAuthCode returns the request for code and deletes both the code
	// and the request, atomically: a code is redeemable once (RFC 6749 §4.1.2).
	ConsumeAuthCode(ctx context.Context, code string) (AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Sessions stores SSO sessions.
type Sessions interface {
	// CreateSession stores s until s.ExpiresAt.
	CreateSession(ctx context.Context, s Session) error
	// CreateSessionCapped is CreateSession that also bounds the user's live
	// sessions: in the same atomic step it ends the user's sessions that
	// expire first (the oldest, as every sign-in gives a session the same
	// lifetime; equal expiries by ID) until fewer than maxPerUser remain,
	// so with s at most maxPerUser are live. It returns the sessions it
	// ended. s itself is never ended by its own creation; maxPerUser <= 0
	// means no cap, as does an empty s.UserID. Afterwards the user's index
	// holds no more ids than live sessions.
	CreateSessionCapped(ctx context.Context, s Session, maxPerUser int) ([]Session, error)
	SessionByID(ctx context.Context, id string) (Session, error)
	// AddSessionClient records that clientID received tokens in session id.
	AddSessionClient(ctx context.Context, id, clientID string) error
	DeleteSession(ctx context.Context, id string) error
	UserSessions(ctx context.Context, userID string) ([]Session, error)
	DeleteUserSessions(ctx context.Context, userID string) error
}

// AccessTokens stores opaque access tokens.
type AccessTokens interface {
	// CreateAccessToken stores t until t.ExpiresAt.
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// IssueAccessToken is CreateAccessToken with the writes that go with a
	// token of a sign-in, in the same round trip: with.SessionID gets
	// t.ClientID as AddSessionClient would (a session that is gone is no
	// error), and with.Once is stored as PutOnce would (a live key is kept).
	IssueAccessToken(ctx context.Context, t AccessToken, with TokenWrites) error
	AccessTokenByID(ctx context.Context, id string) (AccessToken, error)
	DeleteAccessToken(ctx context.Context, id string) error
	// DeleteAccessTokenFamily deletes the access tokens issued with a refresh
	// token family, so revoking a refresh token ends its grant (RFC 7009 §2.1).
	DeleteAccessTokenFamily(ctx context.Context, familyID string) error
}

// TokenWrites are what IssueAccessToken writes besides the token.
type TokenWrites struct {
	SessionID string
	Once      OnceValue
}

// OnceValue is a PutOnce; an empty Key means none.
type OnceValue struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// OneTime stores small values that are read once: pending logout requests,
// CAPTCHA answers, and the like.
type OneTime interface {
	PutOnce(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// TakeOnce returns and deletes the value; ErrNotFound if absent or expired.
	TakeOnce(ctx context.Context, key string) ([]byte, error)
}

// Ephemeral is everything a short-lived-state backend provides.
type Ephemeral interface {
	AuthRequests
	Sessions
	AccessTokens
	OneTime
	Counters
	Drafts
	DeviceAuthorizations
	Ping(ctx context.Context) error
	Close() error
}
