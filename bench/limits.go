package bench

import (
	"crypto/x509"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"satupintu/op"
	"satupintu/password"
)

// A limit is the rate of the one costly step a scenario cannot avoid,
// measured on this machine in this run: a scenario's ratio to it means the
// same on any hardware (DESIGN.md budgets are ratios).
type limit struct {
	Name string  `json:"name"`
	Rate float64 `json:"rate"` // operations per second, all cores
}

// hashLimitName names the argon2id limit; every other limit is a signing
// algorithm's (op.Algorithms).
const hashLimitName = "argon2id"

// idTokenPayload is the size of a satupintu ID token's claims.
var idTokenPayload = []byte(`{"iss":"http://localhost:8080","sub":"abcdefghijklmnopqrstuvwxyz234567","aud":["demo-ebpom"],"exp":1795350000,"iat":1795346400,"auth_time":1795346400,"nonce":"abcdefghijklmnopqrstuvwxyz234567","amr":["pwd"],"acr":"urn:satupintu:acr:password","sid":"abcdefghijklmnopqrstuvwxyz234567","name":"Budi Santoso","preferred_username":"demo.trader"}`)

// measure runs op on every core for d and returns operations per second.
func measure(d time.Duration, op func() error) (float64, error) {
	var (
		n     atomic.Int64
		first atomic.Value
		wg    sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// signLimit is the signing rate of alg with a key the server would make
// (op.GenerateSigningKey: RSA 2048, P-256, Ed25519), the ceiling of an
// operation that signs one token.
func signLimit(alg string, d time.Duration) (limit, error) {
	k, err := op.GenerateSigningKey(alg, time.Now())
	if err != nil {
		return limit{}, err
	}
	key, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
	if err != nil {
		return limit{}, fmt.Errorf("decode %s key: %w", alg, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, nil)
	if err != nil {
		return limit{}, err
	}
	rate, err := measure(d, func() error {
		_, err := signer.Sign(idTokenPayload)
		return err
	})
	return limit{Name: alg + " signatures", Rate: rate}, err
}

// hashLimit is the argon2id verification rate with the server's
// parameters, the ceiling of a password sign-in.
func hashLimit(params password.Params, d time.Duration) (limit, error) {
	hash, err := password.Hash("kata-sandi-rahasia", params)
	if err != nil {
		return limit{}, err
	}
	rate, err := measure(d, func() error { return password.Verify("kata-sandi-rahasia", hash) })
	return limit{Name: "argon2id verifications", Rate: rate}, err
}
