package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// Per-client signing algorithms. zitadel asks Storage.SigningKey(ctx) for
// the ID token's key without saying for which client. Every token request
// carries one client only, and the storage learns it (CreateAccessToken,
// CreateAccessAndRefreshTokens) before zitadel signs the ID token
// (CreateTokenResponse creates the access token first), so a holder put
// into the request's context by withSigningClient carries it across.

type signingClientKey struct{}

// signingClient is the client a request's tokens are issued to.
type signingClient struct {
	mu       sync.Mutex
	id       string
	conflict bool // two clients in one request: sign nothing rather than guess
}

// withSigningClient gives each request an empty holder.
func withSigningClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), signingClientKey{}, &signingClient{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// noteSigningClient records that the request's tokens go to clientID.
func noteSigningClient(ctx context.Context, clientID string) {
	h, ok := ctx.Value(signingClientKey{}).(*signingClient)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.id != "" && h.id != clientID {
		h.conflict = true
	}
	h.id = clientID
}

var errSigningClientConflict = errors.New("tokens of two clients in one request")

// signingClientOf returns the client recorded for the request, if any.
func signingClientOf(ctx context.Context) (string, error) {
	h, ok := ctx.Value(signingClientKey{}).(*signingClient)
	if !ok {
		return "", nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conflict {
		return "", errSigningClientConflict
	}
	return h.id, nil
}

// clientAlg is the algorithm of c's ID tokens and logout tokens.
func (s *store) clientAlg(c storage.Client) string {
	if ValidAlgorithm(c.IDTokenSignedResponseAlg) {
		return c.IDTokenSignedResponseAlg
	}
	return string(s.keys.alg)
}

// idTokenKey is the key for the ID token of the request in ctx: its
// client's algorithm, or the default when no client was recorded.
func (s *store) idTokenKey(ctx context.Context) (*parsedKey, error) {
	alg := string(s.keys.alg)
	id, err := signingClientOf(ctx)
	if err != nil {
		return nil, err
	}
	if id != "" {
		c, err := s.clients.get(ctx, id)
		if err != nil {
			return nil, err
		}
		alg = s.clientAlg(c)
	}
	return s.keys.signingKeyFor(ctx, alg)
}

// RFC 9068 JWT access tokens. zitadel's own (AccessTokenTypeJWT) carry
// typ "JWT", no scope, auth_time, acr or amr, and its clock, so satupintu
// builds them: the storage signs the token where zitadel asks it for the
// access token's id, and hands the token back in place of the id, marked;
// tokenCrypto.Encrypt, which zitadel calls with "id:subject" to make an
// opaque token, returns a marked value as it is.

// AccessTokenType is the JWS typ of a JWT access token (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// jwtMarker starts an id that is a finished JWT access token. Ids are
// base32 and tokens base64url: neither has a NUL.
const jwtMarker = "\x00at+jwt\x00"

// accessTokenClaims are RFC 9068 §2.2's claims.
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JWTID    string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1).
	Confirmation *confirmation `json:"cnf,omitempty"`
}

type confirmation struct {
	JKT string `json:"jkt"`
}

// accessTokenValue is what CreateAccessToken returns to zitadel for the
// stored token id: the id itself, or for a client with the "jwt" format a
// marked, signed JWT access token.
func (s *store) accessTokenValue(ctx context.Context, clientID, userID, id string, exp time.Time, req zop.TokenRequest) (string, error) {
	c, err := s.clients.get(ctx, clientID)
	if err != nil {
		return "", s.classify(ctx, "load client", err)
	}
	if c.AccessTokenFormat != "jwt" {
		return id, nil
	}
	now := s.now()
	claims := accessTokenClaims{
		Issuer: s.cfg.Issuer, Subject: userID, Audience: req.GetAudience(),
		Expiry: exp.Unix(), IssuedAt: now.Unix(), JWTID: id, ClientID: clientID,
		Scope: strings.Join(req.GetScopes(), " "),
	}
	if userID == "" {
		claims.Subject = clientID // RFC 9068 §2.2: the client acts for itself
	} else {
		claims.Subject = req.GetSubject() // the sub this client receives (pairwise.go)
	}
	if jkt := dpopFrom(ctx).bind(); jkt != "" {
		claims.Confirmation = &confirmation{JKT: jkt}
	}
	if len(claims.Audience) == 0 {
		claims.Audience = []string{clientID}
	}
	if r, ok := req.(zop.IDTokenRequest); ok && userID != "" {
		if at := r.GetAuthTime(); !at.IsZero() {
			claims.AuthTime = at.Unix()
		}
		claims.AMR = r.GetAMR()
		if len(claims.AMR) > 0 {
			claims.ACR = storage.ACRPassword
			if slices.Contains(claims.AMR, storage.AMRMFA) {
				claims.ACR = storage.ACRMFA
			}
		}
	}
	key, err := s.keys.signingKeyFor(ctx, string(s.keys.alg))
	if err != nil {
		return "", s.unavailable(ctx, "load signing key", err)
	}
	token, err := signJWT(key, AccessTokenType, claims)
	if err != nil {
		return "", err
	}
	return jwtMarker + token, nil
}

// signJWT signs claims with key under the JWS typ given.
func signJWT(key *parsedKey, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("op: encode %s: %w", typ, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: key.alg,
		Key:       &jose.JSONWebKey{Key: key.private, KeyID: key.id},
	}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("op: %s signer: %w", typ, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("op: sign %s: %w", typ, err)
	}
	return jws.CompactSerialize()
}

// tokenCrypto seals opaque access tokens (tokencrypto.go), reads those
// zitadel's default Crypto sealed before (AES-256-GCM JWE), and lets a
// finished JWT access token through. The AES-CFB reader of still older
// tokens is gone: it was unauthenticated, so it "opened" any string, and
// no such token has been issued for longer than a token lives.
type tokenCrypto struct{ zop.Crypto }

func newTokenCrypto(key [32]byte) tokenCrypto {
	compact := newCompactCrypto(key)
	gcm := zop.NewAES256GCMCrypto(key, "")
	return tokenCrypto{zop.NewCompositeCrypto(compact, []zop.Decrypter{compact, gcm})}
}

// Encrypt is asked for three things: an opaque access token ("token
// id:subject", zitadel's CreateBearerToken), a JWT access token behind
// jwtMarker, and an authorization code (a request id alone, zitadel's
// BuildAuthRequestCode), which gets a random value instead (newCode).
func (c tokenCrypto) Encrypt(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, jwtMarker); ok {
		token, _, _ := strings.Cut(rest, ":") // ":subject", which the token carries already
		return token, nil
	}
	if !strings.Contains(s, ":") {
		return newCode(), nil
	}
	return c.Crypto.Encrypt(s)
}

// accessTokenKeySet verifies a JWT presented as an access token (userinfo,
// introspection, revocation) with the provider's keys, but only one typed
// at+jwt: an ID token or logout token is no access token (RFC 9068 §4,
// ASVS 9.2.2). The token must also still be stored (SetUserinfoFromToken,
// SetIntrospectionFromToken look its jti up), so revocation holds.
type accessTokenKeySet struct{ keys oidc.KeySet }

func (k accessTokenKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("access token: want one signature")
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, AccessTokenType) && !strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, errors.New("access token: typ is not at+jwt")
	}
	return k.keys.VerifySignature(ctx, jws)
}

// idTokenHintKeySet verifies an id_token_hint with the provider's keys,
// refusing the other JWTs they sign: an access token or a logout token
// names a user too, but whoever holds one (a resource server, a log) must
// not be able to end that user's session without a question.
type idTokenHintKeySet struct{ keys oidc.KeySet }

func (k idTokenHintKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("id_token_hint: want one signature")
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	if typ == AccessTokenType || typ == LogoutTokenType {
		return nil, errors.New("id_token_hint: not an ID token")
	}
	return k.keys.VerifySignature(ctx, jws)
}

// signingOptions wires the above into zitadel.
func (p *Provider) signingOptions() []zop.Option {
	return []zop.Option{
		zop.WithCrypto(newTokenCrypto(p.cfg.CryptoKey)),
		zop.WithAccessTokenKeySet(accessTokenKeySet{keys: &zop.OpenIDKeySet{Storage: p.store}}),
		zop.WithAccessTokenVerifierOpts(zop.WithSupportedAccessTokenSigningAlgorithms(Algorithms...)),
		// id_token_hint may be an ID token of any client's algorithm.
		zop.WithIDTokenHintKeySet(idTokenHintKeySet{keys: &zop.OpenIDKeySet{Storage: p.store}}),
		zop.WithIDTokenHintVerifierOpts(zop.WithSupportedIDTokenHintSigningAlgorithms(Algorithms...)),
	}
}

// KeyTimeline is the key timeline c implies, zero durations taking the
// defaults; the admin CLI rotates keys by the same timeline as serve.
func (c Config) KeyTimeline() KeyTimeline {
	c.setDefaults()
	return KeyTimeline{Refresh: c.KeyRefresh, Rotation: c.KeyRotation, TokenLifetime: tokenLifetime(&c)}
}

// tokenLifetime is the longest lifetime of anything the keys sign, which
// a replaced key must outlive (KeyTimeline.RetireAfter).
func tokenLifetime(cfg *Config) time.Duration {
	return max(cfg.IDTokenLifetime, cfg.AccessTokenLifetime, LogoutTokenLifetime)
}
