package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	zclient "github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"satupintu/account"
	"satupintu/password"
	"satupintu/storage"
)

// testClientSecretKey seals the client_secret_jwt test client's secret.
var testClientSecretKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}

// testJWTSecret is the client_secret_jwt client's secret (43 characters,
// as password.GenerateSecret makes them).
const testJWTSecret = "c2VjcmV0LWZvci1oczI1Ni1hc3NlcnRpb25zLW9rYXk"

// clientKey is a private key a test client signs assertions with.
type clientKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k clientKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

var rsaTestKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newECKey(t testing.TB, kid string) clientKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{kid: kid, alg: jose.ES256, priv: k}
}

func jwksOf(t testing.TB, keys ...clientKey) string {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sign makes a JWS of claims with key (an alg and kid of the caller's choice).
func sign(t testing.TB, alg jose.SignatureAlgorithm, kid string, key any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// assertionClaims are valid claims of client id for the token endpoint.
func (h *harness) assertionClaims(id string) map[string]any {
	return map[string]any{
		"iss": id, "sub": id, "aud": []string{h.p.endpointURL(tokenPath)},
		"exp": h.now.Add(time.Minute).Unix(), "iat": h.now.Unix(), "jti": storage.NewID(),
	}
}

// addClient stores c in the harness's durable store.
func (h *harness) addClient(c storage.Client) {
	h.t.Helper()
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = "opaque"
	}
	c.Name, c.CreatedAt = c.ID, h.now
	if err := h.dur.Durable.(storage.Clients).CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
}

// postAssertion sends form with the assertion to path.
func (h *harness) postAssertion(path, assertion string, form url.Values) *httptest.ResponseRecorder {
	f := url.Values{"client_assertion": {assertion}, "client_assertion_type": {clientAssertionType}}
	for k, v := range form {
		f[k] = v
	}
	return h.post(path, "", f)
}

var clientCredentials = url.Values{"grant_type": {"client_credentials"}}

// jwtHarness is a harness with a private_key_jwt client "pkj" (keys by
// value), a client_secret_jwt client "csj" and a public client "spa".
func newJWTHarness(t *testing.T, opts ...func(*Config)) (*harness, clientKey) {
	t.Helper()
	h := newHarness(t, append([]func(*Config){func(c *Config) { c.ClientSecretKey = testClientSecretKey }}, opts...)...)
	key := newECKey(t, "k1")
	grants := []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken, storage.GrantClientCredentials}
	h.addClient(storage.Client{ID: "pkj", GrantTypes: grants, RedirectURIs: []string{testRedirect},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: jwksOf(t, key),
		// A secret the client must not be able to use: the method is fixed.
		SecretHash: password.HashSecret(testSecret)})
	sealed, err := SealClientSecret(testClientSecretKey, testJWTSecret, "csj")
	if err != nil {
		t.Fatal(err)
	}
	h.addClient(storage.Client{ID: "csj", GrantTypes: grants, RedirectURIs: []string{testRedirect},
		AuthMethod: storage.AuthMethodSecretJWT, SecretSealed: sealed, SecretHash: password.HashSecret(testJWTSecret)})
	h.addClient(storage.Client{ID: "spa", Public: true, AuthMethod: storage.AuthMethodNone,
		GrantTypes: []string{storage.GrantAuthorizationCode}, RedirectURIs: []string{testRedirect}})
	return h, key
}

// wantInvalidClient checks a 401 invalid_client with a challenge.
func wantInvalidClient(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	checkNoLeak(t, name, w)
	tk := decode(t, w)
	if w.Code != http.StatusUnauthorized || tk.Error != "invalid_client" || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("%s: %d %s (challenge %q), want 401 invalid_client with a challenge", name, w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
	}
}

func wantOK(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Errorf("%s: %d %s, want 200", name, w.Code, w.Body)
	}
}

func TestClientAssertionAccepted(t *testing.T) {
	h, key := newJWTHarness(t)
	t.Run("private_key_jwt at the token endpoint", func(t *testing.T) {
		w := h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), clientCredentials)
		wantOK(t, "client_credentials", w)
		if decode(t, w).AccessToken == "" {
			t.Fatalf("no access token: %s", w.Body)
		}
	})
	t.Run("client_secret_jwt at the token endpoint", func(t *testing.T) {
		w := h.postAssertion("/oauth/token", sign(t, jose.HS256, "", []byte(testJWTSecret), h.assertionClaims("csj")), clientCredentials)
		wantOK(t, "client_credentials", w)
	})
	t.Run("the issuer as audience", func(t *testing.T) {
		c := h.assertionClaims("pkj")
		c["aud"] = testIssuer
		wantOK(t, "aud issuer", h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, c), clientCredentials))
	})
	t.Run("code and refresh grants", func(t *testing.T) {
		pk := newPKCE()
		w := h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), url.Values{
			"grant_type": {"authorization_code"}, "code": {h.codeFor("pkj", pk, nil)},
			"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}})
		tk := decode(t, w)
		if w.Code != http.StatusOK || tk.RefreshToken == "" {
			t.Fatalf("code: %d %s", w.Code, w.Body)
		}
		w = h.postAssertion("/oauth/token", sign(t, jose.HS256, "", []byte(testJWTSecret), h.assertionClaims("csj")), url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
		if w.Code != http.StatusBadRequest || decode(t, w).Error != "invalid_grant" {
			t.Errorf("another client's refresh token: %d %s", w.Code, w.Body)
		}
		w = h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
		wantOK(t, "refresh", w)
	})
	t.Run("introspection and revocation", func(t *testing.T) {
		at := decode(t, h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), clientCredentials)).AccessToken
		c := h.assertionClaims("pkj")
		c["aud"] = h.p.endpointURL(introspectPath) // the endpoint called is an audience too
		w := h.postAssertion("/oauth/introspect", sign(t, key.alg, key.kid, key.priv, c), url.Values{"token": {at}})
		var ir struct{ Active bool }
		if json.Unmarshal(w.Body.Bytes(), &ir); w.Code != http.StatusOK || !ir.Active {
			t.Fatalf("introspect: %d %s", w.Code, w.Body)
		}
		w = h.postAssertion("/revoke", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), url.Values{"token": {at}})
		wantOK(t, "revoke", w)
		w = h.postAssertion("/oauth/introspect", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("pkj")), url.Values{"token": {at}})
		if json.Unmarshal(w.Body.Bytes(), &ir); w.Code != http.StatusOK || ir.Active {
			t.Fatalf("introspect after revocation: %d %s", w.Code, w.Body)
		}
	})
}

// TestAssertionAlgorithms: every advertised asymmetric algorithm works
// with a key of its type, and a key's registered alg is kept to.
func TestAssertionAlgorithms(t *testing.T) {
	h, _ := newJWTHarness(t)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := jose.JSONWebKey{Key: rsaTestKey().Public(), KeyID: "r1", Use: "sig"} // no alg: RS256 and PS256
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{rsaJWK, {Key: edPriv.Public(), KeyID: "e1"}}})
	h.addClient(storage.Client{ID: "multi", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: string(set)})
	h.addClient(storage.Client{ID: "rs-only", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: jwksOf(t, clientKey{kid: "r1", alg: jose.RS256, priv: rsaTestKey()})})
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		kid string
		key any
	}{{jose.RS256, "r1", rsaTestKey()}, {jose.PS256, "r1", rsaTestKey()}, {jose.EdDSA, "e1", edPriv}, {jose.EdDSA, "", edPriv}} {
		wantOK(t, string(tc.alg)+" "+tc.kid, h.postAssertion("/oauth/token", sign(t, tc.alg, tc.kid, tc.key, h.assertionClaims("multi")), clientCredentials))
	}
	wantInvalidClient(t, "PS256 with a key registered for RS256",
		h.postAssertion("/oauth/token", sign(t, jose.PS256, "r1", rsaTestKey(), h.assertionClaims("rs-only")), clientCredentials))
	wantInvalidClient(t, "RS384 (not allowed)",
		h.postAssertion("/oauth/token", sign(t, jose.RS384, "r1", rsaTestKey(), h.assertionClaims("multi")), clientCredentials))
}

func TestClientAssertionAttacks(t *testing.T) {
	h, key := newJWTHarness(t)
	other := newECKey(t, "k1") // same kid, another key
	valid := func() map[string]any { return h.assertionClaims("pkj") }
	with := func(k string, v any) map[string]any {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	rsaPub, err := x509.MarshalPKIXPublicKey(rsaTestKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	ecJWK, _ := json.Marshal(key.public())
	h.addClient(storage.Client{ID: "pkj-rsa", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT,
		JWKS:       jwksOf(t, clientKey{kid: "r1", alg: jose.RS256, priv: rsaTestKey()})})

	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(valid())
	algNone := noneHeader + "." + base64.RawURLEncoding.EncodeToString(payload) + "."

	idToken := h.signedIn().IDToken // signed by the provider for client app
	replayed := sign(t, key.alg, key.kid, key.priv, valid())
	wantOK(t, "first use", h.postAssertion("/oauth/token", replayed, clientCredentials))

	cases := []struct {
		name, assertion string
	}{
		{"a replayed assertion", replayed},
		{"the wrong audience", sign(t, key.alg, key.kid, key.priv, with("aud", "https://elsewhere.example/token"))},
		{"the PAR endpoint as audience at the token endpoint", sign(t, key.alg, key.kid, key.priv, with("aud", h.p.endpointURL(parPath)))},
		{"no audience", sign(t, key.alg, key.kid, key.priv, with("aud", nil))},
		{"expired", sign(t, key.alg, key.kid, key.priv, with("exp", h.now.Add(-time.Minute).Unix()))},
		{"without exp", sign(t, key.alg, key.kid, key.priv, with("exp", nil))},
		{"exp an hour ahead", sign(t, key.alg, key.kid, key.priv, with("exp", h.now.Add(time.Hour).Unix()))},
		{"not yet valid", sign(t, key.alg, key.kid, key.priv, with("nbf", h.now.Add(time.Minute).Unix()))},
		{"issued in the future", sign(t, key.alg, key.kid, key.priv, with("iat", h.now.Add(time.Minute).Unix()))},
		{"without jti", sign(t, key.alg, key.kid, key.priv, with("jti", nil))},
		{"sub not the client", sign(t, key.alg, key.kid, key.priv, with("sub", "someone"))},
		{"aud as a number", sign(t, key.alg, key.kid, key.priv, with("aud", 42))},
		{"signed by another key", sign(t, other.alg, other.kid, other.priv, valid())},
		{"alg none", algNone},
		{"HS256 keyed with the JWK of the public key", sign(t, jose.HS256, key.kid, ecJWK, valid())},
		{"HS256 keyed with the PEM of an RSA public key", sign(t, jose.HS256, "r1", pubPEM, h.assertionClaims("pkj-rsa"))},
		{"an unknown client", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("ghost"))},
		{"a client registered for secrets", sign(t, jose.HS256, "", []byte(testJWTSecret), h.assertionClaims("service"))},
		{"client_secret_jwt with another secret", sign(t, jose.HS256, "", []byte(testJWTSecret+"x"), h.assertionClaims("csj"))},
		{"client_secret_jwt signed with a private key", sign(t, key.alg, key.kid, key.priv, h.assertionClaims("csj"))},
		{"a logout token type", func() string {
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: key.alg, Key: key.priv}, (&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", key.kid))
			tok, _ := jwt.Signed(s).Claims(valid()).Serialize()
			return tok
		}()},
		{"a key embedded in the header (jwk)", func() string {
			// ASVS 9.1.3: keys come from the registration, never from the token.
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: other.alg, Key: &jose.JSONWebKey{Key: other.priv, KeyID: key.kid}},
				&jose.SignerOptions{EmbedJWK: true})
			tok, _ := jwt.Signed(s).Claims(valid()).Serialize()
			return tok
		}()},
		{"an ID token of ours", idToken},
		{"garbage", "not.a.jwt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalidClient(t, "token", h.postAssertion("/oauth/token", tc.assertion, clientCredentials))
		})
	}

	t.Run("a method other than the registered one", func(t *testing.T) {
		// pkj has a secret hash, yet its registered method is private_key_jwt.
		wantInvalidClient(t, "basic", h.post("/oauth/token", "pkj", clientCredentials))
		wantInvalidClient(t, "post", h.post("/oauth/token", "", url.Values{"grant_type": {"client_credentials"},
			"client_id": {"pkj"}, "client_secret": {testSecret}}))
		wantInvalidClient(t, "basic at introspection", h.post("/oauth/introspect", "pkj", url.Values{"token": {"x"}}))
		wantInvalidClient(t, "basic at revocation", h.post("/revoke", "pkj", url.Values{"token": {"x"}}))
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(clientCredentials.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("csj", testJWTSecret)
		wantInvalidClient(t, "client_secret_jwt client with its secret in Basic", h.serve(r))
	})
	t.Run("an assertion and Basic at once", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType},
			"client_assertion": {sign(t, key.alg, key.kid, key.priv, valid())}}
		if w := h.post("/oauth/token", "app", f); w.Code != http.StatusBadRequest || decode(t, w).Error != "invalid_request" {
			t.Errorf("%d %s, want 400 invalid_request", w.Code, w.Body)
		}
	})
	t.Run("a wrong assertion type", func(t *testing.T) {
		w := h.post("/oauth/token", "", url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
			"client_assertion":      {sign(t, key.alg, key.kid, key.priv, valid())}})
		wantInvalidClient(t, "saml type", w)
	})
	t.Run("client_id differs from the assertion", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {"csj"}}
		wantInvalidClient(t, "client_id", h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, valid()), f))
	})
	t.Run("the database down is 503, not invalid_client", func(t *testing.T) {
		h.dur.down.Store(true)
		defer h.dur.down.Store(false)
		h.now = h.now.Add(time.Second) // past the client cache
		wantUnavailable(t, "assertion", h.postAssertion("/oauth/token", sign(t, key.alg, key.kid, key.priv, valid()), clientCredentials))
	})
	t.Run("a jti is kept until the assertion expires", func(t *testing.T) {
		c := valid()
		a := sign(t, key.alg, key.kid, key.priv, c)
		wantOK(t, "first use", h.postAssertion("/oauth/token", a, clientCredentials))
		h.now = h.now.Add(50 * time.Second) // before exp (60 s)
		wantInvalidClient(t, "replayed before exp", h.postAssertion("/oauth/token", a, clientCredentials))
	})
}

// TestClientSecretSealing: a sealed secret opens only for its client and key.
func TestClientSecretSealing(t *testing.T) {
	h, _ := newJWTHarness(t)
	sealed, err := SealClientSecret(testClientSecretKey, testJWTSecret, "csj")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.p.clientSecret(storage.Client{ID: "csj", SecretSealed: sealed}); err != nil || string(got) != testJWTSecret {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := h.p.clientSecret(storage.Client{ID: "other", SecretSealed: sealed}); err == nil {
		t.Error("a sealed secret copied to another client opened")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := h.p.clientSecret(storage.Client{ID: "csj", SecretSealed: sealed}); err == nil {
		t.Error("a tampered secret opened")
	}
	if _, err := SealClientSecret([32]byte{}, testJWTSecret, "csj"); err == nil {
		t.Error("sealed with no key")
	}
}

// TestJWKSURIFetchedAndCached: a jwks_uri is fetched through the SSRF-safe
// client, kept for the TTL, and fetched early for an unknown kid at most
// once per interval.
func TestJWKSURIFetchedAndCached(t *testing.T) {
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	var fetches atomic.Int32
	var served atomic.Value
	served.Store(jwksOf(t, k1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(served.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	h, _ := newJWTHarness(t, func(c *Config) {
		// The provider's SSRF-safe client; loopback allowed as for a
		// provider on loopback (development), which this test server is.
		c.JWKSFetcher = &account.Linker{AllowLoopback: true}
	})
	h.addClient(storage.Client{ID: "pku", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKSURI: srv.URL + "/jwks"})
	h.addClient(storage.Client{ID: "metadata", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKSURI: "http://169.254.169.254/latest/meta-data/jwks"})

	assert := func(k clientKey) *httptest.ResponseRecorder {
		return h.postAssertion("/oauth/token", sign(t, k.alg, k.kid, k.priv, h.assertionClaims("pku")), clientCredentials)
	}
	wantOK(t, "first assertion", assert(k1))
	wantOK(t, "second assertion", assert(k1))
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two assertions, want 1 (cached)", n)
	}
	// The client rotates to k2; its first assertion comes within the
	// refetch interval of the last fetch: refused, no fetch.
	served.Store(jwksOf(t, k2))
	wantInvalidClient(t, "unknown kid within the interval", assert(k2))
	for range 5 {
		assert(newECKey(t, "made-up"))
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after unknown kids within the interval, want 1", n)
	}
	h.now = h.now.Add(jwksRefetchInterval)
	wantOK(t, "unknown kid after the interval: fetched again", assert(k2))
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	wantInvalidClient(t, "the rotated-out key", assert(k1))
	h.now = h.now.Add(5 * time.Minute) // past the TTL
	wantOK(t, "after the TTL", assert(k2))
	if n := fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (refreshed after the TTL)", n)
	}
	wantInvalidClient(t, "a jwks_uri at the metadata address",
		h.postAssertion("/oauth/token", sign(t, k1.alg, k1.kid, k1.priv, h.assertionClaims("metadata")), clientCredentials))
}

// TestJWKSURIStrictFetcherRefusesLoopback: in production (no loopback
// allowed) a jwks_uri on loopback is never fetched.
func TestJWKSURIStrictFetcherRefusesLoopback(t *testing.T) {
	k1 := newECKey(t, "k1")
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write([]byte(jwksOf(t, k1)))
	}))
	t.Cleanup(srv.Close)
	h, _ := newJWTHarness(t, func(c *Config) { c.JWKSFetcher = &account.Linker{} })
	h.addClient(storage.Client{ID: "pku", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKSURI: srv.URL + "/jwks"})
	wantInvalidClient(t, "loopback jwks_uri",
		h.postAssertion("/oauth/token", sign(t, k1.alg, k1.kid, k1.priv, h.assertionClaims("pku")), clientCredentials))
	if n := fetches.Load(); n != 0 {
		t.Fatalf("the loopback server was fetched %d times", n)
	}
}

func TestParseClientJWKS(t *testing.T) {
	ec := newECKey(t, "k1")
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ec.priv, KeyID: "k1"}}})
	sym, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "s"}}})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: small.Public(), KeyID: "w"}}})
	for name, in := range map[string]string{
		"a private key": string(priv), "a symmetric key": string(sym), "RSA 1024": string(weak),
		"not JSON": "{", "no keys": `{"keys":[]}`, "too large": `{"keys":[],"x":"` + strings.Repeat("a", MaxClientJWKSBytes) + `"}`,
	} {
		if _, err := ParseClientJWKS([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseClientJWKS([]byte(jwksOf(t, ec))); err != nil {
		t.Errorf("a public EC key: %v", err)
	}
}

// TestPrivateKeyJWTWithRPLibrary runs a code flow with zitadel's relying
// party over HTTP, the code redeemed with a private_key_jwt assertion that
// zitadel's client package signs.
func TestPrivateKeyJWTWithRPLibrary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	h, key := newJWTHarness(t, func(c *Config) { c.Issuer = issuer })
	srv := httptest.NewUnstartedServer(h.p.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	// The library stamps assertions and checks tokens with the wall clock.
	h.now = time.Now().UTC()

	party, err := rp.NewRelyingPartyOIDC(t.Context(), issuer, "pkj", "", testRedirect, []string{"openid"},
		rp.WithHTTPClient(srv.Client()), rp.WithAuthStyle(oauth2.AuthStyleInParams))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.alg, Key: &jose.JSONWebKey{Key: key.priv, KeyID: key.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pk := newPKCE()
	noNonce := url.Values{"nonce": nil} // the library checks the nonce it would have sent
	code := h.codeFor("pkj", pk, noNonce)
	assertion, err := zclient.SignedJWTProfileAssertion("pkj", []string{issuer}, time.Minute, signer)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, party,
		rp.WithCodeVerifier(pk.verifier), rp.WithClientAssertionJWT(assertion))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tokens.IDTokenClaims.Subject != h.user.ID || tokens.RefreshToken == "" {
		t.Fatalf("tokens: sub %q, refresh token %v", tokens.IDTokenClaims.Subject, tokens.RefreshToken != "")
	}
	// The same assertion again (a replay) is refused, even with a fresh code.
	_, err = rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), h.codeFor("pkj", pk, noNonce), party,
		rp.WithCodeVerifier(pk.verifier), rp.WithClientAssertionJWT(assertion))
	if err == nil {
		t.Fatal("a replayed assertion redeemed a code")
	}
}

// codeFor runs an authorization for clientID with the user signed in and
// returns the code; extra replaces or adds query parameters.
func (h *harness) codeFor(clientID string, pk pkce, extra url.Values) string {
	h.t.Helper()
	q := authorizeQuery(pk, "client_id", clientID)
	for k, v := range extra {
		q[k] = v
		if len(v) == 0 {
			delete(q, k)
		}
	}
	w := h.get("/authorize?" + q.Encode())
	return h.finish(w)
}

// finish signs the user in to the auth request a /authorize answer
// started and returns the code.
func (h *harness) finish(w *httptest.ResponseRecorder) string {
	h.t.Helper()
	loc, _ := url.Parse(w.Header().Get("Location"))
	id := loc.Query().Get("authRequestID")
	if w.Code != http.StatusFound || id == "" {
		h.t.Fatalf("authorize: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	err := h.mem.UpdateAuthRequest(context.Background(), id, func(r *storage.AuthRequest) error {
		r.Done, r.UserID, r.AuthTime, r.AMR = true, h.user.ID, h.now, []string{storage.AMRPassword}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	w = h.get("/authorize/callback?id=" + url.QueryEscape(id))
	loc, _ = url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("code") == "" {
		h.t.Fatalf("callback: %d %q", w.Code, w.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}
