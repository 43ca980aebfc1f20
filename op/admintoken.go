package op

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// AccessTokenInfo is what a bearer access token grants, for an API of
// satupintu's own (the admin API) that is its own resource server.
type AccessTokenInfo struct {
	ClientID  string
	UserID    string // empty for a client_credentials token
	Scopes    []string
	ExpiresAt time.Time
}

// HasScope reports whether the token was granted scope.
func (i AccessTokenInfo) HasScope(scope string) bool {
	return slices.Contains(i.Scopes, scope)
}

// ErrTokenInvalid: the token is unknown, expired, revoked, bound to a DPoP
// key, or its client is gone (RFC 6750 §3.1 invalid_token).
var ErrTokenInvalid = errors.New("op: access token invalid")

// VerifyAccessToken resolves a bearer access token as userinfo and
// introspection do: an opaque token is opened with the provider's token
// crypto, a JWT access token (at+jwt) verified with its keys and issuer
// by zitadel's verifier; either way the stored token named by its id must
// still exist and be unexpired, so revocation holds for both formats.
// DPoP-bound tokens are refused: their proof is checked only on the
// protocol endpoints, and a bound token used as a plain bearer token would
// defeat the binding (RFC 9449 §7.1).
func (p *Provider) VerifyAccessToken(ctx context.Context, token string) (AccessTokenInfo, error) {
	if token == "" {
		return AccessTokenInfo{}, ErrTokenInvalid
	}
	id, ok := p.accessTokenID(ctx, token)
	if !ok {
		return AccessTokenInfo{}, ErrTokenInvalid
	}
	s := p.store
	at, err := s.ephemeral.AccessTokenByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return AccessTokenInfo{}, ErrTokenInvalid
	}
	if err != nil {
		return AccessTokenInfo{}, s.unavailable(ctx, "load access token", err)
	}
	if at.JKT != "" || !s.now().Before(at.ExpiresAt) {
		return AccessTokenInfo{}, ErrTokenInvalid
	}
	// A deleted client's tokens die with it.
	if _, err := s.clients.get(ctx, at.ClientID); errors.Is(err, storage.ErrNotFound) {
		return AccessTokenInfo{}, ErrTokenInvalid
	} else if err != nil {
		return AccessTokenInfo{}, s.unavailable(ctx, "load client", err)
	}
	return AccessTokenInfo{ClientID: at.ClientID, UserID: at.UserID, Scopes: at.Scopes, ExpiresAt: at.ExpiresAt}, nil
}

// accessTokenID is the stored id behind token, found the way zitadel's
// userinfo endpoint finds it: the token crypto first ("id:subject"), then
// the access-token verifier (signature by the provider's keys, typ at+jwt,
// issuer, expiry).
func (p *Provider) accessTokenID(ctx context.Context, token string) (string, bool) {
	if plain, err := p.zp.Crypto().Decrypt(token); err == nil {
		id, _, ok := strings.Cut(plain, ":")
		return id, ok && id != ""
	}
	ctx = zop.ContextWithIssuer(ctx, p.cfg.Issuer)
	claims, err := zop.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.zp.AccessTokenVerifier(ctx))
	if err != nil || claims.JWTID == "" {
		return "", false
	}
	return claims.JWTID, true
}
