package op

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

// Client authentication at the endpoints where a client proves who it is
// (token, introspection, revocation, PAR): client_secret_basic and
// client_secret_post (both accepted for a client registered with either),
// client_secret_jwt and private_key_jwt (RFC 7523 §2.2, OIDC Core §9), and
// none for public clients.
//
// zitadel knows only secrets (and a JWT profile we do not offer), so a
// signed assertion is verified here, before zitadel, and the request handed
// on carries HTTP Basic credentials that are good for this one request: the
// client id and a random value that the request's context also holds
// (preauth). store.AuthorizeClientIDSecret accepts exactly that pair, so
// zitadel's own checks run unchanged and no fork is needed.

// Limits on client assertions.
const (
	// maxAssertionLifetime caps exp - now: a jti is remembered until exp,
	// so a long-lived assertion would make us keep it long (and would be a
	// long-lived credential if it leaked).
	maxAssertionLifetime = 5 * time.Minute
	// assertionLeeway tolerates clocks a little apart (FAPI 2.0: 10 s).
	assertionLeeway = 10 * time.Second
	maxJTILen       = 256
)

// clientAssertionType is the only assertion type (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Allowed assertion algorithms per method. Never none; never HMAC for a
// private_key_jwt client, so an HS256 token keyed with the client's public
// key cannot pass (ASVS 9.1.1).
var (
	privateKeyJWTAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}
	secretJWTAlgs     = []jose.SignatureAlgorithm{jose.HS256}
	assertionAlgs     = append(slices.Clone(privateKeyJWTAlgs), secretJWTAlgs...)
)

// AssertionSigningAlgs is what discovery advertises for the JWT methods.
func assertionSigningAlgs() []string {
	out := make([]string, 0, len(assertionAlgs))
	for _, a := range assertionAlgs {
		out = append(out, string(a))
	}
	return out
}

// authenticatedClient is the result of authenticating a request.
type authenticatedClient struct {
	client storage.Client
	method string // the method used: one of storage.AuthMethod*
}

// errClientAuth is the one answer to every failed client authentication:
// what was wrong goes to the log only.
func errClientAuth() *oidc.Error {
	return oidc.ErrInvalidClient().WithDescription("client authentication failed")
}

// authenticateRequest authenticates the client of a POST whose form is
// parsed and checked (clientRequestError). audience is the endpoint's URL,
// which an assertion may name besides the issuer and the token endpoint.
// With no credentials it returns a zero result and no error: the caller
// decides what a bare client_id may do. The status is 400, 401 or 503.
func (p *Provider) authenticateRequest(r *http.Request, audience string) (authenticatedClient, *oidc.Error, int) {
	form := r.PostForm
	header := r.Header.Get("Authorization")
	assertion, assertionType := form.Get("client_assertion"), form.Get("client_assertion_type")
	// RFC 6749 §2.3: a client MUST NOT use more than one method; an empty
	// parameter counts as absent (§3.1).
	methods := 0
	for _, used := range []bool{header != "", form.Get("client_secret") != "", assertion != "" || assertionType != ""} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return authenticatedClient{}, oidc.ErrInvalidRequest().WithDescription("use one client authentication method"), http.StatusBadRequest
	}
	switch {
	case assertion != "" || assertionType != "":
		return p.authenticateAssertion(r, assertion, assertionType, audience)
	case header != "":
		rawID, rawSecret, ok := r.BasicAuth()
		if !ok {
			return authenticatedClient{}, errClientAuth(), http.StatusUnauthorized
		}
		id, err1 := url.QueryUnescape(rawID) // RFC 6749 §2.3.1: form-encoded first
		secret, err2 := url.QueryUnescape(rawSecret)
		if err1 != nil || err2 != nil || id == "" {
			return authenticatedClient{}, errClientAuth(), http.StatusUnauthorized
		}
		if c := form.Get("client_id"); c != "" && c != id {
			return authenticatedClient{}, oidc.ErrInvalidRequest().WithDescription("client_id does not match the authenticated client"), http.StatusBadRequest
		}
		return p.authenticateSecret(r.Context(), id, secret, storage.AuthMethodSecretBasic)
	case form.Get("client_secret") != "":
		id := form.Get("client_id")
		if id == "" {
			return authenticatedClient{}, errClientAuth(), http.StatusUnauthorized
		}
		return p.authenticateSecret(r.Context(), id, form.Get("client_secret"), storage.AuthMethodSecretPost)
	default:
		return authenticatedClient{}, nil, 0
	}
}

func (p *Provider) authenticateSecret(ctx context.Context, id, secret, method string) (authenticatedClient, *oidc.Error, int) {
	c, err := p.store.authenticateClient(ctx, id, secret)
	if err != nil {
		if isUnavailable(err) {
			return authenticatedClient{}, errUnavailable(), http.StatusServiceUnavailable
		}
		return authenticatedClient{}, errClientAuth(), http.StatusUnauthorized
	}
	return authenticatedClient{client: c, method: method}, nil, 0
}

// authenticateAssertion verifies a client_secret_jwt or private_key_jwt
// assertion (RFC 7523 §3) and spends its jti.
func (p *Provider) authenticateAssertion(r *http.Request, assertion, assertionType, audience string) (authenticatedClient, *oidc.Error, int) {
	ctx := r.Context()
	fail := func(clientID, reason string) (authenticatedClient, *oidc.Error, int) {
		p.cfg.Logger.InfoContext(ctx, "client assertion refused", "client_id", truncate(clientID, 64), "reason", reason)
		return authenticatedClient{}, errClientAuth(), http.StatusUnauthorized
	}
	if assertionType != clientAssertionType || assertion == "" {
		return fail("", "assertion type or assertion missing")
	}
	tok, err := jwt.ParseSigned(assertion, assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return fail("", "not a signed JWT with an allowed algorithm")
	}
	hdr := tok.Headers[0]
	// An ID token, logout token or DPoP proof is not a client assertion
	// (ASVS 9.2.2); a plain or absent typ is what clients send.
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != "" && !strings.EqualFold(typ, "JWT") &&
		!strings.EqualFold(typ, "client-authentication+jwt") {
		return fail("", "typ "+truncate(typ, 32))
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return fail("", "claims do not parse")
	}
	id := unverified.Issuer
	if id == "" || len(id) > maxParamLen {
		return fail("", "no issuer")
	}
	if c := r.PostForm.Get("client_id"); c != "" && c != id {
		return fail(id, "client_id differs from the assertion's issuer")
	}
	c, err := p.store.clients.get(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fail(id, "unknown client")
		}
		p.store.unavailable(ctx, "load client", err)
		return authenticatedClient{}, errUnavailable(), http.StatusServiceUnavailable
	}
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	method := c.EffectiveAuthMethod()
	var keys []any
	switch method {
	case storage.AuthMethodPrivateKeyJWT:
		if !slices.Contains(privateKeyJWTAlgs, alg) {
			return fail(id, "algorithm "+string(alg)+" not allowed for private_key_jwt")
		}
		keys, err = p.clientKeys.keysFor(ctx, c, hdr.KeyID, alg)
		if err != nil {
			return fail(id, err.Error())
		}
	case storage.AuthMethodSecretJWT:
		if !slices.Contains(secretJWTAlgs, alg) {
			return fail(id, "algorithm "+string(alg)+" not allowed for client_secret_jwt")
		}
		secret, err := p.clientSecret(c)
		if err != nil {
			p.cfg.Logger.ErrorContext(ctx, "open client secret", "client_id", id, "error", err)
			return fail(id, "secret does not open")
		}
		keys = []any{secret}
	default:
		return fail(id, "registered method is "+method)
	}
	var claims jwt.Claims
	verified := false
	for _, k := range keys {
		if tok.Claims(k, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return fail(id, "signature does not verify")
	}
	if reason := p.checkAssertionClaims(claims, id, audience); reason != "" {
		return fail(id, reason)
	}
	// RFC 7523 §3 item 7: a jti is used once. The shared ephemeral store
	// (SET NX in Redis) keeps it until the assertion expires, on every node
	// (with a leeway more for nodes whose clocks lag this one's).
	now := p.store.now()
	ttl := claims.Expiry.Time().Add(2 * assertionLeeway).Sub(now)
	if err := p.store.ephemeral.PutOnce(ctx, jtiKey(id, claims.ID), []byte{1}, ttl); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			p.store.audit(ctx, storage.AuditEvent{Action: "client.assertion_replay", ActorID: id, ClientID: id})
			return fail(id, "jti already used")
		}
		p.store.unavailable(ctx, "record assertion jti", err)
		return authenticatedClient{}, errUnavailable(), http.StatusServiceUnavailable
	}
	return authenticatedClient{client: c, method: method}, nil, 0
}

// checkAssertionClaims returns why claims are not acceptable, or "".
func (p *Provider) checkAssertionClaims(claims jwt.Claims, id, audience string) string {
	now := p.store.now()
	switch {
	case claims.Issuer != id || claims.Subject != id:
		return "iss and sub must be the client_id"
	case !p.assertionAudience(claims.Audience, audience):
		return "audience"
	case claims.Expiry == nil:
		return "exp missing"
	case !now.Before(claims.Expiry.Time().Add(assertionLeeway)):
		return "expired"
	case claims.Expiry.Time().After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return "exp too far in the future"
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(assertionLeeway)):
		return "not yet valid"
	case claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return "issued in the future"
	case claims.IssuedAt != nil && claims.IssuedAt.Time().Before(now.Add(-maxAssertionLifetime-assertionLeeway)):
		return "issued too long ago"
	case claims.ID == "" || len(claims.ID) > maxJTILen:
		return "jti missing or too long"
	}
	return ""
}

// assertionAudience: the issuer, the token endpoint, or the endpoint
// called (RFC 7523 §3 item 3; OIDC Core §9), compared exactly.
func (p *Provider) assertionAudience(aud jwt.Audience, endpoint string) bool {
	for _, want := range []string{p.cfg.Issuer, p.endpointURL(tokenPath), endpoint} {
		if want != "" && slices.Contains(aud, want) {
			return true
		}
	}
	return false
}

// Endpoint paths (zitadel's defaults, and ours).
const (
	tokenPath      = "/oauth/token"
	introspectPath = "/oauth/introspect"
	revokePath     = "/revoke"
	parPath        = "/par"
)

// endpointURL is the absolute URL of one of our endpoints.
func (p *Provider) endpointURL(path string) string {
	return strings.TrimSuffix(p.cfg.Issuer, "/") + path
}

func jtiKey(clientID, jti string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	return "client-jti:" + hex.EncodeToString(sum[:])
}

// --- handing an authenticated request to zitadel ---

// preauth is a client authenticated by an assertion, for this request only.
type preauth struct{ clientID, token string }

type preauthKey struct{}

// handOn rewrites r so that zitadel sees the client authenticate with
// HTTP Basic and a one-request secret the context vouches for.
func handOn(r *http.Request, clientID string) *http.Request {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand documents it)
	token := base64.RawURLEncoding.EncodeToString(b[:])
	r = r.WithContext(context.WithValue(r.Context(), preauthKey{}, preauth{clientID: clientID, token: token}))
	for _, f := range []url.Values{r.Form, r.PostForm} {
		f.Del("client_assertion")
		f.Del("client_assertion_type")
	}
	r.Header = r.Header.Clone()
	r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(token))
	return r
}

// preauthenticated reports whether ctx vouches for id and secret.
func preauthenticated(ctx context.Context, id, secret string) bool {
	pa, ok := ctx.Value(preauthKey{}).(preauth)
	return ok && pa.clientID == id && subtle.ConstantTimeCompare([]byte(pa.token), []byte(secret)) == 1
}

// --- client_secret_jwt secrets ---

// sealVersion prefixes a sealed client secret so the scheme can change.
const sealVersion = 1

// errUnsealable: tampered with, sealed for another client, or another key.
var errUnsealable = errors.New("op: sealed client secret does not open")

// SealClientSecret encrypts a client_secret_jwt client's secret for storage
// (storage.Client.SecretSealed) with AES-256-GCM under key, bound to the
// client id as associated data so a row copied to another client does not
// open. The HMAC key must be known in the clear to verify an assertion, so
// a hash (SecretHash) is not enough for this method.
func SealClientSecret(key [32]byte, secret, clientID string) ([]byte, error) {
	if key == ([32]byte{}) {
		return nil, errors.New("op: no client secret key")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(secret)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // random 96-bit nonce: few secrets per key
	return aead.Seal(out, out[1:], []byte(secret), []byte(clientID)), nil
}

// clientSecret opens c's sealed secret.
func (p *Provider) clientSecret(c storage.Client) ([]byte, error) {
	key := p.cfg.ClientSecretKey
	if key == ([32]byte{}) {
		return nil, errors.New("no client secret key configured")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	n, sealed := aead.NonceSize(), c.SecretSealed
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != sealVersion {
		return nil, errUnsealable
	}
	secret, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(c.ID))
	if err != nil {
		return nil, errUnsealable
	}
	// RFC 7518 §3.2: an HS256 key has at least 256 bits.
	if len(secret) < 32 {
		return nil, fmt.Errorf("client secret of %d bytes is too short for HS256", len(secret))
	}
	return secret, nil
}

func newAEAD(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("op: %w", err)
	}
	return cipher.NewGCM(block)
}
