package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// handlerTransport lets a real RP library fetch /keys from the in-process provider.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func (h *harness) httpClient() *http.Client {
	return &http.Client{Transport: handlerTransport{h.p.Handler()}}
}

// setClient changes a stored client.
func (h *harness) setClient(id string, fn func(*storage.Client)) {
	h.t.Helper()
	err := h.dur.Durable.(storage.Clients).UpdateClient(context.Background(), id, func(c *storage.Client) error {
		fn(c)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.p.InvalidateClient(id) // as the admin API does; the CLI waits for the cache TTL
}

// verifyIDToken checks tk's ID token (and at_hash) the way a relying party
// does, with zitadel's RP verifier and the keys from /keys.
func (h *harness) verifyIDToken(tk tokens, alg string) *oidc.IDTokenClaims {
	h.t.Helper()
	v := rp.NewIDTokenVerifier(testIssuer, "app", rp.NewRemoteKeySet(h.httpClient(), testIssuer+"/keys"),
		rp.WithSupportedSigningAlgorithms(alg), rp.WithNonce(func(context.Context) string { return "n" }))
	claims, err := rp.VerifyTokens[*oidc.IDTokenClaims](h.t.(*testing.T).Context(), tk.AccessToken, tk.IDToken, v)
	if err != nil {
		h.t.Fatalf("%s ID token does not verify: %v", alg, err)
	}
	return claims
}

// header returns a compact JWS's protected header.
func header(t *testing.T, token string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	return jws.Signatures[0].Protected
}

// jwksKeys fetches /keys as raw JSON objects.
func (h *harness) jwksKeys(t *testing.T) []map[string]any {
	t.Helper()
	w := h.get("/keys")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || w.Code != http.StatusOK {
		t.Fatalf("/keys: %d %s", w.Code, w.Body)
	}
	return set.Keys
}

// verifyWithJWKS checks token's signature with the key /keys publishes under its kid.
func (h *harness) verifyWithJWKS(t *testing.T, token string) []byte {
	t.Helper()
	w := h.get("/keys")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in /keys", jws.Signatures[0].Header.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	return payload
}

// TestIDTokenSignedWithClientAlgorithm: each supported algorithm signs a
// client's ID tokens when the client registered it, and a relying party
// verifies them with the published keys (OIDC-2-sign, OIDC-10.1: kid set).
func TestIDTokenSignedWithClientAlgorithm(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now().UTC()
	for _, alg := range append([]string{""}, Algorithms...) {
		name := alg
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			h.t = t
			h.setClient("app", func(c *storage.Client) { c.IDTokenSignedResponseAlg = alg })
			tk := h.signedIn()
			want := alg
			if want == "" {
				want = AlgRS256
			}
			hdr := header(t, tk.IDToken)
			if hdr.Algorithm != want || hdr.KeyID == "" {
				t.Fatalf("ID token header alg %q kid %q, want alg %s and a kid", hdr.Algorithm, hdr.KeyID, want)
			}
			// OIDC-2-sign: keys come from the JWKS only, never from the token.
			raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tk.IDToken, ".")[0])
			var members map[string]any
			if err := json.Unmarshal(raw, &members); err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"jku", "jwk", "x5u", "x5c"} {
				if _, ok := members[m]; ok {
					t.Errorf("ID token header carries %s", m)
				}
			}
			// An ID token of any algorithm is accepted as id_token_hint.
			ctx := zop.ContextWithIssuer(t.Context(), testIssuer)
			if _, err := zop.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, tk.IDToken, h.p.zp.IDTokenHintVerifier(ctx)); err != nil {
				t.Errorf("%s ID token refused as id_token_hint: %v", want, err)
			}
			claims := h.verifyIDToken(tk, want)
			if claims.Subject != h.user.ID || claims.Nonce != "n" {
				t.Errorf("claims %+v", claims)
			}
			// The refreshed ID token keeps the client's algorithm.
			w := h.post("/oauth/token", "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
			ref := decode(t, w)
			if w.Code != http.StatusOK || ref.IDToken == "" {
				t.Fatalf("refresh: %d %s", w.Code, w.Body)
			}
			if got := header(t, ref.IDToken).Algorithm; got != want {
				t.Errorf("refreshed ID token signed with %s, want %s", got, want)
			}
			h.verifyWithJWKS(t, ref.IDToken)
		})
	}
}

// TestJWKSAndDiscoveryListAlgorithms: every algorithm has a published key;
// the JWKS holds public keys only (OIDCD-3: no private or symmetric
// material); discovery names the algorithms, RS256 included.
func TestJWKSAndDiscoveryListAlgorithms(t *testing.T) {
	h := newHarness(t)
	keys := h.jwksKeys(t)
	var algs []string
	for _, k := range keys {
		algs = append(algs, k["alg"].(string))
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %v carries private member %q", k["kid"], private)
			}
		}
		if k["kid"] == "" || k["use"] != "sig" {
			t.Errorf("JWKS key without kid or use=sig: %v", k)
		}
		// ASVS 11.2.3: RSA keys of at least 2048 bits.
		if n, ok := k["n"].(string); ok {
			if b, err := base64.RawURLEncoding.DecodeString(n); err != nil || len(b)*8 < 2048 {
				t.Errorf("RSA key %v has %d bits", k["kid"], len(b)*8)
			}
		}
	}
	slices.Sort(algs)
	want := slices.Sorted(slices.Values(Algorithms))
	if !slices.Equal(algs, want) {
		t.Errorf("JWKS algorithms %v, want %v", algs, want)
	}
	w := h.get("/.well-known/openid-configuration")
	var d struct {
		IDTokenAlgs  []string `json:"id_token_signing_alg_values_supported"`
		UserinfoAlgs []string `json:"userinfo_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.IDTokenAlgs) == 0 || d.IDTokenAlgs[0] != AlgRS256 || !slices.Equal(slices.Sorted(slices.Values(d.IDTokenAlgs)), want) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want RS256 first and %v", d.IDTokenAlgs, want)
	}
	if len(d.UserinfoAlgs) != 0 {
		t.Errorf("userinfo_signing_alg_values_supported = %v, but userinfo is never signed", d.UserinfoAlgs)
	}
	// The JWKS may be cached no longer than the publish delay allows.
	if cc := h.get("/keys").Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("JWKS Cache-Control %q, want max-age of one key refresh (60s)", cc)
	}
}

// TestClientAlgorithmChangeTakesEffect: a client switching algorithms gets
// the new one on its next token.
func TestClientAlgorithmChangeTakesEffect(t *testing.T) {
	h := newHarness(t)
	h.setClient("app", func(c *storage.Client) { c.IDTokenSignedResponseAlg = AlgES256 })
	if got := header(t, h.signedIn().IDToken).Algorithm; got != AlgES256 {
		t.Fatalf("ID token signed with %s, want ES256", got)
	}
	h.setClient("app", func(c *storage.Client) { c.IDTokenSignedResponseAlg = AlgEdDSA })
	if got := header(t, h.signedIn().IDToken).Algorithm; got != AlgEdDSA {
		t.Fatalf("ID token signed with %s after the change, want EdDSA", got)
	}
}

// TestLogoutTokenSignedWithClientAlgorithm: BCL-2.4, the logout token is
// signed like the client's ID tokens, typed logout+jwt.
func TestLogoutTokenSignedWithClientAlgorithm(t *testing.T) {
	h := newHarness(t)
	for _, alg := range Algorithms {
		h.setClient("app", func(c *storage.Client) { c.IDTokenSignedResponseAlg = alg })
		token, err := h.p.LogoutToken(t.Context(), "app", h.user.ID, "s1")
		if err != nil {
			t.Fatal(err)
		}
		hdr := header(t, token)
		if hdr.Algorithm != alg || hdr.ExtraHeaders[jose.HeaderType] != LogoutTokenType {
			t.Errorf("logout token header alg %q typ %v, want %s and %s", hdr.Algorithm, hdr.ExtraHeaders[jose.HeaderType], alg, LogoutTokenType)
		}
		h.verifyWithJWKS(t, token)
	}
}

// TestJWTAccessToken: RFC 9068 for a client with the jwt format: typed
// at+jwt, the §2.2 claims, accepted by userinfo and introspection,
// refused once revoked; an ID token is no access token (ASVS 9.2.2).
func TestJWTAccessToken(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now().UTC().Truncate(time.Second) // zitadel checks exp by the wall clock
	h.setClient("app", func(c *storage.Client) { c.AccessTokenFormat = "jwt" })
	tk := h.signedIn()
	hdr := header(t, tk.AccessToken)
	if hdr.ExtraHeaders[jose.HeaderType] != AccessTokenType || hdr.KeyID == "" || hdr.Algorithm != AlgRS256 {
		t.Fatalf("access token header typ %v kid %q alg %q", hdr.ExtraHeaders[jose.HeaderType], hdr.KeyID, hdr.Algorithm)
	}
	var claims map[string]any
	if err := json.Unmarshal(h.verifyWithJWKS(t, tk.AccessToken), &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": testIssuer, "sub": h.user.ID, "aud": []any{"app"}, "client_id": "app",
		"scope": "openid profile offline_access", "acr": storage.ACRPassword, "amr": []any{storage.AMRPassword},
		"auth_time": float64(h.now.Unix()), "iat": float64(h.now.Unix()),
		"exp": float64(h.now.Add(15 * time.Minute).Unix()),
	}
	for k, v := range want {
		got, _ := json.Marshal(claims[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("claim %s = %s, want %s", k, got, exp)
		}
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Error("no jti")
	}
	h.verifyIDToken(tk, AlgRS256) // at_hash is over the JWT

	bearer := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return h.serve(r)
	}
	introspect := func(token string) bool {
		w := h.post("/oauth/introspect", "app", url.Values{"token": {token}})
		var resp struct {
			Active bool   `json:"active"`
			Sub    string `json:"sub"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("introspect: %d %s", w.Code, w.Body)
		}
		return resp.Active && resp.Sub == h.user.ID
	}
	if w := bearer(tk.AccessToken); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), h.user.ID) {
		t.Errorf("userinfo with the JWT access token: %d %s", w.Code, w.Body)
	}
	if !introspect(tk.AccessToken) {
		t.Error("introspection: the JWT access token is not active")
	}
	if w := bearer(tk.IDToken); w.Code != http.StatusUnauthorized {
		t.Errorf("userinfo accepted an ID token as access token: %d %s", w.Code, w.Body)
	}
	if introspect(tk.IDToken) {
		t.Error("introspection calls an ID token an active access token")
	}

	// A refresh gives a new JWT access token.
	w := h.post("/oauth/token", "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
	ref := decode(t, w)
	if w.Code != http.StatusOK || header(t, ref.AccessToken).ExtraHeaders[jose.HeaderType] != AccessTokenType {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}

	// Revoked: userinfo and introspection refuse it although it still verifies.
	if w := h.post("/revoke", "app", url.Values{"token": {ref.AccessToken}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := bearer(ref.AccessToken); w.Code != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked JWT access token: %d %s", w.Code, w.Body)
	}
	if introspect(ref.AccessToken) {
		t.Error("a revoked JWT access token is active")
	}
}

// TestJWTAccessTokenForService: client_credentials with the jwt format;
// the client is the subject (RFC 9068 §2.2) and no user claims appear.
func TestJWTAccessTokenForService(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now().UTC().Truncate(time.Second)
	h.setClient("service", func(c *storage.Client) { c.AccessTokenFormat = "jwt" })
	w := h.post("/oauth/token", "service", url.Values{"grant_type": {"client_credentials"}})
	tk := decode(t, w)
	if w.Code != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", w.Code, w.Body)
	}
	if typ := header(t, tk.AccessToken).ExtraHeaders[jose.HeaderType]; typ != AccessTokenType {
		t.Fatalf("typ %v", typ)
	}
	var claims map[string]any
	json.Unmarshal(h.verifyWithJWKS(t, tk.AccessToken), &claims)
	if claims["sub"] != "service" || claims["client_id"] != "service" {
		t.Errorf("claims %v", claims)
	}
	for _, user := range []string{"auth_time", "acr", "amr"} {
		if _, ok := claims[user]; ok {
			t.Errorf("service token carries %s", user)
		}
	}
}

// TestForgedTokensRefused: ASVS 9.1.1/9.1.2, tokens the provider accepts
// back (id_token_hint, JWT access tokens) are checked against an
// allowlist of algorithms: no "none", no HMAC keyed with a public key, no
// key of the token's own choosing.
func TestForgedTokensRefused(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now().UTC().Truncate(time.Second)
	h.setClient("app", func(c *storage.Client) { c.AccessTokenFormat = "jwt" })
	tk := h.signedIn()
	parts := strings.Split(tk.AccessToken, ".")
	kid := header(t, tk.AccessToken).KeyID
	var set jose.JSONWebKeySet
	json.Unmarshal(h.get("/keys").Body.Bytes(), &set)
	pub, err := set.Key(kid)[0].MarshalJSON() // the public key, as an attacker has it
	if err != nil {
		t.Fatal(err)
	}
	forge := func(alg, typ string, key []byte) string {
		hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": typ, "kid": kid})
		input := base64.RawURLEncoding.EncodeToString(hdr) + "." + parts[1]
		if key == nil {
			return input + "."
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		jws, _ := s.Sign(payload)
		out, _ := jws.CompactSerialize()
		return out
	}
	idParts := strings.Split(tk.IDToken, ".")
	ctx := zop.ContextWithIssuer(t.Context(), testIssuer)
	for name, token := range map[string]string{
		"alg none":             forge("none", AccessTokenType, nil),
		"HS256 with the n key": forge("HS256", AccessTokenType, pub),
	} {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		if w := h.serve(r); w.Code != http.StatusUnauthorized {
			t.Errorf("%s access token: userinfo %d %s", name, w.Code, w.Body)
		}
		hint := strings.Join([]string{strings.Split(token, ".")[0], idParts[1], strings.Split(token, ".")[2]}, ".")
		if _, err := zop.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, h.p.zp.IDTokenHintVerifier(ctx)); err == nil {
			t.Errorf("%s id_token_hint accepted", name)
		}
	}
	// The genuine token passes, so the refusals above are the forgery's.
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if w := h.serve(r); w.Code != http.StatusOK {
		t.Fatalf("genuine access token: %d %s", w.Code, w.Body)
	}
}
