package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// Supported signing algorithms. RS256 is the default because OIDC Core
// §15.1 makes it mandatory; PS256, ES256 and EdDSA are what FAPI 2.0 asks
// for, and ES256/EdDSA sign ~20x cheaper (DESIGN.md budget).
const (
	AlgRS256 = "RS256"
	AlgPS256 = "PS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA" // Ed25519 (RFC 8037)
)

// Algorithms lists every supported algorithm. The key manager keeps an
// active key for each, so a client may switch at any time.
var Algorithms = []string{AlgRS256, AlgPS256, AlgES256, AlgEdDSA}

// ValidAlgorithm reports whether alg is a supported signing algorithm.
func ValidAlgorithm(alg string) bool { return slices.Contains(Algorithms, alg) }

// rsaBits follows the budget in DESIGN.md (RS256 ≈ 1.6 ms a signature);
// FAPI 2.0 and OIDF accept 2048-bit RSA.
const rsaBits = 2048

// KeyStore is what the key manager needs from durable storage.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k storage.SigningKey, retire time.Time) error
	SigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	SealSigningKey(ctx context.Context, id string, sealed []byte) error
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}

// KeyTimeline is when keys are published, used and retired (OIDC Core
// §10.1.1). A new key is published PublishDelay before it signs: every node
// reloads keys within Refresh, and relying parties cache the JWKS for
// JWKSMaxAge. A replaced key stays published for RetireAfter after its
// successor took over: the longest lifetime of anything it signed, plus one
// refresh for nodes that have not yet switched.
type KeyTimeline struct {
	Refresh       time.Duration // how often each node reloads keys
	Rotation      time.Duration // a key signs this long before a successor is made; 0: manual only
	TokenLifetime time.Duration // the longest lifetime of an ID token, JWT access token or logout token
}

// JWKSMaxAge is the JWKS Cache-Control max-age: one refresh, so the
// publish delay stays two refreshes.
func (t KeyTimeline) JWKSMaxAge() time.Duration { return t.Refresh }

// PublishDelay is how long a new key is published before it signs.
func (t KeyTimeline) PublishDelay() time.Duration { return t.JWKSMaxAge() + t.Refresh }

// RetireAfter is how long a replaced key stays published once its successor signs.
func (t KeyTimeline) RetireAfter() time.Duration { return t.TokenLifetime + t.Refresh }

// parsedKey is a stored key decoded once, so no request pays for parsing.
type parsedKey struct {
	id          string
	alg         jose.SignatureAlgorithm
	private     crypto.Signer
	createdAt   time.Time
	activatesAt time.Time
	notAfter    time.Time
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
// each refresh, so a key created by another node is served here too. The
// reload also makes the keys the schedule calls for and deletes retired
// ones; the unique successor in storage makes one node win each rotation.
type keyManager struct {
	store    KeyStore
	alg      jose.SignatureAlgorithm // the default: clients without a choice, JWT access tokens
	timeline KeyTimeline
	kek      *KEK // nil: keys are stored in plaintext
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	keys      []*parsedKey // published: not retired
	jwksBody  []byte       // serialized once per reload, not per request
	loadedAt  time.Time
	reloading bool
}

func newKeyManager(ctx context.Context, store KeyStore, alg string, timeline KeyTimeline, kek *KEK, now func() time.Time, log *slog.Logger) (*keyManager, error) {
	if !ValidAlgorithm(alg) {
		return nil, fmt.Errorf("signing algorithm %q not supported (use one of %v)", alg, Algorithms)
	}
	if timeline.Refresh <= 0 {
		return nil, errors.New("key refresh must be positive")
	}
	if log == nil {
		log = slog.Default()
	}
	m := &keyManager{store: store, alg: jose.SignatureAlgorithm(alg), timeline: timeline, kek: kek, now: now, log: log}
	if err := m.sealPlaintext(ctx); err != nil {
		return nil, err
	}
	keys, err := m.refresh(ctx)
	if err != nil {
		return nil, err
	}
	for _, alg := range Algorithms {
		if !slices.ContainsFunc(keys, func(k *parsedKey) bool { return string(k.alg) == alg }) {
			return nil, fmt.Errorf("no %s signing key could be made", alg)
		}
	}
	return m, nil
}

// refresh runs the maintenance and decodes the keys: one query when there
// is nothing to do, which is every refresh but a few a quarter.
func (m *keyManager) refresh(ctx context.Context) ([]*parsedKey, error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	changed, err := m.maintainStored(ctx, stored)
	if err != nil {
		// Another node may do it; keep serving the keys there are.
		m.log.ErrorContext(ctx, "signing key maintenance", "error", err)
	}
	if changed {
		if stored, err = m.store.SigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
	}
	return m.decode(stored)
}

// sealPlaintext seals keys stored before a key-encryption key was
// configured, and checks that the configured one opens the sealed keys: a
// wrong key must stop the start, not every token request.
func (m *keyManager) sealPlaintext(ctx context.Context) error {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if err := checkKEK(stored, m.kek); err != nil {
		return err
	}
	sealed := 0
	for _, k := range stored {
		if !k.Sealed && m.kek != nil {
			err := m.store.SealSigningKey(ctx, k.ID, m.kek.Seal(k.ID, k.PrivateDER))
			if err != nil && !errors.Is(err, storage.ErrConflict) { // ErrConflict: another node sealed it
				return fmt.Errorf("seal signing key %s: %w", k.ID, err)
			}
			sealed++
		}
	}
	if sealed > 0 {
		m.log.InfoContext(ctx, "sealed plaintext signing keys with the key-encryption key", "count", sealed)
	}
	return nil
}

// checkKEK reports whether kek opens every sealed key, so that a wrong or
// missing key-encryption key stops a start or a rotation with a clear
// message instead of failing token requests (or sealing new keys with a
// key the servers do not have).
func checkKEK(stored []storage.SigningKey, kek *KEK) error {
	for _, k := range stored {
		if !k.Sealed {
			continue
		}
		if kek == nil {
			return fmt.Errorf("signing key %s is sealed but no key-encryption key is configured (SATUPINTU_KEY_ENCRYPTION_KEY)", k.ID)
		}
		if _, err := kek.Open(k.ID, k.PrivateDER); err != nil {
			return fmt.Errorf("signing key %s: %w; is SATUPINTU_KEY_ENCRYPTION_KEY the key it was sealed with?", k.ID, err)
		}
	}
	return nil
}

// head returns the newest stored key of alg: the one a rotation replaces.
func head(stored []storage.SigningKey, alg string) *storage.SigningKey {
	var h *storage.SigningKey
	for i := range stored {
		k := &stored[i]
		if k.Algorithm != alg {
			continue
		}
		if h == nil || newer(k.ActivatesAt, k.CreatedAt, k.ID, h.ActivatesAt, h.CreatedAt, h.ID) {
			h = k
		}
	}
	return h
}

func newer(aAct, aCreated time.Time, aID string, bAct, bCreated time.Time, bID string) bool {
	if c := aAct.Compare(bAct); c != 0 {
		return c > 0
	}
	if c := aCreated.Compare(bCreated); c != 0 {
		return c > 0
	}
	return aID > bID
}

// maintain makes the first key of each algorithm, the successors the
// rotation schedule calls for, and deletes retired keys. It reports
// whether it changed anything.
func (m *keyManager) maintain(ctx context.Context) (bool, error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("load signing keys: %w", err)
	}
	return m.maintainStored(ctx, stored)
}

func (m *keyManager) maintainStored(ctx context.Context, stored []storage.SigningKey) (bool, error) {
	now := m.now()
	changed := false
	for _, alg := range Algorithms {
		h := head(stored, alg)
		due := h == nil || (m.timeline.Rotation > 0 && !now.Before(h.ActivatesAt.Add(m.timeline.Rotation)))
		if !due {
			continue
		}
		id, err := m.createSuccessor(ctx, alg, h)
		if err != nil {
			return changed, err
		}
		if id != "" {
			changed = true
			m.log.InfoContext(ctx, "created signing key", "kid", id, "alg", alg, "scheduled", h != nil)
		}
	}
	retired := slices.ContainsFunc(stored, func(k storage.SigningKey) bool {
		return !k.NotAfter.IsZero() && !now.Before(k.NotAfter)
	})
	if !retired {
		return changed, nil // no write on the refresh path when there is nothing to delete
	}
	n, err := m.store.DeleteRetiredSigningKeys(ctx, now)
	if err != nil {
		return changed, fmt.Errorf("delete retired signing keys: %w", err)
	}
	if n > 0 {
		m.log.InfoContext(ctx, "deleted retired signing keys", "count", n)
	}
	return true, nil
}

// createSuccessor stores a new key of alg replacing prev (nil: the first
// of alg, which signs at once: there is nothing to replace). It returns ""
// when another node created the successor first.
func (m *keyManager) createSuccessor(ctx context.Context, alg string, prev *storage.SigningKey) (string, error) {
	now := m.now()
	k, err := GenerateSigningKey(alg, now)
	if err != nil {
		return "", err
	}
	k.ActivatesAt = k.CreatedAt
	var retire time.Time
	if prev != nil {
		k.Predecessor = prev.ID
		k.ActivatesAt = k.CreatedAt.Add(m.timeline.PublishDelay())
		// prev may itself be waiting for its turn: it stops no earlier than
		// its successor starts.
		retire = k.ActivatesAt.Add(m.timeline.RetireAfter())
	}
	if m.kek != nil {
		k.PrivateDER, k.Sealed = m.kek.Seal(k.ID, k.PrivateDER), true
	}
	err = m.store.CreateSigningKey(ctx, k, retire)
	if errors.Is(err, storage.ErrConflict) || (prev == nil && errors.Is(err, storage.ErrAlreadyExists)) {
		return "", nil // another node won this rotation
	}
	if err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	m.invalidate()
	return k.ID, nil
}

// Rotate creates a successor of alg's newest key: published now, signing
// after the publish delay; the key it replaces retires after RetireAfter.
// When another node rotated at the same moment, its key is returned.
func (m *keyManager) Rotate(ctx context.Context, alg string) (string, error) {
	id, err := RotateKey(ctx, m.store, alg, m.timeline, m.kek, m.now())
	m.invalidate()
	return id, err
}

func (m *keyManager) invalidate() {
	m.mu.Lock()
	m.loadedAt = time.Time{}
	m.mu.Unlock()
}

// RotateKey is Rotate for a process that runs no provider (the admin CLI).
func RotateKey(ctx context.Context, store KeyStore, alg string, timeline KeyTimeline, kek *KEK, now time.Time) (string, error) {
	if !ValidAlgorithm(alg) {
		return "", fmt.Errorf("signing algorithm %q not supported (use one of %v)", alg, Algorithms)
	}
	m := &keyManager{store: store, timeline: timeline, kek: kek, now: func() time.Time { return now }, log: slog.Default()}
	stored, err := store.SigningKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("load signing keys: %w", err)
	}
	if err := checkKEK(stored, kek); err != nil {
		return "", err
	}
	id, err := m.createSuccessor(ctx, alg, head(stored, alg))
	if err != nil || id != "" {
		return id, err
	}
	// Another rotation won the race: one successor is what was asked for.
	if stored, err = store.SigningKeys(ctx); err != nil {
		return "", fmt.Errorf("load signing keys: %w", err)
	}
	if h := head(stored, alg); h != nil {
		return h.ID, nil
	}
	return "", fmt.Errorf("rotate %s: no key after a lost race", alg)
}

// GenerateSigningKey makes a new private key for alg.
func GenerateSigningKey(alg string, now time.Time) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgRS256, AlgPS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
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
	now = now.UTC()
	return storage.SigningKey{ID: keyID(priv), Algorithm: alg, PrivateDER: der, CreatedAt: now, ActivatesAt: now}, nil
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

// current returns the decoded keys, reloading them when stale. One caller
// reloads; the others go on with the keys they have.
func (m *keyManager) current(ctx context.Context) ([]*parsedKey, error) {
	m.mu.Lock()
	keys := m.keys
	fresh := keys != nil && m.now().Sub(m.loadedAt) < m.timeline.Refresh
	if fresh || (keys != nil && m.reloading) {
		m.mu.Unlock()
		return keys, nil
	}
	m.reloading = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.reloading = false
		m.mu.Unlock()
	}()
	reloaded, err := m.refresh(ctx)
	if err != nil && keys != nil {
		// Keep signing with what we have while storage is unreachable.
		m.log.WarnContext(ctx, "reload signing keys", "error", err)
		return keys, nil
	}
	return reloaded, err
}

// decode parses the stored keys that are not retired and makes them current.
func (m *keyManager) decode(stored []storage.SigningKey) ([]*parsedKey, error) {
	var err error
	now := m.now()
	keys := make([]*parsedKey, 0, len(stored))
	for _, s := range stored {
		if !s.NotAfter.IsZero() && !now.Before(s.NotAfter) {
			continue // retired: tokens it signed have all expired
		}
		der := s.PrivateDER
		if s.Sealed {
			if m.kek == nil {
				return nil, fmt.Errorf("signing key %s is sealed but no key-encryption key is configured", s.ID)
			}
			if der, err = m.kek.Open(s.ID, s.PrivateDER); err != nil {
				return nil, fmt.Errorf("signing key %s: %w", s.ID, err)
			}
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("decode signing key %s: %w", s.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not a signer", s.ID)
		}
		keys = append(keys, &parsedKey{id: s.ID, alg: jose.SignatureAlgorithm(s.Algorithm), private: signer,
			createdAt: s.CreatedAt, activatesAt: s.ActivatesAt, notAfter: s.NotAfter})
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

// signingKey is the key of the default algorithm that signs now.
func (m *keyManager) signingKey(ctx context.Context) (zop.SigningKey, error) {
	return m.signingKeyFor(ctx, string(m.alg))
}

// signingKeyFor is the key of alg that signs now: of those whose
// activation has come, the latest to activate (publish before use, OIDC
// Core §10.1.1). Before any has (keys stored before migration 0015 wait two
// minutes), the first to activate signs: it is published already.
func (m *keyManager) signingKeyFor(ctx context.Context, alg string) (*parsedKey, error) {
	keys, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	var active, earliest *parsedKey
	for _, k := range keys {
		if string(k.alg) != alg {
			continue
		}
		if !k.activatesAt.After(now) && (active == nil || newer(k.activatesAt, k.createdAt, k.id, active.activatesAt, active.createdAt, active.id)) {
			active = k
		}
		if earliest == nil || k.activatesAt.Before(earliest.activatesAt) {
			earliest = k
		}
	}
	if active != nil {
		return active, nil
	}
	if earliest == nil {
		return nil, fmt.Errorf("no %s signing key", alg)
	}
	return earliest, nil
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

// algorithms lists the default algorithm first, then the others a client
// may choose (id_token_signing_alg_values_supported).
func (m *keyManager) algorithms() []jose.SignatureAlgorithm {
	out := []jose.SignatureAlgorithm{m.alg}
	for _, a := range Algorithms {
		if a != string(m.alg) {
			out = append(out, jose.SignatureAlgorithm(a))
		}
	}
	return out
}

// KeyState is where a stored key is in its life, for `satupintu keys list`.
type KeyState string

const (
	KeyPending  KeyState = "pending"  // published, not yet signing
	KeyActive   KeyState = "active"   // signs new tokens of its algorithm
	KeyRetiring KeyState = "retiring" // replaced; published until NotAfter
	KeyRetired  KeyState = "retired"  // past NotAfter; deleted at the next maintenance
)

// KeyStates tells the state of each stored key at now.
func KeyStates(stored []storage.SigningKey, now time.Time) map[string]KeyState {
	out := make(map[string]KeyState, len(stored))
	active := map[string]*storage.SigningKey{}
	for i := range stored {
		k := &stored[i]
		switch {
		case !k.NotAfter.IsZero() && !now.Before(k.NotAfter):
			out[k.ID] = KeyRetired
		case k.ActivatesAt.After(now):
			out[k.ID] = KeyPending
		default:
			a := active[k.Algorithm]
			if a == nil || newer(k.ActivatesAt, k.CreatedAt, k.ID, a.ActivatesAt, a.CreatedAt, a.ID) {
				active[k.Algorithm] = k
			}
		}
	}
	for i := range stored {
		k := &stored[i]
		if _, ok := out[k.ID]; ok {
			continue
		}
		out[k.ID] = KeyRetiring
		if active[k.Algorithm] == k {
			out[k.ID] = KeyActive
		}
	}
	return out
}
