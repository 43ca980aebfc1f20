package main

// Benchmarks for the budget in DESIGN.md, measured over real HTTP on
// loopback against the embedded default (SQLite + in-process state).
// Compare within one run, e.g.:
//
//	go test -run '^$' -bench . -benchtime 3s ./cmd/satupintu/
//
// and read ratios (code flows vs RS256 signatures, sign-ins vs argon2id
// verifications), not absolute numbers: the machine is shared.

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"satupintu/password"
)

// concurrentUsers × GOMAXPROCS flows run at once in the flow benchmarks:
// a flow waits on the database (a refresh token is committed), so two
// at a time would measure latency, not what the machine can serve.
const concurrentUsers = 8

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func drain(b *testing.B, resp *http.Response, err error, want int) {
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	tp := newTestProvider(b)
	a := tp.apps["service"]
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := benchClient()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, tp.issuer+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(a.id, a.secret)
			resp, err := client.Do(req)
			drain(b, resp, err, http.StatusOK)
		}
	})
}

func benchGet(b *testing.B, path string) {
	tp := newTestProvider(b)
	client := benchClient()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(tp.issuer + path)
			drain(b, resp, err, http.StatusOK)
		}
	})
}

func BenchmarkDiscovery(b *testing.B) { benchGet(b, "/.well-known/openid-configuration") }
func BenchmarkJWKS(b *testing.B)      { benchGet(b, "/keys") }

// BenchmarkCodeFlowRS256 is one whole code flow for a signed-in user:
// /authorize → /login (SSO) → callback → code, then the token exchange
// that signs an RS256 ID token. Compare with BenchmarkRS256Sign.
func BenchmarkCodeFlowRS256(b *testing.B) {
	tp := newTestProvider(b)
	b.SetParallelism(concurrentUsers)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		br := tp.newBrowser()
		tp.signIn(br, "app-one", newFlow())
		for pb.Next() {
			f := newFlow()
			resp, err := br.client.Get(tp.authURL("app-one", f))
			drain(b, resp, err, http.StatusFound)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
				"redirect_uri": {tp.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
			if tok.status != http.StatusOK || tok.IDToken == "" {
				b.Fatalf("token: %+v", tok)
			}
		}
	})
}

// BenchmarkRS256Sign is the ceiling for BenchmarkCodeFlowRS256: one
// RS256 signature of an ID-token-sized payload with a 2048-bit key.
func BenchmarkRS256Sign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"iss":"http://localhost:8080","sub":"abcdefghijklmnopqrstuvwxyz234567","aud":["app-one"],"exp":1795350000,"iat":1795346400,"auth_time":1795346400,"nonce":"abcdefghijklmnopqrstuvwxyz234567","amr":["pwd"],"name":"Budi Santoso"}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := signer.Sign(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPasswordSignIn is the sign-in form with OWASP argon2id
// parameters: GET the form, POST the password, follow to the code.
// Compare with BenchmarkArgon2idVerify.
func BenchmarkPasswordSignIn(b *testing.B) {
	tp := newTestProviderHash(b, password.OWASP)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tp.signIn(tp.newBrowser(), "app-one", newFlow())
		}
	})
}

func BenchmarkArgon2idVerify(b *testing.B) {
	hash, err := password.Hash("kata-sandi-rahasia", password.OWASP)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := password.Verify("kata-sandi-rahasia", hash); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClientCredentialsProduction is BenchmarkClientCredentials on
// Postgres and Redis (DESIGN.md budgets ≥ 5,000/s there).
func BenchmarkClientCredentialsProduction(b *testing.B) {
	c := newCluster(b, 1, nodeOptions{direct: true})
	a := c.apps["service"]
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := benchClient()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, c.issuer+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(a.id, a.secret)
			resp, err := client.Do(req)
			drain(b, resp, err, http.StatusOK)
		}
	})
}

// BenchmarkCodeFlowRS256Production is BenchmarkCodeFlowRS256 on Postgres
// and Redis.
func BenchmarkCodeFlowRS256Production(b *testing.B) {
	c := newCluster(b, 1, nodeOptions{direct: true})
	b.SetParallelism(concurrentUsers)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		br := c.newBrowser()
		c.signIn(br, "app-one", newFlow())
		for pb.Next() {
			f := newFlow()
			resp, err := br.client.Get(c.authURL("app-one", f))
			drain(b, resp, err, http.StatusFound)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			tok := c.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
				"redirect_uri": {c.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
			if tok.status != http.StatusOK || tok.IDToken == "" {
				b.Fatalf("token: %+v", tok)
			}
		}
	})
}
