package upstream

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Discovery is lazy: satupintu starts whatever state its upstreams are in,
// and a provider that was down is tried again at the next sign-in, at most
// once per retryAfter, so a dead upstream is not hammered by every click.
const (
	retryAfter       = 5 * time.Second
	discoveryTimeout = 10 * time.Second
	maxLogoBytes     = 32 << 10
)

// errDown reports that the upstream could not be reached or answered
// nonsense (discovery, keys, token endpoint).
var errDown = errors.New("upstream: provider unavailable")

// nonceKey carries the nonce the current callback expects, for the ID
// token verifier (OIDC Core §3.1.3.7 step 11).
type nonceKey struct{}

func expectedNonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// remote is one provider's relying party, built at first use.
type remote struct {
	p           Provider
	redirectURI string
	httpClient  *http.Client
	now         func() time.Time

	mu      sync.Mutex
	rp      rp.RelyingParty
	logo    string // data: URI of an https logo, or the configured path
	tried   time.Time
	lastErr error
}

// relyingParty returns the provider's RP, running discovery if it has not
// succeeded yet (and was not tried within retryAfter).
func (m *remote) relyingParty(ctx context.Context) (rp.RelyingParty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rp != nil {
		return m.rp, nil
	}
	now := m.now()
	if m.lastErr != nil && now.Sub(m.tried) < retryAfter {
		return nil, m.lastErr
	}
	m.tried = now
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	opts := []rp.Option{
		rp.WithHTTPClient(m.httpClient),
		// The ID token is checked as OIDC Core §3.1.3.7 says, by rp: issuer,
		// audience, azp, signature with the provider's published keys and
		// algorithms, expiry, iat, and the nonce this browser's flow sent.
		rp.WithSigningAlgsFromDiscovery(),
		rp.WithVerifierOpts(rp.WithNonce(expectedNonce), rp.WithIssuedAtOffset(time.Minute)),
	}
	if m.p.PrivateKeyFile == "" {
		opts = append(opts, rp.WithAuthStyle(oauth2.AuthStyleInHeader)) // client_secret_basic
	} else {
		// private_key_jwt: client_id in the body beside the assertion, and
		// no Basic header with an empty secret to confuse the provider.
		opts = append(opts, rp.WithAuthStyle(oauth2.AuthStyleInParams))
		secret, keyID := m.p.secret, m.p.KeyID
		opts = append(opts, rp.WithJWTProfile(func() (jose.Signer, error) { return newSigner(secret, keyID) }))
	}
	party, err := rp.NewRelyingPartyOIDC(ctx, m.p.Issuer, m.p.ClientID, m.p.ClientSecret, m.redirectURI, m.p.Scopes, opts...)
	if err != nil {
		m.lastErr = fmt.Errorf("%w: discovery of %s: %w", errDown, m.p.Issuer, err)
		return nil, m.lastErr
	}
	m.rp, m.lastErr = party, nil
	return party, nil
}

// logoURL is what the sign-in button shows: a path as configured, or an
// https logo fetched once and inlined as a data: URI, since the pages'
// Content-Security-Policy loads images from this origin only.
func (m *remote) logoURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.HasPrefix(m.p.LogoURL, "/") {
		return m.p.LogoURL
	}
	return m.logo
}

// fetchLogo inlines an https logo; any failure leaves the button without one.
func (m *remote) fetchLogo(ctx context.Context) error {
	if m.p.LogoURL == "" || strings.HasPrefix(m.p.LogoURL, "/") {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.p.LogoURL, nil)
	if err != nil {
		return err
	}
	res, err := m.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxLogoBytes+1))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || len(b) > maxLogoBytes {
		return fmt.Errorf("logo: status %d, %d bytes", res.StatusCode, len(b))
	}
	// Sniffed, never the declared type; SVG is not taken (it can script).
	ct := http.DetectContentType(b)
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return fmt.Errorf("logo: %s is not a raster image", ct)
	}
	m.mu.Lock()
	m.logo = "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(b)
	m.mu.Unlock()
	return nil
}

// exchange redeems code with the PKCE verifier and returns the verified ID
// token claims. private_key_jwt clients authenticate with a fresh assertion
// (RFC 7523 §2.2).
func (m *remote) exchange(ctx context.Context, party rp.RelyingParty, code, verifier, nonce string) (*oidc.IDTokenClaims, error) {
	opts := []rp.CodeExchangeOpt{rp.WithCodeVerifier(verifier)}
	if s := party.Signer(); s != nil {
		assertion, err := client.SignedJWTProfileAssertion(m.p.ClientID,
			[]string{party.Issuer(), party.OAuthConfig().Endpoint.TokenURL}, 5*time.Minute, s)
		if err != nil {
			return nil, fmt.Errorf("upstream: client assertion: %w", err)
		}
		opts = append(opts, rp.WithClientAssertionJWT(assertion))
	}
	ctx = context.WithValue(ctx, nonceKey{}, nonce)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, party, opts...)
	if err != nil {
		return nil, err
	}
	return tokens.IDTokenClaims, nil
}

// newSigner reads a private key for private_key_jwt: PEM (PKCS#1 or
// PKCS#8; keyID names it) or a JWK with its own kid.
func newSigner(b []byte, keyID string) (jose.Signer, error) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte("{")) {
		if keyID == "" {
			return nil, errors.New("a PEM key needs key_id (the kid the provider knows it by)")
		}
		return client.NewSignerFromPrivateKeyByte(b, keyID)
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("neither PEM nor JWK: %w", err)
	}
	if k.IsPublic() {
		return nil, errors.New("the JWK is a public key; the private key is needed")
	}
	if keyID != "" {
		k.KeyID = keyID
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	if alg == "" {
		switch k.Key.(type) {
		case *rsa.PrivateKey:
			alg = jose.RS256
		case *ecdsa.PrivateKey:
			alg = jose.ES256
		case ed25519.PrivateKey:
			alg = jose.EdDSA
		default:
			return nil, errors.New("unsupported JWK key type")
		}
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: &k}, (&jose.SignerOptions{}).WithType("JWT"))
}
