package demorp

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"golang.org/x/oauth2"
)

// nonceKey carries the nonce expected in the ID token from the callback
// handler to the verifier: zitadel's verifier asks for it through a
// func(ctx) string (rp.WithNonce), and CodeExchangeHandler passes the
// request's context down to the verification.
type nonceKey struct{}

func withExpectedNonce(ctx context.Context, nonce string) context.Context {
	return context.WithValue(ctx, nonceKey{}, nonce)
}

func expectedNonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// discovered is everything built from the provider's discovery document.
type discovered struct {
	rp rp.RelyingParty
	// refresh is the same client adjusted for the refresh_token grant; see
	// refreshRP.
	refresh  rp.RelyingParty
	exchange http.Handler // rp.CodeExchangeHandler, built once
}

// refreshRP wraps the relying party for rp.RefreshTokens, which takes both
// the scope it sends and the verifier it checks with from the RelyingParty.
type refreshRP struct {
	rp.RelyingParty
	// config has no scopes: RefreshTokens would otherwise send every
	// configured scope, and a provider that granted fewer (say, without
	// `organization`) answers invalid_scope. Omitted means "as originally
	// granted" (RFC 6749 §6).
	config *oauth2.Config
	// verifier leaves the nonce to the caller: a refreshed ID token may omit
	// it or repeat the original one (OIDC Core §12.2), and the verifier can
	// only demand one exact value.
	verifier *rp.IDTokenVerifier
}

func newRefreshRP(relying rp.RelyingParty) refreshRP {
	config := *relying.OAuthConfig()
	config.Scopes = nil
	verifier := *relying.IDTokenVerifier()
	verifier.Nonce = nil
	return refreshRP{RelyingParty: relying, config: &config, verifier: &verifier}
}

func (r refreshRP) OAuthConfig() *oauth2.Config          { return r.config }
func (r refreshRP) IDTokenVerifier() *rp.IDTokenVerifier { return r.verifier }

// provider builds the relying party on first use and retries until discovery
// succeeds, because the demo apps usually start before (or together with) the
// provider, and rp.NewRelyingPartyOIDC fails outright when discovery does.
type provider struct {
	discover func(context.Context) (*discovered, error)
	timeout  time.Duration

	mu  sync.Mutex
	cur *discovered
}

// get returns the discovered provider, running discovery if it has not
// succeeded yet. Concurrent callers wait for one attempt instead of each
// hammering a provider that is still starting.
func (p *provider) get(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return p.cur, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	p.cur = d
	return d, nil
}
