package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestNewSignerReadsPEMAndJWK(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	private, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k-1"})
	public, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k-1"})
	tests := []struct {
		name    string
		file    []byte
		keyID   string
		wantErr string
	}{
		{"PEM with key id", pemKey, "k-1", ""},
		{"PEM without key id", pemKey, "", "key_id"},
		{"private JWK", private, "", ""},
		{"public JWK", public, "", "public key"},
		{"garbage", []byte("{nope"), "", "neither PEM nor JWK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSigner(tc.file, tc.keyID)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("newSigner: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("newSigner: %v, want an error with %q", err, tc.wantErr)
			case err == nil:
				if _, err := s.Sign([]byte(`{}`)); err != nil {
					t.Fatalf("sign: %v", err)
				}
			}
		})
	}
}

func TestValidateFillsDefaults(t *testing.T) {
	ps := []Provider{{ID: "inapas", Issuer: "https://id.example", ClientID: "c", ClientSecret: "s", Label: "INApas", Scopes: []string{"profile", "nik"}}}
	if err := Validate(ps, false); err != nil {
		t.Fatal(err)
	}
	if got := ps[0]; !slices.Equal(got.Scopes, []string{"openid", "profile", "nik"}) || got.NIKClaim != "nik" {
		t.Errorf("defaults: %+v", got)
	}
	for _, issuer := range []string{"http://id.example", "https://id.example/?x=1", "https://user@id.example", "id.example"} {
		ps := []Provider{{ID: "a", Issuer: issuer, ClientID: "c", ClientSecret: "s", Label: "A"}}
		if err := Validate(ps, true); err == nil {
			t.Errorf("issuer %q accepted", issuer)
		}
	}
	if err := Validate([]Provider{{ID: "a", Issuer: "http://127.0.0.1:9000", ClientID: "c", ClientSecret: "s", Label: "A"}}, true); err != nil {
		t.Errorf("loopback http in development: %v", err)
	}
}

// amr says fed always, and mfa only when the upstream says so by amr or by
// an acr the operator configured as a second-factor level (RFC 8176).
func TestAMROf(t *testing.T) {
	p := Provider{MFAACRValues: []string{"urn:inapas:loa:3"}}
	claims := func(acr string, amr ...string) *oidc.IDTokenClaims {
		c := &oidc.IDTokenClaims{}
		c.AuthenticationContextClassReference, c.AuthenticationMethodsReferences = acr, amr
		return c
	}
	tests := []struct {
		name string
		c    *oidc.IDTokenClaims
		want []string
	}{
		{"nothing said", claims(""), []string{"fed"}},
		{"password only", claims("urn:inapas:loa:2", "pwd"), []string{"fed"}},
		{"mfa in amr", claims("", "pwd", "otp", "mfa"), []string{"fed", "mfa"}},
		{"configured acr", claims("urn:inapas:loa:3"), []string{"fed", "mfa"}},
	}
	for _, tc := range tests {
		if got := amrOf(p, tc.c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: amr %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClaimString(t *testing.T) {
	claims := map[string]any{"nik": " 3171234567890123 ", "num": float64(3171234567890123), "obj": map[string]any{}}
	for name, want := range map[string]string{"nik": "3171234567890123", "num": "3171234567890123", "obj": "", "none": ""} {
		if got := claimString(claims, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if got := truncate("ab€", 4); got != "ab" {
		t.Errorf("truncate cut a rune: %q", got)
	}
}

// An https logo is fetched once and inlined, so the pages' CSP (img-src
// 'self') still shows it; anything but a small raster image is dropped.
func TestFetchLogo(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/logo.png":
			w.Write(png)
		case "/logo.svg":
			w.Header().Set("Content-Type", "image/png") // the declared type is not believed
			w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
		case "/big.png":
			w.Write(append(png, make([]byte, maxLogoBytes)...))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for path, ok := range map[string]bool{"/logo.png": true, "/logo.svg": false, "/big.png": false, "/missing.png": false} {
		m := &remote{p: Provider{LogoURL: srv.URL + path}, httpClient: srv.Client()}
		err := m.fetchLogo(t.Context())
		if got := m.logoURL(); (err == nil) != ok || strings.HasPrefix(got, "data:image/png;base64,") != ok {
			t.Errorf("%s: err %v, logo %.40q", path, err, got)
		}
	}
	if m := (&remote{p: Provider{LogoURL: "/static/inapas.png"}}); m.logoURL() != "/static/inapas.png" {
		t.Errorf("a path logo: %q", m.logoURL())
	}
}
