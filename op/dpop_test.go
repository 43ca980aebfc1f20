package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/redis/redistest"
)

// testKey is a client's DPoP key.
type testKey struct {
	t    testing.TB
	alg  string
	priv crypto.Signer
	jkt  string
}

func newTestKey(t testing.TB, alg string) *testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RS256-1024": // too small
		priv, err = rsa.GenerateKey(rand.Reader, 1024)
		alg = "RS256"
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{t: t, alg: alg, priv: priv}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k.jkt = base64.RawURLEncoding.EncodeToString(thumb)
	return k
}

// jwk is the key as a JWK object; private includes the secret members.
func (k *testKey) jwk(private bool) map[string]any {
	k.t.Helper()
	var key any = k.priv.Public()
	if private {
		key = k.priv
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		k.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		k.t.Fatal(err)
	}
	return m
}

// sign builds a compact JWS of hdr and claims, signed as hdr's alg says
// (none and HS256 included, to test their refusal), by hand so malformed
// proofs can be made.
func (k *testKey) sign(hdr, claims map[string]any) string {
	k.t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			k.t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(hdr) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch hdr["alg"] {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, k.priv.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			k.t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "EdDSA":
		sig = ed25519.Sign(k.priv.(ed25519.PrivateKey), []byte(input))
	case "RS256", "PS256":
		var err error
		if hdr["alg"] == "RS256" {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		} else {
			sig, err = rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			k.t.Fatal(err)
		}
	case "HS256":
		mac := hmac.New(sha256.New, []byte("a shared secret of thirty-two b."))
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case "none":
	default:
		k.t.Fatalf("cannot sign with %v", hdr["alg"])
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

type proofMod func(hdr, claims map[string]any)

// proof is a valid proof by k for method and path at the test issuer,
// with the current server nonce, changed by mods.
func (h *harness) proof(k *testKey, method, path string, mods ...proofMod) string {
	hdr := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk(false)}
	claims := map[string]any{
		"jti": storage.NewID(), "htm": method, "htu": testIssuer + path,
		"iat": h.now.Unix(), "nonce": h.p.dpop.nonceAt(h.now),
	}
	for _, m := range mods {
		m(hdr, claims)
	}
	return k.sign(hdr, claims)
}

func withAccessToken(token string) proofMod {
	sum := sha256.Sum256([]byte(token))
	return func(_, c map[string]any) { c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:]) }
}

func withClaim(name string, v any) proofMod {
	return func(_, c map[string]any) {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
}

func withHeader(name string, v any) proofMod {
	return func(h, _ map[string]any) { h[name] = v }
}

// DPoP test clients: a public single-page app, a confidential client that
// must use DPoP, and one with JWT access tokens.
const (
	clientSPA    = "spa"
	clientStrict = "strict"
	clientJWT    = "jwt-app"
)

func newDPoPHarness(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t)
	clients, ok := h.dur.Durable.(storage.Clients)
	if !ok {
		t.Fatal("the durable store cannot create clients")
	}
	grants := []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	for _, c := range []storage.Client{
		{ID: clientSPA, Public: true, AccessTokenFormat: "opaque"},
		{ID: clientStrict, DPoPRequired: true, AccessTokenFormat: "opaque", SecretHash: password.HashSecret(testSecret)},
		{ID: clientJWT, AccessTokenFormat: "jwt", SecretHash: password.HashSecret(testSecret)},
	} {
		c.Name, c.GrantTypes, c.RedirectURIs, c.CreatedAt = c.ID, grants, []string{testRedirect}, h.now
		if err := clients.CreateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// codeWith is codeFor with the extra parameters as name, value pairs.
func (h *harness) codeWith(client string, pk pkce, extra ...string) string {
	h.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return h.codeFor(client, pk, q)
}

// token posts a token request of client with the given DPoP headers; the
// public client sends its id, the others authenticate with Basic.
func (h *harness) token(client string, form url.Values, proofs ...string) *httptest.ResponseRecorder {
	if client == clientSPA {
		form.Set("client_id", client)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client != clientSPA {
		r.SetBasicAuth(client, testSecret)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return h.serve(r)
}

func codeForm(code string, pk pkce) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// userinfo asks for the claims with the header value auth and the proofs.
func (h *harness) userinfo(auth string, proofs ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", auth)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return h.serve(r)
}

// tokenAnswer is a token endpoint answer with its token type.
type tokenAnswer struct {
	tokens
	TokenType string `json:"token_type"`
}

func decodeToken(t *testing.T, w *httptest.ResponseRecorder) tokenAnswer {
	t.Helper()
	var a tokenAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a.tokens); err != nil {
		t.Fatal(err)
	}
	return a
}

// wantDPoPTokens checks a successful token answer with a bound token.
func wantDPoPTokens(t *testing.T, name string, w *httptest.ResponseRecorder) tokenAnswer {
	t.Helper()
	a := decodeToken(t, w)
	if w.Code != http.StatusOK || a.AccessToken == "" || a.TokenType != "DPoP" {
		t.Fatalf("%s: %d %s, want tokens of type DPoP", name, w.Code, w.Body)
	}
	if w.Header().Get("DPoP-Nonce") == "" {
		t.Errorf("%s: no DPoP-Nonce header", name)
	}
	return a
}

// wantTokenError checks a token endpoint refusal: 400, code, a
// description in RFC 6749's character set, no internals.
func wantTokenError(t *testing.T, name string, w *httptest.ResponseRecorder, code string) {
	t.Helper()
	checkNoLeak(t, name, w)
	a := decodeToken(t, w)
	if w.Code != http.StatusBadRequest || a.Error != code || a.AccessToken != "" {
		t.Errorf("%s: %d %s, want 400 %s", name, w.Code, w.Body, code)
		return
	}
	if a.Description == "" || !validDescription(a.Description) {
		t.Errorf("%s: description %q, want one in RFC 6749's character set", name, a.Description)
	}
}

// wantUserinfoRefused checks a 401 with a DPoP challenge naming code.
func wantUserinfoRefused(t *testing.T, name string, w *httptest.ResponseRecorder, code string) {
	t.Helper()
	checkNoLeak(t, name, w)
	ch := w.Header().Get("WWW-Authenticate")
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="`+code+`"`) ||
		!strings.Contains(ch, `algs="ES256 RS256 PS256 EdDSA"`) {
		t.Errorf("%s: %d %q %s, want 401 with a DPoP challenge for %s", name, w.Code, ch, w.Body, code)
	}
	if strings.Contains(w.Body.String(), "budi@") || strings.Contains(w.Body.String(), `"sub"`) {
		t.Errorf("%s: the refused request got claims: %s", name, w.Body)
	}
}

func (h *harness) refreshToken(t *testing.T, token string) storage.RefreshToken {
	t.Helper()
	rt, err := h.dur.RefreshTokenByID(t.Context(), refreshID(token))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestDPoPPublicClientCodeUserinfoRefresh(t *testing.T) {
	h := newDPoPHarness(t)
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	code := h.codeWith(clientSPA, pk)
	tk := wantDPoPTokens(t, "code exchange", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token")))
	if rt := h.refreshToken(t, tk.RefreshToken); rt.JKT != k.jkt {
		t.Errorf("public client's refresh token bound to %q, want %q", rt.JKT, k.jkt)
	}

	w := h.userinfo("DPoP "+tk.AccessToken, h.proof(k, "GET", "/userinfo", withAccessToken(tk.AccessToken)))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), h.user.ID) {
		t.Fatalf("userinfo with DPoP: %d %s", w.Code, w.Body)
	}

	h.now = h.now.Add(time.Minute)
	next := wantDPoPTokens(t, "refresh", h.token(clientSPA, refreshForm(tk.RefreshToken), h.proof(k, "POST", "/oauth/token")))
	if rt := h.refreshToken(t, next.RefreshToken); rt.JKT != k.jkt {
		t.Errorf("rotated refresh token bound to %q, want %q", rt.JKT, k.jkt)
	}
	w = h.userinfo("DPoP "+next.AccessToken, h.proof(k, "GET", "/userinfo", withAccessToken(next.AccessToken)))
	if w.Code != http.StatusOK {
		t.Errorf("userinfo with the refreshed token: %d %s", w.Code, w.Body)
	}
}

func TestDPoPConfidentialClientBindsAccessTokensOnly(t *testing.T) {
	h := newDPoPHarness(t)
	k1, k2 := newTestKey(t, "EdDSA"), newTestKey(t, "ES256")
	pk := newPKCE()
	tk := wantDPoPTokens(t, "code exchange", h.token("app", codeForm(h.codeWith("app", pk), pk), h.proof(k1, "POST", "/oauth/token")))
	// RFC 9449 §5: a confidential client's refresh token is not bound.
	if rt := h.refreshToken(t, tk.RefreshToken); rt.JKT != "" {
		t.Errorf("confidential client's refresh token bound to %q", rt.JKT)
	}
	introspect := func(token string) map[string]any {
		t.Helper()
		w := h.post("/oauth/introspect", "app", url.Values{"token": {token}})
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != http.StatusOK || m["active"] != true {
			t.Fatalf("introspection: %d %s", w.Code, w.Body)
		}
		return m
	}
	m := introspect(tk.AccessToken)
	if cnf, _ := m["cnf"].(map[string]any); m["token_type"] != "DPoP" || cnf["jkt"] != k1.jkt {
		t.Errorf("introspection of a bound token: %v, want token_type DPoP and cnf.jkt %s", m, k1.jkt)
	}

	// Each new access token is bound to the proof presented with the refresh.
	w := h.token("app", refreshForm(tk.RefreshToken), h.proof(k2, "POST", "/oauth/token"))
	tk2 := wantDPoPTokens(t, "refresh with another key", w)
	if cnf, _ := introspect(tk2.AccessToken)["cnf"].(map[string]any); cnf["jkt"] != k2.jkt {
		t.Errorf("refreshed access token bound to %v, want %s", cnf, k2.jkt)
	}
	// Without a proof the new access token is a bearer token.
	w = h.token("app", refreshForm(tk2.RefreshToken))
	if a := decodeToken(t, w); w.Code != http.StatusOK || a.TokenType != "Bearer" {
		t.Fatalf("refresh without a proof: %d %s, want a Bearer token", w.Code, w.Body)
	} else if m := introspect(a.AccessToken); m["token_type"] != "Bearer" || m["cnf"] != nil {
		t.Errorf("introspection of a bearer token: %v", m)
	}
}

func TestDPoPJWTAccessTokenCarriesCnf(t *testing.T) {
	h := newDPoPHarness(t)
	// zitadel checks a JWT access token's exp and iat against the wall
	// clock, so this test's clock starts there.
	h.now = time.Now().UTC().Truncate(time.Second)
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	tk := wantDPoPTokens(t, "code exchange", h.token(clientJWT, codeForm(h.codeWith(clientJWT, pk), pk), h.proof(k, "POST", "/oauth/token")))
	parts := strings.Split(tk.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %q", tk.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Cnf.JKT != k.jkt {
		t.Errorf("JWT access token claims %s, want cnf.jkt %s", payload, k.jkt)
	}
	w := h.userinfo("DPoP "+tk.AccessToken, h.proof(k, "GET", "/userinfo", withAccessToken(tk.AccessToken)))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), h.user.ID) {
		t.Errorf("userinfo with a bound JWT access token: %d %s", w.Code, w.Body)
	}
}

func TestDPoPInvalidProofsAreRefused(t *testing.T) {
	h := newDPoPHarness(t)
	k, other := newTestKey(t, "ES256"), newTestKey(t, "ES256")
	pk := newPKCE()
	code := h.codeWith(clientSPA, pk)
	tooLong := strings.Repeat("a", maxDPoPProof)
	cases := []struct {
		name   string
		proofs []string
	}{
		{"a proof for another URL", []string{h.proof(k, "POST", "/userinfo")}},
		{"a proof for another host", []string{h.proof(k, "POST", "", withClaim("htu", "http://evil.test/oauth/token"))}},
		{"a proof for another method", []string{h.proof(k, "GET", "/oauth/token")}},
		{"iat before the window", []string{h.proof(k, "POST", "/oauth/token", withClaim("iat", h.now.Add(-dpopWindow-time.Second).Unix()))}},
		{"iat after the window", []string{h.proof(k, "POST", "/oauth/token", withClaim("iat", h.now.Add(dpopWindow+time.Second).Unix()))}},
		{"no iat", []string{h.proof(k, "POST", "/oauth/token", withClaim("iat", nil))}},
		{"no jti", []string{h.proof(k, "POST", "/oauth/token", withClaim("jti", nil))}},
		{"a private key in the jwk", []string{h.proof(k, "POST", "/oauth/token", withHeader("jwk", k.jwk(true)))}},
		{"alg none", []string{h.proof(k, "POST", "/oauth/token", withHeader("alg", "none"))}},
		{"alg HS256", []string{h.proof(k, "POST", "/oauth/token", withHeader("alg", "HS256"))}},
		{"typ JWT", []string{h.proof(k, "POST", "/oauth/token", withHeader("typ", "JWT"))}},
		{"no jwk", []string{h.proof(k, "POST", "/oauth/token", withHeader("jwk", nil))}},
		{"signed by another key", []string{h.proof(k, "POST", "/oauth/token", withHeader("jwk", other.jwk(false)))}},
		{"typ under another case", []string{h.proof(k, "POST", "/oauth/token", func(hdr, _ map[string]any) {
			delete(hdr, "typ")
			hdr["TYP"] = "dpop+jwt"
		})}},
		{"htm under another case", []string{h.proof(k, "POST", "/oauth/token", func(_, c map[string]any) {
			delete(c, "htm")
			c["HTM"] = "POST"
		})}},
		{"iat as a string", []string{h.proof(k, "POST", "/oauth/token", withClaim("iat", fmt.Sprint(h.now.Unix())))}},
		{"two proofs", []string{h.proof(k, "POST", "/oauth/token"), h.proof(k, "POST", "/oauth/token")}},
		{"not a JWS", []string{"not-a-proof"}},
		{"an oversized proof", []string{tooLong + "." + tooLong + "." + tooLong}},
	}
	for _, c := range cases {
		wantTokenError(t, c.name, h.token(clientSPA, codeForm(code, pk), c.proofs...), "invalid_dpop_proof")
	}
	// None of the refused requests used the code.
	wantDPoPTokens(t, "a valid proof after the refusals", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token")))
}

func TestDPoPReplayedProofIsRefused(t *testing.T) {
	h := newDPoPHarness(t)
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	proof := h.proof(k, "POST", "/oauth/token")
	tk := wantDPoPTokens(t, "first use", h.token(clientSPA, codeForm(h.codeWith(clientSPA, pk), pk), proof))
	wantTokenError(t, "the same proof again", h.token(clientSPA, refreshForm(tk.RefreshToken), proof), "invalid_dpop_proof")

	up := h.proof(k, "GET", "/userinfo", withAccessToken(tk.AccessToken))
	if w := h.userinfo("DPoP "+tk.AccessToken, up); w.Code != http.StatusOK {
		t.Fatalf("userinfo: %d %s", w.Code, w.Body)
	}
	wantUserinfoRefused(t, "a replayed userinfo proof", h.userinfo("DPoP "+tk.AccessToken, up), "invalid_dpop_proof")
}

func TestDPoPNonceIsRequired(t *testing.T) {
	h := newDPoPHarness(t)
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	// The proof is checked before the code is looked at: no code is needed
	// to learn a nonce.
	w := h.token(clientSPA, codeForm("no-code", pk), h.proof(k, "POST", "/oauth/token", withClaim("nonce", nil)))
	wantTokenError(t, "a proof without a nonce", w, "use_dpop_nonce")
	nonce := w.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}

	// The nonce of the previous period is still good; older ones are not.
	h.now = h.now.Add(dpopNonceBucket)
	code := h.codeWith(clientSPA, pk)
	stale := h.p.dpop.nonceAt(h.now.Add(-2 * dpopNonceBucket))
	wantTokenError(t, "a stale nonce", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token", withClaim("nonce", stale))), "use_dpop_nonce")
	wantTokenError(t, "a made-up nonce", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token", withClaim("nonce", "bm9uY2U"))), "use_dpop_nonce")
	tk := wantDPoPTokens(t, "the retry with the nonce", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token", withClaim("nonce", nonce))))

	w = h.userinfo("DPoP "+tk.AccessToken, h.proof(k, "GET", "/userinfo", withAccessToken(tk.AccessToken), withClaim("nonce", nil)))
	wantUserinfoRefused(t, "userinfo without a nonce", w, "use_dpop_nonce")
	if w.Header().Get("DPoP-Nonce") == "" {
		t.Error("userinfo use_dpop_nonce without a DPoP-Nonce header")
	}
}

func TestDPoPUserinfoRefusals(t *testing.T) {
	h := newDPoPHarness(t)
	k, other := newTestKey(t, "ES256"), newTestKey(t, "ES256")
	pk := newPKCE()
	tk := wantDPoPTokens(t, "code exchange", h.token(clientSPA, codeForm(h.codeWith(clientSPA, pk), pk), h.proof(k, "POST", "/oauth/token")))
	bearer := h.signedIn() // client "app" without DPoP

	wantUserinfoRefused(t, "an ath mismatch", h.userinfo("DPoP "+tk.AccessToken,
		h.proof(k, "GET", "/userinfo", withAccessToken(bearer.AccessToken))), "invalid_dpop_proof")
	wantUserinfoRefused(t, "a proof without ath", h.userinfo("DPoP "+tk.AccessToken, h.proof(k, "GET", "/userinfo")), "invalid_dpop_proof")
	wantUserinfoRefused(t, "a proof for POST", h.userinfo("DPoP "+tk.AccessToken,
		h.proof(k, "POST", "/userinfo", withAccessToken(tk.AccessToken))), "invalid_dpop_proof")
	wantUserinfoRefused(t, "the DPoP scheme without a proof", h.userinfo("DPoP "+tk.AccessToken), "invalid_dpop_proof")
	wantUserinfoRefused(t, "a bound token as Bearer", h.userinfo("Bearer "+tk.AccessToken), "invalid_token")
	wantUserinfoRefused(t, "a bound token with another key's proof", h.userinfo("DPoP "+tk.AccessToken,
		h.proof(other, "GET", "/userinfo", withAccessToken(tk.AccessToken))), "invalid_token")
	wantUserinfoRefused(t, "a bearer token with the DPoP scheme", h.userinfo("DPoP "+bearer.AccessToken,
		h.proof(k, "GET", "/userinfo", withAccessToken(bearer.AccessToken))), "invalid_token")

	// A bound token in the form body is a bearer presentation too.
	w := h.post("/userinfo", "", url.Values{"access_token": {tk.AccessToken}})
	wantUserinfoRefused(t, "a bound token in the form body", w, "invalid_token")
	// The bearer token still works as Bearer.
	if w := h.userinfo("Bearer " + bearer.AccessToken); w.Code != http.StatusOK {
		t.Errorf("bearer token as Bearer: %d %s", w.Code, w.Body)
	}
	// No credentials: both schemes are offered (RFC 9449 §7.1).
	w = h.serve(httptest.NewRequest(http.MethodGet, "/userinfo", nil))
	if ch := w.Header().Values("WWW-Authenticate"); w.Code != http.StatusUnauthorized || len(ch) != 2 || !strings.HasPrefix(ch[1], "DPoP algs=") {
		t.Errorf("no credentials: %d %q", w.Code, ch)
	}
}

func TestDPoPPublicClientRefreshNeedsItsKey(t *testing.T) {
	h := newDPoPHarness(t)
	k, other := newTestKey(t, "ES256"), newTestKey(t, "ES256")
	pk := newPKCE()
	tk := wantDPoPTokens(t, "code exchange", h.token(clientSPA, codeForm(h.codeWith(clientSPA, pk), pk), h.proof(k, "POST", "/oauth/token")))
	wantTokenError(t, "refresh with another key", h.token(clientSPA, refreshForm(tk.RefreshToken), h.proof(other, "POST", "/oauth/token")), "invalid_grant")
	events, err := h.dur.ListAudit(t.Context(), 0, 1)
	if err != nil || len(events) != 1 || events[0].Action != "dpop.key_mismatch" || events[0].ClientID != clientSPA {
		t.Errorf("audit after a refresh with another key: %+v %v, want dpop.key_mismatch", events, err)
	}
	wantTokenError(t, "refresh without a proof", h.token(clientSPA, refreshForm(tk.RefreshToken)), "invalid_dpop_proof")
	// The refusals neither used nor revoked the grant.
	wantDPoPTokens(t, "refresh with the key", h.token(clientSPA, refreshForm(tk.RefreshToken), h.proof(k, "POST", "/oauth/token")))
}

func TestDPoPRequiredClientNeedsAProof(t *testing.T) {
	h := newDPoPHarness(t)
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	code := h.codeWith(clientStrict, pk)
	wantTokenError(t, "code exchange without a proof", h.token(clientStrict, codeForm(code, pk)), "invalid_dpop_proof")
	tk := wantDPoPTokens(t, "code exchange with a proof", h.token(clientStrict, codeForm(code, pk), h.proof(k, "POST", "/oauth/token")))
	wantTokenError(t, "refresh without a proof", h.token(clientStrict, refreshForm(tk.RefreshToken)), "invalid_dpop_proof")
}

func TestDPoPJKTBindsTheCode(t *testing.T) {
	h := newDPoPHarness(t)
	k, other := newTestKey(t, "ES256"), newTestKey(t, "ES256")

	pk := newPKCE()
	code := h.codeWith(clientSPA, pk, "dpop_jkt", k.jkt)
	wantTokenError(t, "a proof by another key", h.token(clientSPA, codeForm(code, pk), h.proof(other, "POST", "/oauth/token")), "invalid_grant")
	pk = newPKCE()
	code = h.codeWith(clientSPA, pk, "dpop_jkt", k.jkt)
	wantTokenError(t, "no proof", h.token(clientSPA, codeForm(code, pk)), "invalid_grant")
	pk = newPKCE()
	code = h.codeWith(clientSPA, pk, "dpop_jkt", k.jkt)
	wantDPoPTokens(t, "a proof by the key", h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token")))

	// A malformed dpop_jkt is refused back to the client.
	w := h.get("/authorize?" + authorizeQuery(newPKCE(), "client_id", clientSPA, "dpop_jkt", "not a thumbprint").Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("malformed dpop_jkt: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// A dpop_jkt sent in a pushed request binds the code too (RFC 9449 §10).
func TestDPoPJKTInPushedRequest(t *testing.T) {
	h := newDPoPHarness(t)
	k, other := newTestKey(t, "ES256"), newTestKey(t, "ES256")
	for _, c := range []struct {
		name string
		key  *testKey
		ok   bool
	}{{"a proof by another key", other, false}, {"a proof by the key", k, true}} {
		pk := newPKCE()
		code := h.finish(h.authorizePushed("app", h.push(t, authorizeQuery(pk, "dpop_jkt", k.jkt))))
		w := h.token("app", codeForm(code, pk), h.proof(c.key, "POST", "/oauth/token"))
		if c.ok {
			wantDPoPTokens(t, c.name, w)
		} else {
			wantTokenError(t, c.name, w, "invalid_grant")
		}
	}
}

func TestDPoPDiscovery(t *testing.T) {
	h := newHarness(t)
	var doc map[string]any
	w := h.get("/.well-known/openid-configuration")
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(doc["dpop_signing_alg_values_supported"])
	if string(got) != `["ES256","RS256","PS256","EdDSA"]` {
		t.Errorf("dpop_signing_alg_values_supported = %s", got)
	}
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://OP.Example:443/oauth/token?x=1#f": "https://op.example/oauth/token",
		"http://op.test:80/userinfo":               "http://op.test/userinfo",
		"http://op.test":                           "http://op.test/",
		"https://op.test:8443/t":                   "https://op.test:8443/t",
		"ftp://op.test/t":                          "",
		"https://user@op.test/t":                   "",
		"/oauth/token":                             "",
	} {
		if got, _ := normalizeHTU(in); got != want {
			t.Errorf("normalizeHTU(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDPoPProof sends arbitrary DPoP headers to the token and userinfo
// endpoints: never a panic or a 5xx, always OAuth JSON in RFC 6749's
// character set (checkAnswer).
func FuzzDPoPProof(f *testing.F) {
	h := newDPoPHarness(f)
	k := newTestKey(f, "ES256")
	f.Add(h.proof(k, "POST", "/oauth/token"))
	f.Add(h.proof(k, "POST", "/oauth/token", withHeader("jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"})))
	f.Add(h.proof(k, "POST", "/oauth/token", withClaim("iat", "1e400")))
	f.Add("e30.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, proof string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(refreshForm("rt").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("app", testSecret)
		r.Header.Set("DPoP", proof)
		checkAnswer(t, "token", h.serve(r))
		checkAnswer(t, "userinfo", h.userinfo("DPoP x", proof))
	})
}

// TestDPoPNodesShareNonceAndReplayCache: two providers on the same stores
// (as two nodes on one Postgres and Redis) accept each other's nonces and
// refuse a proof the other already took.
func TestDPoPNodesShareNonceAndReplayCache(t *testing.T) {
	h := newDPoPHarness(t)
	other, err := New(t.Context(), Config{
		Issuer:    testIssuer,
		CryptoKey: h.p.cfg.CryptoKey,
		LogoutURL: func(context.Context, LogoutRequest) (string, error) { return "/logout", nil },
		Now:       func() time.Time { return h.now },
		Logger:    h.p.cfg.Logger,
	}, h.dur, h.eph)
	if err != nil {
		t.Fatal(err)
	}
	k := newTestKey(t, "ES256")
	pk := newPKCE()
	code := h.codeWith(clientSPA, pk)
	// The nonce node one hands out is good at node two.
	w := h.token(clientSPA, codeForm(code, pk), h.proof(k, "POST", "/oauth/token", withClaim("nonce", nil)))
	wantTokenError(t, "no nonce at node one", w, "use_dpop_nonce")
	proof := h.proof(k, "POST", "/oauth/token", withClaim("nonce", w.Header().Get("DPoP-Nonce")))
	serveAt := func(p *Provider, r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, r)
		return rec
	}
	form := codeForm(code, pk)
	form.Set("client_id", clientSPA)
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("DPoP", proof)
		return r
	}
	wantDPoPTokens(t, "node two with node one's nonce", serveAt(other, req()))
	// The same proof at node one is a replay.
	wantTokenError(t, "the proof again at node one", serveAt(h.p, req()), "invalid_dpop_proof")
}

// TestDPoPReplayCacheIsSharedThroughRedis: two nodes with their own Redis
// connections (one key prefix, as production nodes share one Redis) see
// each other's jti values, and each accepts the other's nonce.
func TestDPoPReplayCacheIsSharedThroughRedis(t *testing.T) {
	h := newDPoPHarness(t)
	first, prefix := redistest.Open(t)
	second := redistest.OpenPrefix(t, prefix)
	node := func(once storage.OneTime) *dpopChecker {
		c := newDPoPChecker(&h.p.cfg, h.p.store)
		c.once = once
		return c
	}
	one, two := node(first), node(second)
	k := newTestKey(t, "ES256")
	proof := h.proof(k, "POST", "/oauth/token", withClaim("nonce", one.nonceAt(h.now)))
	if jkt, e := two.verify(t.Context(), proof, "POST", "/oauth/token", ""); e != nil || jkt != k.jkt {
		t.Fatalf("node two: (%q, %v), want the key's thumbprint", jkt, e)
	}
	if _, e := one.verify(t.Context(), proof, "POST", "/oauth/token", ""); e == nil || e.ErrorType != "invalid_dpop_proof" {
		t.Errorf("the same proof at node one: %v, want invalid_dpop_proof", e)
	}
}

// TestClientRequiresDPoPFindsTheClient: the per-client requirement applies
// however the client names itself (Basic, client_id, or a client assertion
// once private_key_jwt is accepted).
func TestClientRequiresDPoPFindsTheClient(t *testing.T) {
	h := newDPoPHarness(t)
	assertion := func(sub string) string {
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		return enc(`{"alg":"ES256"}`) + "." + enc(`{"iss":"`+sub+`","sub":"`+sub+`"}`) + ".c2ln"
	}
	for name, c := range map[string]struct {
		form  url.Values
		basic string
		want  bool
	}{
		"Basic":                  {url.Values{}, clientStrict, true},
		"client_id":              {url.Values{"client_id": {clientStrict}}, "", true},
		"client assertion":       {url.Values{"client_assertion": {assertion(clientStrict)}}, "", true},
		"a client without it":    {url.Values{"client_id": {clientSPA}}, "", false},
		"an unknown client":      {url.Values{"client_id": {"ghost"}}, "", false},
		"a malformed assertion":  {url.Values{"client_assertion": {"x.y"}}, "", false},
		"no client named at all": {url.Values{}, "", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(c.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.basic != "" {
			r.SetBasicAuth(c.basic, testSecret)
		}
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		if got, err := h.p.clientRequiresDPoP(r); got != c.want || err != nil {
			t.Errorf("%s: clientRequiresDPoP = %v, %v; want %v", name, got, err, c.want)
		}
	}
	// A client that cannot be loaded is a dependency failure, not "no":
	// a public client names itself only by client_id, and nothing else
	// has loaded it yet.
	h.now = h.now.Add(time.Second) // past the client cache
	h.dur.down.Store(true)
	defer h.dur.down.Store(false)
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(url.Values{"client_id": {clientSPA}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if got, err := h.p.clientRequiresDPoP(r); err == nil {
		t.Errorf("clientRequiresDPoP with the store down = %v, nil; want an error", got)
	}
}

// TestDPoPAlgorithms: every advertised algorithm is accepted, and an RSA
// key below 2048 bits is not.
func TestDPoPAlgorithms(t *testing.T) {
	h := newDPoPHarness(t)
	for _, alg := range DPoPAlgorithms() {
		k := newTestKey(t, alg)
		w := h.token("service", url.Values{"grant_type": {"client_credentials"}}, h.proof(k, "POST", "/oauth/token"))
		if a := decodeToken(t, w); w.Code != http.StatusOK || a.TokenType != "DPoP" {
			t.Errorf("%s: %d %s, want a DPoP token", alg, w.Code, w.Body)
		}
	}
	k := newTestKey(t, "RS256-1024")
	wantTokenError(t, "RSA-1024", h.token("service", url.Values{"grant_type": {"client_credentials"}}, h.proof(k, "POST", "/oauth/token")), "invalid_dpop_proof")
}
