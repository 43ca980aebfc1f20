package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of the sealing key: AES-256.
const KeySize = 32

// sealVersion prefixes every sealed secret so the scheme can change later
// without guessing what a stored value is.
const sealVersion = 1

// ErrUnsealable reports a sealed secret that does not open: tampered with,
// sealed for another user, or under another key.
var ErrUnsealable = errors.New("totp: sealed secret does not open")

// Seal encrypts secret for storage with AES-256-GCM under key, bound to
// userID as associated data: a database row copied onto another user does
// not open. The result is version ‖ nonce ‖ ciphertext ‖ tag.
func Seal(key, secret []byte, userID string) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(secret)+aead.Overhead())
	out[0] = sealVersion
	// A random 96-bit nonce: a key seals a few secrets per user, far below
	// the 2^32 messages NIST SP 800-38D allows with random nonces.
	rand.Read(out[1:]) // never returns an error (crypto/rand documents it)
	return aead.Seal(out, out[1:], secret, []byte(userID)), nil
}

// Open decrypts what Seal returned for the same key and userID.
func Open(key, sealed []byte, userID string) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnsealable
	}
	secret, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(userID))
	if err != nil {
		return nil, ErrUnsealable
	}
	return secret, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("totp: sealing key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return cipher.NewGCM(block)
}
