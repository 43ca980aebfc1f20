package op

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KEK is the key-encryption key: private signing keys (and other secrets
// the caller chooses) are stored sealed with it, so a copy of the database
// alone signs nothing (ASVS 11.1.1/11.1.2, keys protected at rest). It comes
// from configuration, never from the database it protects.
type KEK struct{ aead cipher.AEAD }

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// ErrWrongKEK reports sealed data the configured key-encryption key cannot
// open: another key sealed it, or it was altered.
var ErrWrongKEK = errors.New("sealed data cannot be opened with the configured key-encryption key")

// NewKEK builds a key-encryption key from 32 random bytes.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("key-encryption key must be %d bytes, not %d", KEKSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KEK{aead: aead}, nil
}

// ParseKEK decodes a key-encryption key from base64 (standard or URL
// alphabet, padded or not), as SATUPINTU_KEY_ENCRYPTION_KEY holds it. The
// error never echoes the value.
func ParseKEK(text string) (*KEK, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("key-encryption key must be base64 of %d bytes, it decodes to %d", KEKSize, len(b))
			}
			return NewKEK(b)
		}
	}
	return nil, errors.New("key-encryption key is not base64")
}

// Seal encrypts plain with AES-256-GCM under a fresh random nonce; ad (the
// key id for a signing key) binds the result to its record, so a sealed
// value copied to another row does not open.
func (k *KEK) Seal(ad string, plain []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	rand.Read(nonce) // never returns an error (crypto/rand documents it)
	return k.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// Open reverses Seal; ErrWrongKEK if the key or ad does not match.
func (k *KEK) Open(ad string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrWrongKEK
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrWrongKEK
	}
	return plain, nil
}
