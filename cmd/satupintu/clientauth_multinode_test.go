package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"satupintu/op"
	"satupintu/storage"
)

// TestClientAuthAcrossNodes: an assertion's jti and a pushed request are
// kept in the shared Redis, so a replay on another node is refused and a
// request_uri pushed to one node is taken once on any; the key sealing
// client_secret_jwt secrets comes from the shared secrets table.
func TestClientAuthAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	ctx := t.Context()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig"}}})
	grants := []string{storage.GrantClientCredentials}
	now := c.clock.Now()
	if err := c.durable.CreateClient(ctx, storage.Client{ID: "pkj", Name: "pkj", GrantTypes: grants, AccessTokenFormat: "opaque",
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: string(jwks), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sealKey, err := clientSecretKey(ctx, c.durable) // what serve and the CLI use
	if err != nil {
		t.Fatal(err)
	}
	const secret = "c2VjcmV0LWZvci1oczI1Ni1hc3NlcnRpb25zLW9rYXk"
	sealed, err := op.SealClientSecret(sealKey, secret, "csj")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.durable.CreateClient(ctx, storage.Client{ID: "csj", Name: "csj", GrantTypes: grants, AccessTokenFormat: "opaque",
		AuthMethod: storage.AuthMethodSecretJWT, SecretSealed: sealed, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}

	assertion := func(id string, alg jose.SignatureAlgorithm, k any) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		n := time.Now()
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{c.issuer},
			Expiry: jwt.NewNumericDate(n.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(n), ID: storage.NewID()}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	token := func(a string) int {
		return c.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}, "", "").status
	}

	a := assertion("pkj", jose.ES256, key)
	c.on(0)
	if status := token(a); status != http.StatusOK {
		t.Fatalf("assertion on A: %d", status)
	}
	c.on(1)
	if status := token(a); status != http.StatusUnauthorized {
		t.Fatalf("the same assertion on B: %d, want 401", status)
	}
	if status := token(assertion("csj", jose.HS256, []byte(secret))); status != http.StatusOK {
		t.Fatalf("client_secret_jwt on B: %d", status)
	}

	// Push on A, authorize on B, once.
	app := c.apps["app-one"]
	f := newFlow()
	q := url.Values{"client_id": {app.id}, "redirect_uri": {app.redirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {f.challenge()}, "code_challenge_method": {"S256"}}
	c.on(0)
	req, _ := http.NewRequest(http.MethodPost, c.issuer+"/par", strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.id, app.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pushed struct {
		RequestURI string `json:"request_uri"`
	}
	if json.Unmarshal(body, &pushed); resp.StatusCode != http.StatusCreated || pushed.RequestURI == "" {
		t.Fatalf("push on A: %d %s", resp.StatusCode, body)
	}
	authorize := c.issuer + "/authorize?" + url.Values{"client_id": {app.id}, "request_uri": {pushed.RequestURI}}.Encode()
	b := c.newBrowser()
	if resp, _ := c.on(1).b(b).get(authorize); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize on B with a request_uri pushed on A: %d, want the sign-in page", resp.StatusCode)
	}
	if resp, _ := c.on(0).b(b).get(authorize); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the request_uri again on A: %d, want 400", resp.StatusCode)
	}
}
