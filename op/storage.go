package op

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/password"
	"satupintu/storage"
)

// Durable is the slice of durable storage the provider uses.
type Durable interface {
	ClientStore
	KeyStore
	storage.Users
	storage.Organizations
	storage.RefreshTokens
	storage.Audit
	// AppLink finds the user's linked account in a client application,
	// for the app_username claim.
	AppLink(ctx context.Context, userID, clientID string) (storage.AppLink, error)
	// Membership and ChosenOrganization pick the organization a client
	// receives and check that its tokens still speak for a member.
	Membership(ctx context.Context, orgID, userID string) (storage.Membership, error)
	ChosenOrganization(ctx context.Context, userID, clientID string) (string, error)
	Ping(ctx context.Context) error
}

// Ephemeral is the slice of short-lived storage the provider uses.
type Ephemeral interface {
	storage.AuthRequests
	storage.AccessTokens
	storage.Sessions
	storage.OneTime
	storage.DeviceAuthorizations
	Ping(ctx context.Context) error
}

// LogoutRequest is a validated RP-initiated logout handed to the sign-in UI,
// which owns the session cookie.
type LogoutRequest struct {
	UserID       string
	ClientID     string
	RedirectURI  string // validated: registered for the client, or the default page
	HintVerified bool   // the request carried an id_token_hint we signed
}

// store implements zop.Storage on top of satupintu's storage interfaces.
type store struct {
	durable   Durable
	ephemeral Ephemeral
	clients   *clientCache
	subjects  *subjects
	keys      *keyManager
	cfg       *Config
	log       *slog.Logger
}

var (
	_ zop.Storage                        = (*store)(nil)
	_ zop.ClientCredentialsStorage       = (*store)(nil)
	_ zop.CanSetUserinfoFromRequest      = (*store)(nil)
	_ zop.CanTerminateSessionFromRequest = (*store)(nil)
)

func (s *store) now() time.Time { return s.cfg.Now().UTC() }

// requests is the ephemeral store New wrapped in deferring.
func (s *store) requests() deferring { return s.ephemeral.(deferring) }

// --- authorization requests and codes ---

func (s *store) CreateAuthRequest(ctx context.Context, in *oidc.AuthRequest, hintSubject string) (zop.AuthRequest, error) {
	if admit, ok := ctx.Value(admitKey{}).(func() error); ok {
		if err := admit(); err != nil {
			return nil, s.refuseAdmission(ctx, err)
		}
	}
	r := newAuthRequest(in, hintSubject, s.now())
	r.DPoPJKT = dpopJKTParam(ctx)
	if err := s.ephemeral.CreateAuthRequest(ctx, r, s.cfg.AuthRequestLifetime); err != nil {
		return nil, s.unavailable(ctx, "create auth request", err)
	}
	return s.authRequest(ctx, r, "")
}

func (s *store) AuthRequestByID(ctx context.Context, id string) (zop.AuthRequest, error) {
	r, err := s.ephemeral.AuthRequestByID(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, oidc.ErrInvalidRequest().WithDescription("the sign-in request has expired").WithParent(err)
		}
		return nil, s.unavailable(ctx, "load auth request", err)
	}
	return s.authRequest(ctx, r, "")
}

// AuthRequestByCode consumes the code: a second redemption finds nothing
// (RFC 6749 §4.1.2), even when two arrive at once.
func (s *store) AuthRequestByCode(ctx context.Context, code string) (zop.AuthRequest, error) {
	r, err := s.ephemeral.ConsumeAuthCode(ctx, code)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.revokeReplayedCode(ctx, code)
			return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or already used").WithParent(err)
		}
		return nil, s.unavailable(ctx, "consume code", err)
	}
	if err := s.checkCodeBinding(ctx, r); err != nil {
		return nil, err
	}
	return s.authRequest(ctx, r, code)
}

// authRequest adapts r, with the subject its client receives.
func (s *store) authRequest(ctx context.Context, r storage.AuthRequest, code string) (*authRequest, error) {
	sub, err := s.subjectFor(ctx, r.ClientID, r.UserID)
	if err != nil {
		return nil, err
	}
	return &authRequest{r: r, code: code, sub: sub}, nil
}

// subjectFor is the sub clientID receives for userID: the id itself, or
// its pairwise subject (pairwise.go).
func (s *store) subjectFor(ctx context.Context, clientID, userID string) (string, error) {
	if userID == "" {
		return "", nil
	}
	c, err := s.clients.get(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", oidc.ErrInvalidClient().WithDescription("unknown client").WithParent(err)
	}
	if err != nil {
		return "", s.unavailable(ctx, "load client", err)
	}
	return s.subjects.external(c, userID), nil
}

// userFor is the user id behind sub, a subject clientID received; "" if
// sub is not one of its subjects.
func (s *store) userFor(ctx context.Context, clientID, sub string) (string, error) {
	c, err := s.clients.get(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", s.unavailable(ctx, "load client", err)
	}
	id, err := s.subjects.internal(c, sub)
	if err != nil {
		return "", nil
	}
	return id, nil
}

// codeGrant is what a redeemed code yielded, kept so a replay can revoke it.
type codeGrant struct {
	AccessTokenID string `json:"at"`
	FamilyID      string `json:"family,omitempty"`
	ClientID      string `json:"client_id"`
	UserID        string `json:"sub"`
}

func usedCodeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "code-used:" + hex.EncodeToString(sum[:])
}

// revokeReplayedCode: a code presented twice may have been stolen, so the
// tokens of its first redemption are revoked (RFC 6749 §4.1.2, ASVS 10.4.2).
func (s *store) revokeReplayedCode(ctx context.Context, code string) {
	b, err := s.ephemeral.TakeOnce(ctx, usedCodeKey(code))
	if err != nil {
		return
	}
	var g codeGrant
	if json.Unmarshal(b, &g) != nil {
		return
	}
	if err := s.ephemeral.DeleteAccessToken(ctx, g.AccessTokenID); err != nil {
		s.log.ErrorContext(ctx, "revoke access token of replayed code", "client_id", g.ClientID, "error", err)
	}
	if g.FamilyID != "" {
		s.revokeFamily(ctx, storage.RefreshToken{FamilyID: g.FamilyID, ClientID: g.ClientID, UserID: g.UserID}, "code.replay")
		return
	}
	s.audit(ctx, storage.AuditEvent{Action: "code.replay", ActorID: g.ClientID, Subject: g.UserID, ClientID: g.ClientID})
}

func (s *store) SaveAuthCode(ctx context.Context, id, code string) error {
	if err := s.ephemeral.SaveAuthCode(ctx, id, code, s.cfg.CodeLifetime); err != nil {
		return s.unavailable(ctx, "save code", err)
	}
	return nil
}

// DeleteAuthRequest does nothing: zitadel calls it after a code exchange,
// and redeeming the code (AuthRequestByCode) deleted the request already.
// The provider answers response_type=code only, so no other request
// reaches a token response.
func (s *store) DeleteAuthRequest(context.Context, string) error { return nil }

// --- tokens ---

// grant is what a token request tells about who gets the token, and how.
type grant struct {
	clientID, userID, sessionID string
	name                        string // the grant type, for metrics
}

func grantOf(ctx context.Context, req zop.TokenRequest) (grant, error) {
	switch r := req.(type) {
	case *authRequest:
		return grant{r.r.ClientID, r.r.UserID, r.r.SessionID, string(oidc.GrantTypeCode)}, nil
	case *clientCredentialsRequest:
		return grant{clientID: r.clientID, name: string(oidc.GrantTypeClientCredentials)}, nil
	case *refreshTokenRequest:
		return grant{clientID: r.rt.ClientID, userID: r.rt.UserID, name: string(oidc.GrantTypeRefreshToken)}, nil
	case *zop.DeviceAuthorizationState:
		// r.Subject is the sub the client receives (pairwise.go); the
		// grant names the user, and the session that allowed the device
		// (for the back-channel logout, as with a code).
		d, ok := deviceAuthorizationOf(ctx, r)
		if !ok {
			return grant{}, oidc.ErrInvalidGrant().WithDescription("the device authorization is not this request's")
		}
		return grant{r.ClientID, d.UserID, d.SessionID, string(oidc.GrantTypeDeviceCode)}, nil
	default:
		return grant{}, oidc.ErrUnsupportedGrantType()
	}
}

func (s *store) CreateAccessToken(ctx context.Context, req zop.TokenRequest) (string, time.Time, error) {
	g, err := grantOf(ctx, req)
	if err != nil {
		return "", time.Time{}, err
	}
	clientID, userID := g.clientID, g.userID
	noteSigningClient(ctx, clientID)
	id, exp, err := s.newAccessToken(ctx, g, "", req)
	if err != nil {
		return "", time.Time{}, err
	}
	value, err := s.accessTokenValue(ctx, clientID, userID, id, exp, req)
	return value, exp, err
}

func (s *store) newAccessToken(ctx context.Context, g grant, familyID string, req zop.TokenRequest) (string, time.Time, error) {
	now := s.now()
	clientID, userID := g.clientID, g.userID
	t := storage.AccessToken{
		ID:        storage.NewID(),
		ClientID:  clientID,
		UserID:    userID,
		Scopes:    req.GetScopes(),
		Audience:  req.GetAudience(),
		FamilyID:  familyID,
		JKT:       dpopFrom(ctx).bind(),
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.AccessTokenLifetime),
	}
	if userID != "" && slices.Contains(t.Scopes, ScopeOrganization) {
		orgID, err := s.organizationFor(ctx, userID, clientID)
		if err != nil {
			return "", time.Time{}, s.classify(ctx, "pick organization", err)
		}
		t.OrganizationID = orgID
	}
	// In the same round trip: the session remembers the client for the
	// logout fan-out, and a redeemed code what it yielded, so that a
	// replay can revoke it.
	with := storage.TokenWrites{SessionID: g.sessionID}
	if ar, ok := req.(*authRequest); ok && ar.code != "" {
		b, _ := json.Marshal(codeGrant{AccessTokenID: t.ID, FamilyID: familyID, ClientID: clientID, UserID: userID})
		with.Once = storage.OnceValue{Key: usedCodeKey(ar.code), Value: b, TTL: s.cfg.AuthRequestLifetime}
	}
	if err := s.ephemeral.IssueAccessToken(ctx, t, with); err != nil {
		return "", time.Time{}, s.unavailable(ctx, "store access token", err)
	}
	if s.cfg.TokenIssued != nil {
		s.cfg.TokenIssued(g.name)
	}
	return t.ID, t.ExpiresAt, nil
}

// newRefreshValue returns a refresh token and the ID it is stored under.
func newRefreshValue() (token, id string) {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand documents it)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, refreshID(token)
}

func refreshID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (s *store) CreateAccessAndRefreshTokens(ctx context.Context, req zop.TokenRequest, current string) (string, string, time.Time, error) {
	g, err := grantOf(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	clientID, userID := g.clientID, g.userID
	noteSigningClient(ctx, clientID)
	now := s.now()
	token, id := newRefreshValue()
	next := storage.RefreshToken{
		ID: id, ClientID: clientID, UserID: userID,
		Scopes: req.GetScopes(), Audience: req.GetAudience(), CreatedAt: now,
	}
	switch r := req.(type) {
	case *authRequest:
		next.FamilyID, next.AMR, next.AuthTime = storage.NewID(), r.r.AMR, r.r.AuthTime
		next.ExpiresAt = s.refreshExpiry(now, now)
		if next.JKT, err = s.refreshJKT(ctx, clientID); err != nil {
			return "", "", time.Time{}, err
		}
		if err := s.durable.CreateRefreshToken(ctx, next); err != nil {
			return "", "", time.Time{}, s.unavailable(ctx, "store refresh token", err)
		}
	case *zop.DeviceAuthorizationState:
		next.FamilyID, next.AMR, next.AuthTime = storage.NewID(), r.AMR, r.AuthTime
		next.ExpiresAt = s.refreshExpiry(now, now)
		if next.JKT, err = s.refreshJKT(ctx, clientID); err != nil {
			return "", "", time.Time{}, err
		}
		if err := s.durable.CreateRefreshToken(ctx, next); err != nil {
			return "", "", time.Time{}, s.unavailable(ctx, "store refresh token", err)
		}
	case *refreshTokenRequest:
		next.FamilyID, next.AMR, next.AuthTime = r.rt.FamilyID, r.rt.AMR, r.rt.AuthTime
		next.ExpiresAt = s.refreshExpiry(now, familyStart(r.rt))
		next.JKT = r.rt.JKT // checked by TokenRequestByRefreshToken
		if err := s.durable.RotateRefreshToken(ctx, r.rt.ID, next); err != nil {
			if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				// Lost a race with another use of the same token: treat as reuse.
				s.revokeFamily(ctx, r.rt, "refresh_token.reuse")
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
			}
			return "", "", time.Time{}, s.unavailable(ctx, "rotate refresh token", err)
		}
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	atID, exp, err := s.newAccessToken(ctx, g, next.FamilyID, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	value, err := s.accessTokenValue(ctx, clientID, userID, atID, exp, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return value, token, exp, nil
}

// familyStart approximates when the grant began; the family's absolute
// lifetime (ASVS 10.4.8) counts from the original authentication.
func familyStart(rt storage.RefreshToken) time.Time {
	if !rt.AuthTime.IsZero() {
		return rt.AuthTime
	}
	return rt.CreatedAt
}

// refreshExpiry slides with use but never passes the absolute lifetime.
func (s *store) refreshExpiry(now, start time.Time) time.Time {
	idle := now.Add(s.cfg.RefreshTokenIdle)
	abs := start.Add(s.cfg.RefreshTokenAbsolute)
	if idle.After(abs) {
		return abs
	}
	return idle
}

func (s *store) TokenRequestByRefreshToken(ctx context.Context, token string) (zop.RefreshTokenRequest, error) {
	rt, err := s.durable.RefreshTokenByID(ctx, refreshID(token))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, oidc.ErrInvalidGrant().WithDescription("refresh token invalid")
		}
		// Not "invalid": the relying party must keep a token we could
		// not read (zitadel would call this invalid_grant).
		return nil, s.unavailable(ctx, "load refresh token", err)
	}
	// Before the reuse check: without the key, a stolen bound token can
	// neither be used nor revoke the grant.
	if err := s.checkRefreshBinding(ctx, rt); err != nil {
		return nil, err
	}
	if !rt.UsedAt.IsZero() {
		// A rotated token came back: it leaked. Revoke the whole grant
		// (RFC 9700 §4.14.2).
		s.revokeFamily(ctx, rt, "refresh_token.reuse")
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	}
	if !s.now().Before(rt.ExpiresAt) {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token expired")
	}
	u, err := s.durable.UserByID(ctx, rt.UserID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, s.unavailable(ctx, "load user of refresh token", err)
	}
	if err != nil || !u.CanSignIn(s.now()) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the account can no longer sign in")
	}
	sub, err := s.subjectFor(ctx, rt.ClientID, rt.UserID)
	if err != nil {
		return nil, err
	}
	return &refreshTokenRequest{rt: rt, scopes: rt.Scopes, sub: sub}, nil
}

func (s *store) revokeFamily(ctx context.Context, rt storage.RefreshToken, action string) {
	if err := s.durable.RevokeRefreshTokenFamily(ctx, rt.FamilyID); err != nil {
		s.log.ErrorContext(ctx, "revoke refresh token family", "client_id", rt.ClientID, "error", err)
	}
	if err := s.ephemeral.DeleteAccessTokenFamily(ctx, rt.FamilyID); err != nil {
		s.log.ErrorContext(ctx, "revoke access tokens of family", "client_id", rt.ClientID, "error", err)
	}
	s.audit(ctx, storage.AuditEvent{Action: action, ActorID: rt.ClientID, Subject: rt.UserID, ClientID: rt.ClientID})
}

func (s *store) audit(ctx context.Context, e storage.AuditEvent) {
	e.Time = s.now()
	if err := s.durable.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "append audit event", "action", e.Action, "error", err)
	}
}

// TerminateSession is unused: TerminateSessionFromRequest takes precedence.
func (s *store) TerminateSession(ctx context.Context, userID, clientID string) error {
	return nil
}

// TerminateSessionFromRequest hands the validated logout to the sign-in UI,
// which ends the SSO session (asking for confirmation without a valid hint).
func (s *store) TerminateSessionFromRequest(ctx context.Context, req *zop.EndSessionRequest) (string, error) {
	userID := req.UserID
	if userID != "" && req.ClientID != "" {
		// The hint's sub is the client's view of the user (pairwise.go).
		id, err := s.userFor(ctx, req.ClientID, userID)
		if err != nil {
			return "", err
		}
		userID = id
	}
	u, err := s.cfg.LogoutURL(ctx, LogoutRequest{
		UserID:       userID,
		ClientID:     req.ClientID,
		RedirectURI:  req.RedirectURI,
		HintVerified: req.IDTokenHintClaims != nil,
	})
	if err != nil {
		// The pending logout is an anonymous write, bounded per address.
		return "", s.refuseByQuota(ctx, "store logout", err, keyLogoutTooMany)
	}
	return u, nil
}

func (s *store) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	at, err := s.ephemeral.AccessTokenByID(ctx, tokenOrID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return s.unavailable(ctx, "load access token to revoke", err)
	}
	if err == nil {
		if at.ClientID != clientID {
			return oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
		}
		if err := s.ephemeral.DeleteAccessToken(ctx, at.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return s.unavailable(ctx, "revoke access token", err)
		}
		s.audit(ctx, storage.AuditEvent{Action: "token.revoke", ActorID: clientID, Subject: at.UserID, ClientID: clientID})
		return nil
	}
	rt, err := s.durable.RefreshTokenByID(ctx, tokenOrID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // RFC 7009 §2.2: unknown tokens are not an error
	}
	if err != nil {
		return s.unavailable(ctx, "load refresh token to revoke", err)
	}
	if rt.ClientID != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
	}
	// Revoking a refresh token ends its whole grant, access tokens included
	// (RFC 7009 §2.1).
	s.revokeFamily(ctx, rt, "token.revoke")
	return nil
}

func (s *store) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	rt, err := s.durable.RefreshTokenByID(ctx, refreshID(token))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", "", s.unavailable(ctx, "load refresh token", err)
	}
	if err != nil || rt.ClientID != clientID {
		return "", "", zop.ErrInvalidRefreshToken
	}
	return rt.UserID, rt.ID, nil
}

// --- keys ---

// SigningKey is asked for ID tokens: the key of the client's algorithm.
func (s *store) SigningKey(ctx context.Context) (zop.SigningKey, error) {
	k, err := s.idTokenKey(ctx)
	if err != nil {
		return nil, s.unavailable(ctx, "load signing key", err)
	}
	return k, nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return s.keys.algorithms(), nil
}

func (s *store) KeySet(ctx context.Context) ([]zop.Key, error) {
	keys, err := s.keys.publicKeys(ctx)
	if err != nil {
		return nil, s.unavailable(ctx, "load public keys", err)
	}
	return keys, nil
}

// --- clients ---

func (s *store) GetClientByClientID(ctx context.Context, id string) (zop.Client, error) {
	c, err := s.clients.get(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
		}
		return nil, s.unavailable(ctx, "load client", err)
	}
	return deviceView(ctx, &client{c: c, loginURL: s.cfg.LoginURL, idLifetime: s.cfg.IDTokenLifetime}), nil
}

func (s *store) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	_, err := s.authenticateClient(ctx, id, secret)
	return err
}

// authenticateClient checks a confidential client's secret, or the
// one-request credentials of a client that authenticated with an assertion
// (handOn in clientauth.go).
func (s *store) authenticateClient(ctx context.Context, id, secret string) (storage.Client, error) {
	c, err := s.clients.get(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Client{}, oidc.ErrInvalidClient().WithDescription("client authentication failed")
		}
		return storage.Client{}, s.unavailable(ctx, "load client", err)
	}
	if preauthenticated(ctx, id, secret) {
		return c, nil
	}
	// Only the registered method authenticates the client: a secret is
	// no use to a client registered for a signed assertion.
	m := c.EffectiveAuthMethod()
	if m != storage.AuthMethodSecretBasic && m != storage.AuthMethodSecretPost {
		return storage.Client{}, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	if c.Public || c.SecretHash == "" || password.VerifySecret(secret, c.SecretHash) != nil {
		return storage.Client{}, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return c, nil
}

func (s *store) ClientCredentials(ctx context.Context, id, secret string) (zop.Client, error) {
	c, err := s.authenticateClient(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	// A client without the grant is refused by zitadel right after, with
	// 400 unauthorized_client (RFC 6749 §5.2): refusing it here would come
	// out as 401 invalid_client, as if its credentials were wrong.
	return &client{c: c, loginURL: s.cfg.LoginURL, idLifetime: s.cfg.IDTokenLifetime}, nil
}

// ClientCredentialsTokenRequest drops user scopes: a service token speaks for
// no person.
// The admin scope is refused (invalid_scope, RFC 6749 §5.2) to a client
// not registered for the admin API, rather than silently dropped, so a
// misconfigured service learns why at once.
func (s *store) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (zop.TokenRequest, error) {
	kept := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool {
		return sc == oidc.ScopeOpenID || sc == oidc.ScopeOfflineAccess || userScopes[sc]
	})
	if slices.Contains(kept, ScopeAdmin) {
		c, err := s.clients.get(ctx, id)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
			}
			return nil, s.unavailable(ctx, "load client", err)
		}
		if !c.AdminAPI || c.Public {
			return nil, oidc.ErrInvalidScope().WithDescription("the admin scope is only for clients registered for the admin API")
		}
	}
	return &clientCredentialsRequest{clientID: id, scopes: kept}, nil
}

// --- claims ---

func (s *store) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // deprecated by zitadel; SetUserinfoFromRequest does the work
}

func (s *store) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req zop.IDTokenRequest, scopes []string) error {
	tr, ok := req.(zop.TokenRequest)
	if !ok {
		return fmt.Errorf("op: ID token for an unexpected request %T", req)
	}
	g, err := grantOf(ctx, tr)
	if err != nil {
		return fmt.Errorf("op: ID token: %w", err)
	}
	if err := s.fillUserinfo(ctx, info, g.userID, req.GetClientID(), scopes); err != nil {
		return s.classify(ctx, "fill id token claims", err)
	}
	// Only an ID token from a sign-in names its session: the relying party
	// matches a back-channel logout token's sid against it.
	if ar, ok := req.(*authRequest); ok && ar.r.SID != "" {
		info.AppendClaims(ClaimSessionID, ar.r.SID)
	}
	if d, ok := deviceAuthorizationOf(ctx, req); ok {
		deviceClaims(info, d) // sid and acr, as a code's ID token has (device.go)
	}
	return nil
}

func (s *store) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	at, err := s.ephemeral.AccessTokenByID(ctx, tokenID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return s.unavailable(ctx, "load access token", err)
	}
	if err != nil || at.UserID == "" || !acceptsToken(ctx, at) {
		return errInvalidToken()
	}
	// The token names its subject as its client received it.
	if owner, err := s.userFor(ctx, at.ClientID, subject); err != nil {
		return err
	} else if owner != at.UserID {
		return errInvalidToken()
	}
	if member, err := s.stillMember(ctx, at); err != nil {
		return s.unavailable(ctx, "load membership", err)
	} else if !member {
		return errInvalidToken() // removed from the organization the token speaks for
	}
	if err := s.fillUserinfo(ctx, info, at.UserID, at.ClientID, at.Scopes); err != nil {
		var e *oidc.Error
		if errors.As(err, &e) && !isUnavailable(err) {
			return errInvalidToken() // the account can no longer sign in
		}
		return s.classify(ctx, "fill userinfo", err)
	}
	return nil
}

// errInvalidToken: the bearer token is expired, revoked or otherwise not
// usable (RFC 6750 §3.1); the guard answers it with 401.
func errInvalidToken() *oidc.Error {
	return &oidc.Error{ErrorType: "invalid_token", Description: "access token invalid"}
}

func (s *store) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, err := s.ephemeral.AccessTokenByID(ctx, tokenID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		// Not "inactive": the resource server would refuse a valid token.
		return s.unavailable(ctx, "load access token", err)
	}
	if err != nil {
		return oidc.ErrInvalidRequest().WithDescription("token inactive")
	}
	// RFC 7662 §4: a client may only learn about tokens meant for it.
	if at.ClientID != clientID && !slices.Contains(at.Audience, clientID) {
		return oidc.ErrInvalidRequest().WithDescription("token inactive")
	}
	// Every check first: an inactive answer carries nothing but
	// active=false (RFC 7662 §2.2), whatever zitadel does with resp.
	sub, username := at.ClientID, ""
	if at.UserID != "" {
		c, err := s.clients.get(ctx, at.ClientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return s.unavailable(ctx, "load client", err)
		}
		if err != nil {
			return oidc.ErrInvalidRequest().WithDescription("token inactive")
		}
		u, err := s.durable.UserByID(ctx, at.UserID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return s.unavailable(ctx, "load user", err)
		}
		if err != nil || !u.CanSignIn(s.now()) {
			return oidc.ErrInvalidRequest().WithDescription("token inactive")
		}
		if member, err := s.stillMember(ctx, at); err != nil {
			return s.unavailable(ctx, "load membership", err)
		} else if !member {
			return oidc.ErrInvalidRequest().WithDescription("token inactive")
		}
		sub = s.subjects.external(c, at.UserID)
		if !pairwise(c) {
			// A username is the same in every sector: a pairwise
			// client's resource servers do not get it.
			username = u.Username
		}
	}
	resp.Scope = at.Scopes
	resp.ClientID = at.ClientID
	resp.TokenType = oidc.BearerToken
	dpopIntrospection(resp, at)
	resp.Expiration = oidc.FromTime(at.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(at.CreatedAt)
	resp.Audience = at.Audience
	resp.Issuer = s.cfg.Issuer
	resp.Subject = sub
	resp.Username = username
	return nil
}

func (s *store) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *store) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

func (s *store) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

func (s *store) Health(ctx context.Context) error {
	if err := s.durable.Ping(ctx); err != nil {
		return fmt.Errorf("durable storage: %w", err)
	}
	if err := s.ephemeral.Ping(ctx); err != nil {
		return fmt.Errorf("ephemeral storage: %w", err)
	}
	return nil
}
