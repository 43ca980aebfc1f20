package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"satupintu/storage"
)

// A private_key_jwt client's public keys: registered by value (jwks) or by
// reference (jwks_uri). A jwks_uri is fetched through the provider's
// SSRF-safe client (JWKSFetcher), kept for ClientJWKSTTL, and fetched again
// early only when an assertion names a kid we do not know (the client
// rotated its key), at most once per jwksRefetchInterval per client, so
// assertions with made-up kids cannot make us fetch on every request.

// JWKSFetcher fetches a document a client registered, under the provider's
// SSRF rules (account.Linker.Fetch): https only (http to loopback only in
// development), no redirects, internal addresses refused after DNS, a time
// limit, and at most maxBytes.
type JWKSFetcher interface {
	Fetch(ctx context.Context, endpoint string, maxBytes int64) ([]byte, error)
}

// Limits on client key sets.
const (
	// MaxClientJWKSBytes bounds a key set, registered or fetched.
	MaxClientJWKSBytes = 64 << 10
	// maxClientJWKSKeys bounds the keys tried per assertion.
	maxClientJWKSKeys = 20
	// jwksRefetchInterval is the least time between two fetches of one
	// client's jwks_uri.
	jwksRefetchInterval = 30 * time.Second
	// jwksFetchTimeout bounds one fetch, whatever the fetcher's own limit.
	jwksFetchTimeout = 5 * time.Second
	// maxCachedJWKS bounds the cache (one entry per private_key_jwt client).
	maxCachedJWKS = 10000
)

// ParseClientJWKS parses a JWK Set a client registers: public signing keys
// only (no private or symmetric key: ours would be their secret), RSA of at
// least 2048 bits, EC P-256 or Ed25519, at most 20 keys. The admin CLI
// validates --jwks with it.
func ParseClientJWKS(data []byte) ([]jose.JSONWebKey, error) {
	if len(data) > MaxClientJWKSBytes {
		return nil, fmt.Errorf("the key set is larger than %d bytes", MaxClientJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, errors.New("not a JSON JWK Set")
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxClientJWKSKeys {
		return nil, fmt.Errorf("the key set must hold 1 to %d keys", maxClientJWKSKeys)
	}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, fmt.Errorf("key %d is not a public key", i+1)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("key %d is not a signing key (use %q)", i+1, k.Use)
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return nil, fmt.Errorf("key %d: RSA keys must have at least 2048 bits", i+1)
			}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return nil, fmt.Errorf("key %d: EC keys must be on P-256", i+1)
			}
		case ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("key %d: unsupported key type", i+1)
		}
	}
	return set.Keys, nil
}

// keyFits reports whether k can verify alg: the algorithm's key type, and
// the key's own alg if it names one.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return alg == jose.RS256 || alg == jose.PS256
	case *ecdsa.PublicKey:
		return alg == jose.ES256
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// clientKeys caches the parsed key sets of private_key_jwt clients.
type clientKeys struct {
	fetcher JWKSFetcher
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

// jwksEntry is one client's keys; mu serializes its fetches, so a burst of
// assertions for one client makes one fetch.
type jwksEntry struct {
	mu        sync.Mutex
	source    string // the registered jwks or jwks_uri the keys came from
	keys      []jose.JSONWebKey
	fetchedAt time.Time // the keys' age (jwks_uri)
	triedAt   time.Time // the last fetch, successful or not
}

func newClientKeys(fetcher JWKSFetcher, ttl time.Duration, now func() time.Time, log *slog.Logger) *clientKeys {
	return &clientKeys{fetcher: fetcher, ttl: ttl, now: now, log: log, entries: map[string]*jwksEntry{}}
}

func (ck *clientKeys) entry(clientID string) *jwksEntry {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	e, ok := ck.entries[clientID]
	if !ok {
		if len(ck.entries) >= maxCachedJWKS {
			clear(ck.entries)
		}
		e = &jwksEntry{}
		ck.entries[clientID] = e
	}
	return e
}

// keysFor returns c's keys that may verify an assertion with kid and alg.
// Its errors are reasons for the log; the client sees invalid_client.
func (ck *clientKeys) keysFor(ctx context.Context, c storage.Client, kid string, alg jose.SignatureAlgorithm) ([]any, error) {
	e := ck.entry(c.ID)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case c.JWKS != "":
		if e.source != c.JWKS {
			keys, err := ParseClientJWKS([]byte(c.JWKS))
			if err != nil {
				return nil, fmt.Errorf("registered jwks: %w", err)
			}
			e.source, e.keys = c.JWKS, keys
		}
		return matching(e.keys, kid, alg), nil
	case c.JWKSURI != "":
		now := ck.now()
		if e.source != c.JWKSURI {
			e.source, e.keys, e.fetchedAt, e.triedAt = c.JWKSURI, nil, time.Time{}, time.Time{}
		}
		mayFetch := e.triedAt.IsZero() || !now.Before(e.triedAt.Add(jwksRefetchInterval))
		stale := e.keys == nil || !now.Before(e.fetchedAt.Add(ck.ttl))
		if stale && mayFetch {
			ck.fetch(ctx, e, c, now)
			mayFetch = false
		}
		keys := matching(e.keys, kid, alg)
		if len(keys) == 0 && kid != "" && mayFetch {
			// An unknown kid: the client may have rotated its key.
			ck.fetch(ctx, e, c, now)
			keys = matching(e.keys, kid, alg)
		}
		if e.keys == nil {
			return nil, errors.New("jwks_uri could not be fetched")
		}
		return keys, nil
	default:
		return nil, errors.New("no jwks or jwks_uri registered")
	}
}

// fetch replaces e's keys with the fetched set; a failed fetch keeps the
// keys it had (the client's endpoint being down should not lock it out
// before its keys would have expired anyway).
func (ck *clientKeys) fetch(ctx context.Context, e *jwksEntry, c storage.Client, now time.Time) {
	e.triedAt = now
	if ck.fetcher == nil {
		ck.log.ErrorContext(ctx, "no fetcher configured for client jwks_uri", "client_id", c.ID)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	body, err := ck.fetcher.Fetch(ctx, c.JWKSURI, MaxClientJWKSBytes)
	if err != nil {
		ck.log.WarnContext(ctx, "fetch client jwks_uri", "client_id", c.ID, "error", err)
		return
	}
	keys, err := ParseClientJWKS(body)
	if err != nil {
		ck.log.WarnContext(ctx, "client jwks_uri document refused", "client_id", c.ID, "error", err)
		return
	}
	e.keys, e.fetchedAt = keys, now
}

// matching picks the keys that may verify: by kid when the assertion names
// one, otherwise every key of the algorithm's type.
func matching(keys []jose.JSONWebKey, kid string, alg jose.SignatureAlgorithm) []any {
	var out []any
	for _, k := range keys {
		if (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
			out = append(out, k.Key)
		}
	}
	return out
}
