package demorp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// BackchannelLogoutPath is where every demo app receives the provider's
// logout tokens (OIDC Back-Channel Logout 1.0); register ExternalURL +
// BackchannelLogoutPath as the client's backchannel_logout_uri.
const BackchannelLogoutPath = "/backchannel-logout"

// eventBackchannelLogout is the event a logout token must carry (§2.4).
const eventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenMaxAge is how old (by iat) a logout token may be: the
// provider signs one just before each attempt to deliver it.
const logoutTokenMaxAge = 2 * time.Minute

// Errors of VerifyLogoutToken besides zitadel's oidc.Err* ones.
var (
	ErrLogoutTokenType   = errors.New("demorp: not a logout token (typ)")
	ErrLogoutTokenEvent  = errors.New("demorp: logout token without the back-channel logout event")
	ErrLogoutTokenNonce  = errors.New("demorp: logout token carries a nonce")
	ErrLogoutTokenTarget = errors.New("demorp: logout token names neither sid nor sub")
)

// logoutClaims lets zitadel's oidc.Check* helpers read a logout token.
type logoutClaims struct {
	oidc.LogoutTokenClaims
	alg jose.SignatureAlgorithm
}

func (c *logoutClaims) GetIssuer() string                                 { return c.Issuer }
func (c *logoutClaims) GetSubject() string                                { return c.Subject }
func (c *logoutClaims) GetAudience() []string                             { return c.Audience }
func (c *logoutClaims) GetExpiration() time.Time                          { return c.Expiration.AsTime() }
func (c *logoutClaims) GetIssuedAt() time.Time                            { return c.IssuedAt.AsTime() }
func (c *logoutClaims) GetNonce() string                                  { s, _ := c.Claims["nonce"].(string); return s }
func (c *logoutClaims) GetAuthenticationContextClassReference() string    { return "" }
func (c *logoutClaims) GetAuthTime() time.Time                            { return time.Time{} }
func (c *logoutClaims) GetAuthorizedParty() string                        { s, _ := c.Claims["azp"].(string); return s }
func (c *logoutClaims) SetSignatureAlgorithm(alg jose.SignatureAlgorithm) { c.alg = alg }

// VerifyLogoutToken validates a logout token as Back-Channel Logout 1.0
// §2.6 asks, with the keys, issuer and client id of v (the relying
// party's ID token verifier): the signature by the provider's JWKS, typ
// logout+jwt (§2.4, so an ID token cannot pass for one), iss, aud, a
// fresh iat and an unexpired exp, the back-channel logout event, no
// nonce, and a sid or a sub.
func VerifyLogoutToken(ctx context.Context, v *rp.IDTokenVerifier, token string) (*oidc.LogoutTokenClaims, error) {
	var claims logoutClaims
	payload, err := oidc.ParseToken(token, &claims)
	if err != nil {
		return nil, fmt.Errorf("demorp: parse logout token: %w", err)
	}
	if err := oidc.CheckSignature(ctx, token, payload, &claims, v.SupportedSignAlgs, v.KeySet); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	// CheckSignature does not look at typ; the header is authentic now.
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{claims.alg})
	if err != nil {
		return nil, fmt.Errorf("demorp: logout token header: %w", err)
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != "logout+jwt" && typ != "application/logout+jwt" {
		return nil, ErrLogoutTokenType
	}
	if err := oidc.CheckIssuer(&claims, v.Issuer); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	if err := oidc.CheckAudience(&claims, v.ClientID); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	if err := oidc.CheckAuthorizedParty(&claims, v.ClientID); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	if err := oidc.CheckExpiration(&claims, v.Offset); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	if err := oidc.CheckIssuedAt(&claims, logoutTokenMaxAge, v.Offset); err != nil {
		return nil, fmt.Errorf("demorp: logout token: %w", err)
	}
	if _, ok := claims.Events[eventBackchannelLogout]; !ok {
		return nil, ErrLogoutTokenEvent
	}
	if _, ok := claims.Claims["nonce"]; ok {
		return nil, ErrLogoutTokenNonce
	}
	if claims.SessionID == "" && claims.Subject == "" {
		return nil, ErrLogoutTokenTarget
	}
	return &claims.LogoutTokenClaims, nil
}

// backchannelLogout answers POST /backchannel-logout (§2.5, §2.8): a
// valid logout token ends this app's sessions for its sid (or, without
// one, for its sub) and is answered 200; anything else 400. A session
// ended here shows "not signed in" on the browser's next page load.
func (h *handler) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, formBodyLimit)
	if err := r.ParseForm(); err != nil {
		writeAccountAnswer(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	ctx := r.Context()
	d, err := h.provider.get(ctx)
	if err != nil {
		h.logger.WarnContext(ctx, "back-channel logout: provider not discovered", "err", err)
		// Not 400: the token may be fine; the provider retries.
		writeAccountAnswer(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	claims, err := VerifyLogoutToken(ctx, d.rp.IDTokenVerifier(), r.PostForm.Get("logout_token"))
	if err != nil {
		h.logger.WarnContext(ctx, "back-channel logout refused", "err", err)
		writeAccountAnswer(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	n := h.sessions.deleteMatching(func(s session) bool { return endedBy(claims, s) })
	h.logger.InfoContext(ctx, "back-channel logout", "sub", claims.Subject, "sessions_ended", n)
	w.WriteHeader(http.StatusOK)
}

// endedBy reports whether a valid logout token ends s (§2.7): with a sid,
// the session whose ID token had that sid (and sub, if given); without
// one, every session of the sub.
func endedBy(claims *oidc.LogoutTokenClaims, s session) bool {
	sid, _ := s.Claims["sid"].(string)
	sub, _ := s.Claims["sub"].(string)
	if claims.SessionID != "" {
		return sid == claims.SessionID && (claims.Subject == "" || sub == claims.Subject)
	}
	return sub == claims.Subject
}
