package op

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// An opaque access token is "token id:subject" sealed so that only we can
// read it; zitadel's default seals it as a JWE (A256GCMKW key wrap, then
// AES-GCM), which costs a key wrap and two JSON headers per token and was
// the largest cost of issuing one after the store. XChaCha20-Poly1305 under
// a key derived for this one use seals it in one pass, and its 192-bit
// random nonces stay safe for any number of tokens (AES-GCM's 96-bit random
// IVs, in both JWE steps, are good for about 2^32 under one key: days at a
// national peak). Tokens sealed the old way are still read until they
// expire.

// compactCrypto seals and opens access-token values.
type compactCrypto struct {
	aead interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
		Overhead() int
	}
}

// accessTokenKeyLabel separates the derived key from any other use of the
// configured token key.
const accessTokenKeyLabel = "satupintu opaque access token v1"

func newCompactCrypto(key [32]byte) compactCrypto {
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(accessTokenKeyLabel))
	aead, err := chacha20poly1305.NewX(mac.Sum(nil))
	if err != nil {
		panic("op: XChaCha20-Poly1305 with a 32-byte key: " + err.Error()) // cannot happen
	}
	return compactCrypto{aead: aead}
}

func (c compactCrypto) Encrypt(s string) (string, error) {
	n := c.aead.NonceSize()
	buf := make([]byte, n, n+len(s)+c.aead.Overhead())
	rand.Read(buf) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(buf, buf, []byte(s), nil)), nil
}

var errNotSealed = errors.New("op: not a sealed access token")

func (c compactCrypto) Decrypt(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	n := c.aead.NonceSize()
	if err != nil || len(b) < n+c.aead.Overhead() {
		return "", errNotSealed
	}
	out, err := c.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return "", errNotSealed
	}
	return string(out), nil
}

// newCode makes an authorization code. zitadel builds a code by sealing
// the request's id with the provider's Crypto, but never opens one: the
// store maps each code to its request (storage.AuthRequests), so a code
// need only be unguessable, and 256 random bits are.
func newCode() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
