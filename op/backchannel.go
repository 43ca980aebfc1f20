package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

// OIDC Back-Channel Logout 1.0: when an SSO session ends, every client it
// signed the user in to and that registered a back-channel logout URI is
// sent a logout token, server to server, by the job queue (package jobs).

// LogoutTokenLifetime is how long a logout token is valid: it is made just
// before each delivery attempt, so it needs to outlive only one request.
const LogoutTokenLifetime = 2 * time.Minute

// LogoutTokenType is the JWS typ of a logout token (§2.4), which keeps it
// from being mistaken for an ID token.
const LogoutTokenType = "logout+jwt"

// EventBackchannelLogout is the one member of a logout token's events claim.
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// LogoutQueue queues the delivery of one client's logout token; the job
// queue implements it, and asks LogoutNotice for the token when it runs.
type LogoutQueue interface {
	QueueLogout(ctx context.Context, clientID, userID, sid string) error
}

// EndSession is the sign-in and account UIs' OnSessionEnd hook: for each
// client that got tokens in s and registered a back-channel logout URI, it
// revokes the user's refresh tokens of that client (with their access
// tokens) and queues the logout token's delivery. Refresh tokens are not
// bound to a session in storage, so the grant ended is the user's whole
// grant to that client. Failures are logged: the session is already gone.
func (p *Provider) EndSession(ctx context.Context, s storage.Session) {
	// The session is gone already; a browser that hangs up now must not
	// leave its applications signed in.
	ctx = context.WithoutCancel(ctx)
	st := p.store
	for _, clientID := range s.ClientIDs {
		c, err := st.clients.get(ctx, clientID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since: nobody to tell
		}
		if err != nil {
			st.log.ErrorContext(ctx, "back-channel logout: load client", "client_id", clientID, "error", err)
			continue
		}
		if c.BackchannelLogoutURI == "" {
			continue
		}
		families, err := st.durable.RevokeUserClientRefreshTokens(ctx, s.UserID, clientID)
		if err != nil {
			st.log.ErrorContext(ctx, "back-channel logout: revoke refresh tokens", "client_id", clientID, "error", err)
		}
		for _, f := range families {
			if err := st.ephemeral.DeleteAccessTokenFamily(ctx, f); err != nil {
				st.log.ErrorContext(ctx, "back-channel logout: revoke access tokens", "client_id", clientID, "error", err)
			}
		}
		if p.cfg.Logouts == nil {
			continue
		}
		if err := p.cfg.Logouts.QueueLogout(ctx, clientID, s.UserID, s.SID); err != nil {
			st.log.ErrorContext(ctx, "back-channel logout: queue", "client_id", clientID, "error", err)
			continue
		}
		st.audit(ctx, storage.AuditEvent{Action: "backchannel_logout.queue", ActorID: s.UserID, Subject: s.UserID, ClientID: clientID})
	}
}

// LogoutNotice returns where to post clientID's logout token and a fresh
// token for the user's ended session sid. An empty uri means there is
// nothing to deliver: the client was deleted or no longer registers a URI.
func (p *Provider) LogoutNotice(ctx context.Context, clientID, userID, sid string) (uri, token string, err error) {
	c, err := p.store.clients.get(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("op: load client %s: %w", clientID, err)
	}
	if c.BackchannelLogoutURI == "" {
		return "", "", nil
	}
	token, err = p.LogoutToken(ctx, clientID, userID, sid)
	if err != nil {
		return "", "", err
	}
	return c.BackchannelLogoutURI, token, nil
}

// LogoutToken signs a logout token (§2.4) for clientID with the key ID
// tokens are signed with: sub and sid, a one-minute-scale expiry, a random
// jti the client may use to refuse a replay, and never a nonce (§2.6).
func (p *Provider) LogoutToken(ctx context.Context, clientID, userID, sid string) (string, error) {
	c, err := p.store.clients.get(ctx, clientID)
	if err != nil {
		return "", fmt.Errorf("op: load client %s: %w", clientID, err)
	}
	// §2.4: signed like the client's ID tokens.
	key, err := p.store.keys.signingKeyFor(ctx, p.store.clientAlg(c))
	if err != nil {
		return "", fmt.Errorf("op: load signing key: %w", err)
	}
	sub, err := p.store.subjectFor(ctx, clientID, userID)
	if err != nil {
		return "", fmt.Errorf("op: subject for %s: %w", clientID, err)
	}
	now := p.cfg.Now().UTC()
	claims := oidc.NewLogoutTokenClaims(p.cfg.Issuer, sub, oidc.Audience{clientID},
		now.Add(LogoutTokenLifetime), storage.NewID(), sid, 0)
	claims.IssuedAt = oidc.FromTime(now) // our clock, not the library's
	claims.Events = map[string]any{EventBackchannelLogout: struct{}{}}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("op: encode logout token: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: key.SignatureAlgorithm(),
		Key:       &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()},
	}, (&jose.SignerOptions{}).WithType(LogoutTokenType))
	if err != nil {
		return "", fmt.Errorf("op: logout token signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("op: sign logout token: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("op: serialize logout token: %w", err)
	}
	return token, nil
}
