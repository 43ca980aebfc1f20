package op

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// ClientStore is what the provider reads clients from.
type ClientStore interface {
	ClientByID(ctx context.Context, id string) (storage.Client, error)
}

// Scopes satupintu understands besides the OIDC standard ones.
const ScopeOrganization = "organization"

// ScopeAdmin is the admin API's scope. Only a client registered with
// AdminAPI obtains it, by client_credentials (ClientCredentialsTokenRequest);
// IsScopeAllowed never lets it into a user's authorization request.
const ScopeAdmin = "admin"

// client adapts storage.Client to zop.Client.
type client struct {
	c          storage.Client
	loginURL   func(string) string
	idLifetime time.Duration
}

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *client) LoginURL(id string) string        { return c.loginURL(id) }
func (c *client) IDTokenLifetime() time.Duration   { return c.idLifetime }
func (c *client) ClockSkew() time.Duration         { return 0 }

// DevMode stays off: it would relax redirect URI checks.
func (c *client) DevMode() bool { return false }

func (c *client) ApplicationType() zop.ApplicationType {
	if c.c.Public && isNativeRedirect(c.c.RedirectURIs) {
		return zop.ApplicationTypeNative
	}
	return zop.ApplicationTypeWeb
}

// isNativeRedirect reports loopback or custom-scheme redirects (RFC 8252).
func isNativeRedirect(uris []string) bool {
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil {
			continue
		}
		if p.Scheme != "http" && p.Scheme != "https" {
			return true
		}
		if h := p.Hostname(); h == "127.0.0.1" || h == "::1" {
			return true
		}
	}
	return false
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.EffectiveAuthMethod() == storage.AuthMethodNone {
		return oidc.AuthMethodNone
	}
	// Basic and post are both accepted (Config.AuthMethodPost); a client
	// with a signed assertion reaches zitadel with one-request Basic
	// credentials (clientauth.go), so Basic is right for it too.
	return oidc.AuthMethodBasic
}

// ResponseTypes: only code. Implicit and hybrid flows put tokens in URLs
// (RFC 9700 §2.1.2, ASVS 10.6.1).
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.c.GrantTypes))
	for _, g := range c.c.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

// AccessTokenType is always Bearer to zitadel: satupintu builds the RFC
// 9068 JWT access tokens itself (store.accessTokenValue).
func (c *client) AccessTokenType() zop.AccessTokenType {
	return zop.AccessTokenTypeBearer
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(scope string) bool { return scope == ScopeOrganization }

// IDTokenUserinfoClaimsAssertion puts the scope claims into the ID token as
// well as userinfo, so relying parties can read NIB/NPWP without a second call.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

// clientCache keeps decoded clients for ttl: every token request needs its
// client, and a database round trip each time would cap throughput. A
// change the store reports, here or on another node through Redis, drops
// the entry at once (Provider.InvalidateClient); one no node was told of
// (the admin CLI without Redis) shows after at most ttl.
type clientCache struct {
	store ClientStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]clientEntry
}

type clientEntry struct {
	c       storage.Client
	err     error // a cached ErrNotFound keeps floods of unknown ids off the database
	expires time.Time
}

// maxCachedClients bounds memory when callers try many unknown client ids.
const maxCachedClients = 10000

func newClientCache(store ClientStore, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{store: store, ttl: ttl, now: now, entries: map[string]clientEntry{}}
}

func (cc *clientCache) get(ctx context.Context, id string) (storage.Client, error) {
	now := cc.now()
	cc.mu.Lock()
	e, ok := cc.entries[id]
	cc.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.c, e.err
	}
	c, err := cc.store.ClientByID(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, fmt.Errorf("load client %s: %w", id, err)
	}
	if err == nil && c.Disabled {
		// A disabled client is refused as an unknown one, on every path
		// that looks clients up here (authorize, token, introspection,
		// logout, the sign-in UI, the admin API's token check).
		c, err = storage.Client{}, fmt.Errorf("client %s is disabled: %w", id, storage.ErrNotFound)
	}
	cc.mu.Lock()
	if len(cc.entries) >= maxCachedClients {
		clear(cc.entries)
	}
	cc.entries[id] = clientEntry{c: c, err: err, expires: now.Add(cc.ttl)}
	cc.mu.Unlock()
	return c, err
}

// ClientByID is get, for the sign-in UI (Provider.Clients).
func (cc *clientCache) ClientByID(ctx context.Context, id string) (storage.Client, error) {
	return cc.get(ctx, id)
}

// invalidate drops id so a change shows at once: made through this
// process, or reported by the store or another node (Provider.InvalidateClient).
func (cc *clientCache) invalidate(id string) {
	cc.mu.Lock()
	delete(cc.entries, id)
	cc.mu.Unlock()
}

// flush drops every entry, for when invalidations may have been missed.
func (cc *clientCache) flush() {
	cc.mu.Lock()
	clear(cc.entries)
	cc.mu.Unlock()
}
