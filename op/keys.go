package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// Supported signing algorithms. RS256 is always published because OIDC Core
// §15.1 makes it mandatory; ES256 is offered for relying parties that want
// smaller, ~20x cheaper signatures.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// rsaBits follows the budget in DESIGN.md (RS256 ≈ 1.6 ms a signature);
// FAPI 2.0 and OIDF accept 2048-bit RSA.
const rsaBits = 2048

// KeyStore is what the key manager needs from durable storage.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k storage.SigningKey) error
	SigningKeys(ctx context.Context) ([]storage.SigningKey, error)
}

// parsedKey is a stored key decoded once, so no request pays for parsing.
type parsedKey struct {
	id        string
	alg       jose.SignatureAlgorithm
	private   crypto.Signer
	createdAt time.Time
	notAfter  time.Time
}

func (k *parsedKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *parsedKey) Key() any                                    { return k.private }
func (k *parsedKey) ID() string                                  { return k.id }

// publicKey adapts a key to zop.Key for the JWKS.
type publicKey struct{ *parsedKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.private.Public() }

// keyManager holds decoded signing keys and reloads them from storage after
// refresh, so a key created by another node (rotation) is served here too.
type keyManager struct {
	store   KeyStore
	alg     jose.SignatureAlgorithm
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	keys     []*parsedKey
	jwksBody []byte // serialized once per reload, not per request
	loadedAt time.Time
}

func newKeyManager(ctx context.Context, store KeyStore, alg string, refresh time.Duration, now func() time.Time) (*keyManager, error) {
	if alg != AlgRS256 && alg != AlgES256 {
		return nil, fmt.Errorf("signing algorithm %q not supported (use %s or %s)", alg, AlgRS256, AlgES256)
	}
	m := &keyManager{store: store, alg: jose.SignatureAlgorithm(alg), refresh: refresh, now: now}
	if err := m.ensureKeys(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// ensureKeys creates one key per algorithm on first start. Two nodes starting
// together may both create one; both keys are then published and the newest signs.
func (m *keyManager) ensureKeys(ctx context.Context) error {
	keys, err := m.load(ctx)
	if err != nil {
		return err
	}
	for _, alg := range []string{AlgRS256, AlgES256} {
		if hasAlg(keys, jose.SignatureAlgorithm(alg)) {
			continue
		}
		if _, err := m.Rotate(ctx, alg); err != nil {
			return err
		}
	}
	_, err = m.load(ctx)
	return err
}

func hasAlg(keys []*parsedKey, alg jose.SignatureAlgorithm) bool {
	for _, k := range keys {
		if k.alg == alg {
			return true
		}
	}
	return false
}

// Rotate creates a new key for alg; it signs from the next reload on, while
// older keys stay published so tokens they signed keep verifying.
func (m *keyManager) Rotate(ctx context.Context, alg string) (string, error) {
	k, err := GenerateSigningKey(alg, m.now())
	if err != nil {
		return "", err
	}
	if err := m.store.CreateSigningKey(ctx, k); err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	m.mu.Lock()
	m.loadedAt = time.Time{}
	m.mu.Unlock()
	return k.ID, nil
}

// GenerateSigningKey makes a new private key for alg.
func GenerateSigningKey(alg string, now time.Time) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return storage.SigningKey{}, fmt.Errorf("signing algorithm %q not supported", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode %s key: %w", alg, err)
	}
	return storage.SigningKey{ID: keyID(priv), Algorithm: alg, PrivateDER: der, CreatedAt: now.UTC()}, nil
}

// keyID is derived from the public key, so it is stable and unique per key.
func keyID(priv crypto.Signer) string {
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return storage.NewID()
	}
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// current returns the decoded keys, reloading them when stale.
func (m *keyManager) current(ctx context.Context) ([]*parsedKey, error) {
	m.mu.Lock()
	fresh := m.keys != nil && m.now().Sub(m.loadedAt) < m.refresh
	keys := m.keys
	m.mu.Unlock()
	if fresh {
		return keys, nil
	}
	reloaded, err := m.load(ctx)
	if err != nil && keys != nil {
		// Keep signing with what we have while storage is unreachable.
		return keys, nil
	}
	return reloaded, err
}

func (m *keyManager) load(ctx context.Context) ([]*parsedKey, error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	now := m.now()
	keys := make([]*parsedKey, 0, len(stored))
	for _, s := range stored {
		if !s.NotAfter.IsZero() && now.After(s.NotAfter) {
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(s.PrivateDER)
		if err != nil {
			return nil, fmt.Errorf("decode signing key %s: %w", s.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not a signer", s.ID)
		}
		keys = append(keys, &parsedKey{id: s.ID, alg: jose.SignatureAlgorithm(s.Algorithm), private: signer, createdAt: s.CreatedAt, notAfter: s.NotAfter})
	}
	body, err := encodeJWKS(keys)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	m.mu.Lock()
	m.keys, m.jwksBody, m.loadedAt = keys, body, now
	m.mu.Unlock()
	return keys, nil
}

// jwks returns the serialized public key set.
func (m *keyManager) jwks(ctx context.Context) ([]byte, error) {
	if _, err := m.current(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jwksBody, nil
}

// signingKey is the newest key of the configured algorithm that has been
// published long enough for every node and relying party to have seen it
// (OIDC Core §10.1.1: publish before use). On first start no key is that
// old, and the newest signs.
func (m *keyManager) signingKey(ctx context.Context) (zop.SigningKey, error) {
	keys, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	ready := m.now().Add(-2 * m.refresh)
	var newest, newestReady *parsedKey
	for _, k := range keys {
		if k.alg != m.alg {
			continue
		}
		if newest == nil || k.createdAt.After(newest.createdAt) {
			newest = k
		}
		if !k.createdAt.After(ready) && (newestReady == nil || k.createdAt.After(newestReady.createdAt)) {
			newestReady = k
		}
	}
	if newestReady != nil {
		return newestReady, nil
	}
	if newest == nil {
		return nil, fmt.Errorf("no %s signing key", m.alg)
	}
	return newest, nil
}

func (m *keyManager) publicKeys(ctx context.Context) ([]zop.Key, error) {
	keys, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]zop.Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// algorithms lists the configured algorithm first: it is what ID tokens use.
func (m *keyManager) algorithms() []jose.SignatureAlgorithm {
	if m.alg == AlgES256 {
		return []jose.SignatureAlgorithm{AlgES256, AlgRS256}
	}
	return []jose.SignatureAlgorithm{AlgRS256, AlgES256}
}
