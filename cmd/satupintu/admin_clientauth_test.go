package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"satupintu/storage"
	"satupintu/storage/sqlite"
)

// TestClientAuthCommands: the CLI registers the JWT methods and PAR with
// clear refusals, and a client_secret_jwt client it creates authenticates
// at a running provider (the CLI and the server seal with the same key).
func TestClientAuthCommands(t *testing.T) {
	tp := newTestProvider(t)
	c := cli{t, tp.dataDir}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	publicSet := write("public.json", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig"}}})
	privateSet := write("private.json", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
	base := []string{"client", "create", "--name", "x", "--grant-type", "client_credentials"}

	refused := map[string][]string{
		"a private key in --jwks":         append(base, "--auth-method", "private_key_jwt", "--jwks", privateSet),
		"private_key_jwt without keys":    append(base, "--auth-method", "private_key_jwt"),
		"an http jwks_uri":                append(base, "--auth-method", "private_key_jwt", "--jwks-uri", "http://keys.example/jwks"),
		"both --jwks and --jwks-uri":      append(base, "--auth-method", "private_key_jwt", "--jwks", publicSet, "--jwks-uri", "https://keys.example/jwks"),
		"keys for a secret method":        append(base, "--jwks", publicSet),
		"an unknown method":               append(base, "--auth-method", "tls_client_auth"),
		"a public client with a JWT":      {"client", "create", "--name", "x", "--public", "--redirect-uri", "https://a.example/cb", "--auth-method", "client_secret_jwt"},
		"none for a confidential client":  append(base, "--auth-method", "none"),
		"a missing --jwks file":           append(base, "--auth-method", "private_key_jwt", "--jwks", filepath.Join(dir, "nope.json")),
		"update with nothing to change":   {"client", "update", "app-one"},
		"update to keys without a method": {"client", "update", "app-one", "--jwks-uri", "https://keys.example/jwks"},
	}
	for name, args := range refused {
		if code, _, errOut := c.run("", args...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%s: exit %d %q, want 2 and one line", name, code, errOut)
		}
	}

	code, out, errOut := c.run("", append(base, "--auth-method", "private_key_jwt", "--jwks", publicSet, "--require-par", "--json")...)
	if code != 0 {
		t.Fatalf("create private_key_jwt: exit %d %s", code, errOut)
	}
	var pkj clientJSON
	if err := json.Unmarshal([]byte(out), &pkj); err != nil || pkj.ClientSecret != "" || pkj.AuthMethod != "private_key_jwt" || !pkj.HasJWKS || !pkj.RequirePAR {
		t.Fatalf("private_key_jwt client: %+v %v", pkj, err)
	}
	if code, _, errOut := c.run("", "client", "rotate-secret", pkj.ClientID); code != 2 || !strings.Contains(errOut, "private_key_jwt") {
		t.Errorf("rotate-secret of a private_key_jwt client: exit %d %q", code, errOut)
	}

	code, out, errOut = c.run("", append(base, "--auth-method", "client_secret_jwt", "--json")...)
	if code != 0 {
		t.Fatalf("create client_secret_jwt: exit %d %s", code, errOut)
	}
	var csj clientJSON
	if err := json.Unmarshal([]byte(out), &csj); err != nil || len(csj.ClientSecret) < 43 {
		t.Fatalf("client_secret_jwt client: %+v %v", csj, err)
	}
	assertion := func(id, secret string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := tp.clock.Now()
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{tp.issuer + "/oauth/token"},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: storage.NewID()}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	token := func(id, secret string) int {
		tr := tp.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion(id, secret)}}, "", "")
		return tr.status
	}
	if status := token(csj.ClientID, csj.ClientSecret); status != http.StatusOK {
		t.Fatalf("client_secret_jwt created by the CLI: status %d", status)
	}
	// Rotating seals the new secret; the old one stops working.
	code, out, _ = c.run("", "client", "rotate-secret", csj.ClientID, "--json")
	var rotated clientJSON
	if err := json.Unmarshal([]byte(out), &rotated); code != 0 || err != nil || rotated.ClientSecret == csj.ClientSecret {
		t.Fatalf("rotate: exit %d %v", code, err)
	}
	tp.clock.Advance(time.Second) // past the client cache
	if status := token(csj.ClientID, csj.ClientSecret); status != http.StatusUnauthorized {
		t.Errorf("the old secret after rotation: status %d", status)
	}
	if status := token(csj.ClientID, rotated.ClientSecret); status != http.StatusOK {
		t.Errorf("the rotated secret: status %d", status)
	}

	// Update: to private_key_jwt by URL (the secret goes), PAR off.
	if code, _, errOut := c.run("", "client", "update", csj.ClientID, "--auth-method", "private_key_jwt",
		"--jwks-uri", "https://keys.example/jwks", "--require-par"); code != 0 {
		t.Fatalf("update: exit %d %s", code, errOut)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(tp.dataDir, "satupintu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.ClientByID(t.Context(), csj.ClientID)
	if err != nil || got.AuthMethod != storage.AuthMethodPrivateKeyJWT || got.JWKSURI != "https://keys.example/jwks" ||
		got.SecretHash != "" || got.SecretSealed != nil || !got.RequirePAR {
		t.Fatalf("updated client: %+v %v", got, err)
	}
	// And back to a secret: a new one is issued and shown.
	code, out, errOut = c.run("", "client", "update", csj.ClientID, "--auth-method", "client_secret_basic", "--require-par=false")
	if code != 0 || !strings.Contains(out, "client_secret:") {
		t.Fatalf("update to client_secret_basic: exit %d %q %s", code, out, errOut)
	}
	if got, _ = st.ClientByID(t.Context(), csj.ClientID); got.JWKSURI != "" || got.SecretHash == "" || got.RequirePAR {
		t.Fatalf("client back on a secret: %+v", got)
	}
	// client_secret_jwt to client_secret_post keeps the secret (its hash)
	// and drops the sealed copy.
	_, out, _ = c.run("", append(base, "--auth-method", "client_secret_jwt", "--json")...)
	var csj2 clientJSON
	if err := json.Unmarshal([]byte(out), &csj2); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run("", "client", "update", csj2.ClientID, "--auth-method", "client_secret_post"); code != 0 || strings.Contains(out, "client_secret:") {
		t.Fatalf("update to client_secret_post: exit %d %q %s", code, out, errOut)
	}
	if got, _ = st.ClientByID(t.Context(), csj2.ClientID); got.SecretHash == "" || got.SecretSealed != nil {
		t.Fatalf("client_secret_post after client_secret_jwt: %+v", got)
	}
	tp.clock.Advance(time.Second) // past the client cache
	if tr := tp.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"}}, csj2.ClientID, csj2.ClientSecret); tr.status != http.StatusOK {
		t.Errorf("the same secret, now by Basic: status %d", tr.status)
	}
}
