package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/demorp"
	"satupintu/op"
	"satupintu/storage"
)

// logoutReceiver is a relying party's back-channel logout endpoint: it
// answers 500 to the first failFirst deliveries, then 200, and records
// every request.
type logoutReceiver struct {
	failFirst int

	mu       sync.Mutex
	attempts int
	tokens   []string // of the requests answered 200
	bad      []string // requests not shaped as §2.5 asks
}

func (l *logoutReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		l.bad = append(l.bad, r.Method+" "+r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("logout_token") == "" {
		l.bad = append(l.bad, "no logout_token form field")
	}
	if l.attempts <= l.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	l.tokens = append(l.tokens, r.PostForm.Get("logout_token"))
}

func (l *logoutReceiver) delivered() (tokens []string, attempts int, bad []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.tokens), l.attempts, slices.Clone(l.bad)
}

// TestBackchannelLogout: RP-initiated logout at app-one makes the provider
// POST a logout token to app-two's back-channel URI, retried after the
// relying party's 500; the token is what Back-Channel Logout 1.0 §2.4
// asks for and passes the demo RP's verifier; app-two's refresh token is
// revoked.
func TestBackchannelLogout(t *testing.T) {
	tp := newTestProvider(t)
	tp.clock.UseRealTime() // the verifier checks iat against the real clock
	ctx := t.Context()
	rec := &logoutReceiver{failFirst: 1}
	other := httptest.NewServer(rec)
	t.Cleanup(other.Close)
	if err := tp.durable.UpdateClient(ctx, "app-two", func(c *storage.Client) error {
		c.BackchannelLogoutURI = other.URL + "/backchannel-logout"
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	b := tp.newBrowser()
	f1 := newFlow()
	q := tp.signIn(b, "app-one", f1)
	tok1, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), tp.relyingParty("app-one", f1), rp.WithCodeVerifier(f1.verifier))
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := tok1.IDTokenClaims.Claims["sid"].(string)
	sessions, err := tp.ephemeral.UserSessions(ctx, tp.user.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	if sid == "" || sid != sessions[0].SID || sid == sessions[0].ID {
		t.Fatalf("ID token sid %q: want the session's SID %q, never its cookie id", sid, sessions[0].SID)
	}

	f2 := newFlow()
	resp, _ := b.get(tp.authURL("app-two", f2))
	q = tp.redirectParams(resp, "app-two")
	party2 := tp.relyingParty("app-two", f2)
	tok2, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), party2, rp.WithCodeVerifier(f2.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok2.IDTokenClaims.Claims["sid"].(string); got != sid {
		t.Fatalf("app-two's sid %q, want the same session's %q", got, sid)
	}
	if tok2.RefreshToken == "" {
		t.Fatal("no refresh token for app-two")
	}

	// RP-initiated logout at app-one.
	a := tp.apps["app-one"]
	resp, page := b.get(tp.issuer + "/end_session?" + url.Values{"id_token_hint": {tok1.IDToken},
		"post_logout_redirect_uri": {a.postLogout}, "state": {"s"}}.Encode())
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end_session: %d %s", resp.StatusCode, page)
	}

	waitFor(t, "the logout token at app-two", func() bool { tokens, _, _ := rec.delivered(); return len(tokens) > 0 })
	tokens, attempts, bad := rec.delivered()
	if len(bad) > 0 {
		t.Errorf("malformed deliveries: %q", bad)
	}
	if attempts < 2 {
		t.Errorf("%d attempts: the first answer was 500, so a retry was needed", attempts)
	}
	token := tokens[0]

	// The demo RP's verifier accepts it (signature by the JWKS, typ, iss,
	// aud, iat, events, no nonce, sid/sub).
	got, err := demorp.VerifyLogoutToken(ctx, party2.IDTokenVerifier(), token)
	if err != nil {
		t.Fatalf("demo RP rejects the provider's logout token: %v", err)
	}
	if got.Subject != tp.user.ID || got.SessionID != sid || got.Issuer != tp.issuer ||
		!slices.Equal([]string(got.Audience), []string{"app-two"}) || got.JWTID == "" {
		t.Errorf("logout token claims: %+v", got)
	}
	if life := got.Expiration.AsTime().Sub(got.IssuedAt.AsTime()); life <= 0 || life > 2*time.Minute {
		t.Errorf("logout token lives %v, want at most 2m", life)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v, want logout+jwt", typ)
	}
	var raw map[string]any
	if err := decodeJWTPayload(token, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["nonce"]; ok {
		t.Error("logout token carries a nonce")
	}
	if ev, ok := raw["events"].(map[string]any); !ok || len(ev) != 1 || ev[op.EventBackchannelLogout] == nil {
		t.Errorf("events %v", raw["events"])
	}

	// Ending the session ended app-two's grant too.
	if r := tp.tokenRequest("app-two", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken}}); r.Error != "invalid_grant" {
		t.Errorf("app-two's refresh token after logout: %+v", r)
	}
}

// TestLogoutTokenRejected: the demo RP's verifier refuses what §2.6 tells
// a relying party to refuse.
func TestLogoutTokenRejected(t *testing.T) {
	tp := newTestProvider(t)
	tp.clock.UseRealTime()
	ctx := t.Context()
	verifier := tp.relyingParty("app-two", newFlow()).IDTokenVerifier()
	keys, err := tp.durable.SigningKeys(ctx)
	if err != nil || len(keys) == 0 {
		t.Fatalf("signing keys: %v %v", keys, err)
	}
	var k storage.SigningKey // the demo apps' algorithm: the default, RS256
	for _, key := range keys {
		if key.Algorithm == op.AlgRS256 {
			k = key
		}
	}
	priv, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func() map[string]any {
		return map[string]any{"iss": tp.issuer, "aud": "app-two", "sub": tp.user.ID, "sid": "s1",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": storage.NewID(),
			"events": map[string]any{op.EventBackchannelLogout: map[string]any{}}}
	}
	sign := func(key crypto.Signer, alg jose.SignatureAlgorithm, typ string, c map[string]any) string {
		t.Helper()
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: &jose.JSONWebKey{Key: key, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(c)
		jws, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := jws.CompactSerialize()
		return out
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	signer := priv.(crypto.Signer)
	if _, err := demorp.VerifyLogoutToken(ctx, verifier, sign(signer, alg, "logout+jwt", claims())); err != nil {
		t.Fatalf("a well-formed token is refused, so the cases below prove nothing: %v", err)
	}
	with := func(key string, v any) map[string]any { c := claims(); c[key] = v; return c }
	without := func(keys ...string) map[string]any {
		c := claims()
		for _, k := range keys {
			delete(c, k)
		}
		return c
	}
	// A key of the same algorithm and kid that the provider never had.
	var forged crypto.Signer
	if alg == jose.ES256 {
		forged, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		forged, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A valid token whose payload was swapped: the signature no longer fits.
	valid := strings.Split(sign(signer, alg, "logout+jwt", claims()), ".")
	swapped := strings.Split(sign(signer, alg, "logout+jwt", with("sub", "someone-else")), ".")
	tampered := valid[0] + "." + swapped[1] + "." + valid[2]
	otherAud, err := tp.provider.LogoutToken(ctx, "app-one", tp.user.ID, "s1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, token string
		want        error
	}{
		{"wrong audience", otherAud, oidc.ErrAudience},
		{"nonce present", sign(signer, alg, "logout+jwt", with("nonce", "n")), demorp.ErrLogoutTokenNonce},
		{"signed by another key", sign(forged, alg, "logout+jwt", claims()), oidc.ErrSignatureInvalid},
		{"payload altered after signing", tampered, oidc.ErrSignatureInvalid},
		{"an ID token's typ", sign(signer, alg, "JWT", claims()), demorp.ErrLogoutTokenType},
		{"no events claim", sign(signer, alg, "logout+jwt", without("events")), demorp.ErrLogoutTokenEvent},
		{"neither sid nor sub", sign(signer, alg, "logout+jwt", without("sid", "sub")), demorp.ErrLogoutTokenTarget},
		{"another issuer", sign(signer, alg, "logout+jwt", with("iss", "https://evil.example")), oidc.ErrIssuerInvalid},
		{"expired", sign(signer, alg, "logout+jwt", with("exp", now.Add(-time.Minute).Unix())), oidc.ErrExpired},
		{"stale iat", sign(signer, alg, "logout+jwt", with("iat", now.Add(-10*time.Minute).Unix())), oidc.ErrIatToOld},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demorp.VerifyLogoutToken(ctx, verifier, tt.token)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestClientBackchannelLogoutURI: client create takes the URI, client
// update sets and clears it, and both refuse what a redirect URI may not be.
func TestClientBackchannelLogoutURI(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "CargoLink", "--redirect-uri", "https://cargo.example/cb",
		"--backchannel-logout-uri", "https://cargo.example/bcl", "--json")
	var created clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	if created.BackchannelLogoutURI != "https://cargo.example/bcl" {
		t.Fatalf("created with backchannel_logout_uri %q", created.BackchannelLogoutURI)
	}
	var updated clientJSON
	code, out, errOut = c.run("", "client", "update", created.ClientID, "--backchannel-logout-uri", "http://localhost:8082/bcl", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &updated) != nil || updated.BackchannelLogoutURI != "http://localhost:8082/bcl" {
		t.Fatalf("update: exit %d %s %s", code, out, errOut)
	}
	if updated.ClientSecret != "" || updated.Name != "CargoLink" {
		t.Fatalf("update changed more than the URI: %+v", updated)
	}
	// The third-party login endpoint is set on its own; the other stays.
	code, out, errOut = c.run("", "client", "update", created.ClientID, "--initiate-login-uri", "https://cargo.example/sso/start", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &updated) != nil || updated.InitiateLoginURI != "https://cargo.example/sso/start" ||
		updated.BackchannelLogoutURI != "http://localhost:8082/bcl" {
		t.Fatalf("update initiate_login_uri: exit %d %s %s", code, out, errOut)
	}
	code, _, errOut = c.run("", "client", "update", created.ClientID, "--backchannel-logout-uri", "")
	if code != 0 {
		t.Fatalf("clear: exit %d %s", code, errOut)
	}
	_, out, _ = c.run("", "client", "list", "--json")
	if strings.Contains(out, "backchannel_logout_uri") {
		t.Fatalf("cleared URI still listed:\n%s", out)
	}
	for name, args := range map[string][]string{
		"plain http off loopback": {"client", "update", created.ClientID, "--backchannel-logout-uri", "http://cargo.example/bcl"},
		"javascript":              {"client", "update", created.ClientID, "--backchannel-logout-uri", "javascript:alert(1)"},
		"relative":                {"client", "update", created.ClientID, "--backchannel-logout-uri", "/bcl"},
		"fragment":                {"client", "update", created.ClientID, "--backchannel-logout-uri", "https://cargo.example/bcl#x"},
		"nothing to change":       {"client", "update", created.ClientID},
		"no such client":          {"client", "update", "nope", "--backchannel-logout-uri", "https://cargo.example/bcl"},
		"create with http":        {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--backchannel-logout-uri", "http://a.example/bcl"},
		"initiate javascript":     {"client", "update", created.ClientID, "--initiate-login-uri", "javascript:alert(1)"},
		"create initiate http":    {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--initiate-login-uri", "http://a.example/go"},
	} {
		if code, _, errOut := c.run("", args...); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%q)", name, code, errOut)
		}
	}
}

// TestDiscoveryAdvertisesBackchannelLogout: relying parties learn from
// discovery that they may register an endpoint and will get sid.
func TestDiscoveryAdvertisesBackchannelLogout(t *testing.T) {
	tp := newTestProvider(t)
	resp, body := tp.newBrowser().get(tp.issuer + "/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	var doc struct {
		Supported        bool     `json:"backchannel_logout_supported"`
		SessionSupported bool     `json:"backchannel_logout_session_supported"`
		Claims           []string `json:"claims_supported"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Supported || !doc.SessionSupported || !slices.Contains(doc.Claims, "sid") {
		t.Errorf("discovery: %+v", doc)
	}
}
