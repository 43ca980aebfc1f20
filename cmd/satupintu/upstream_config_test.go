package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestUpstreamsFileConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	jwk, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k-1", Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/key.jwk", string(jwk))
	writeFile(t, dir+"/secret", "rahasia\n")

	t.Run("a good file is read with its defaults", func(t *testing.T) {
		writeFile(t, dir+"/good.json", `[
		  {"id": "inapas", "issuer": "https://id.inapas.example", "client_id": "sp", "client_secret_file": "`+dir+`/secret",
		   "label": "INApas", "logo_url": "https://id.inapas.example/logo.png", "mfa_acr_values": ["loa3"]},
		  {"id": "bank-pem", "issuer": "https://bank.example", "client_id": "sp", "private_key_file": "`+dir+`/key.pem", "key_id": "k-1", "label": "Bank", "scopes": ["profile"]},
		  {"id": "bank-jwk", "issuer": "https://bank2.example", "client_id": "sp", "private_key_file": "`+dir+`/key.jwk", "label": "Bank 2", "nik_claim": "national_id"}
		]`)
		cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(map[string]string{"SATUPINTU_UPSTREAMS_FILE": dir + "/good.json"}))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Upstreams) != 3 {
			t.Fatalf("upstreams = %+v", cfg.Upstreams)
		}
		in, pemP, jwkP := cfg.Upstreams[0], cfg.Upstreams[1], cfg.Upstreams[2]
		if in.ClientSecret != "rahasia" || in.NIKClaim != "nik" || strings.Join(in.Scopes, " ") != "openid profile" {
			t.Errorf("inapas = %+v", in)
		}
		if strings.Join(pemP.Scopes, " ") != "openid profile" || jwkP.NIKClaim != "national_id" {
			t.Errorf("scopes %v, nik claim %q", pemP.Scopes, jwkP.NIKClaim)
		}
	})

	t.Run("every problem is reported at once", func(t *testing.T) {
		writeFile(t, dir+"/bad.json", `[
		  {"id": "Bad ID", "issuer": "http://id.example", "label": ""},
		  {"id": "dup", "issuer": "https://a.example", "client_id": "x", "client_secret": "s", "private_key_file": "`+dir+`/key.pem", "label": "A"},
		  {"id": "dup", "issuer": "https://b.example", "client_id": "x", "private_key_file": "`+dir+`/key.pem", "label": "B", "logo_url": "javascript:alert(1)"}
		]`)
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(map[string]string{
			"SATUPINTU_ISSUER": "https://sso.example.go.id", "SATUPINTU_UPSTREAMS_FILE": dir + "/bad.json"}))
		if err == nil {
			t.Fatal("bad upstreams accepted")
		}
		for _, want := range []string{"SATUPINTU_UPSTREAMS_FILE", `id "Bad ID"`, "must use https", "client_id is required",
			"label is required", "not both", "used twice", "key_id", "logo_url"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	})

	t.Run("unknown settings and a missing file are errors", func(t *testing.T) {
		writeFile(t, dir+"/typo.json", `[{"id": "a", "issuer": "https://a.example", "client_id": "x", "client_secret": "s", "label": "A", "scope": ["openid"]}]`)
		for file, want := range map[string]string{dir + "/typo.json": `unknown field "scope"`, dir + "/missing.json": "no such file"} {
			_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--upstreams-file", file}, env(nil))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %q", file, err, want)
			}
		}
	})
}
