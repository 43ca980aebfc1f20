// Package passkeytest is a software authenticator for tests: one ES256
// credential that answers WebAuthn challenges the way a browser and a
// platform authenticator would (WebAuthn §6.1 authenticator data, §5.8.1
// client data), so passkey sign-in can be tested over plain HTTP. Browser
// tests use Chromium's virtual authenticator instead.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/webauthn"
)

// Authenticator data flags (WebAuthn §6.1).
const (
	FlagUserPresent  = 0x01
	FlagUserVerified = 0x04
)

// Key is one credential. Its answers claim Origin, RPID and Flags; tests
// change them (and Counter, UserHandle) to forge answers.
type Key struct {
	ID         []byte
	UserHandle []byte
	Origin     string
	RPID       string
	Flags      byte
	Counter    uint32 // the last counter used; each answer adds one

	private *ecdsa.PrivateKey
}

// New returns a credential of the user with userID for a relying party at
// origin with id rpID, verifying its user.
func New(userID, rpID, origin string) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &Key{ID: id, UserHandle: []byte(userID), Origin: origin, RPID: rpID,
		Flags: FlagUserPresent | FlagUserVerified, private: priv}, nil
}

// Record is the credential record the login package stores for the key,
// as a registration would have left it.
func (k *Key) Record() ([]byte, error) {
	return json.Marshal(webauthn.Credential{ID: k.ID, PublicKey: k.cosePublicKey(), AttestationType: "none",
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: true}})
}

// cosePublicKey is the EC2 P-256 key in COSE (RFC 9053), CBOR by hand:
// {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
func (k *Key) cosePublicKey() []byte {
	pub, err := k.private.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		panic(err) // a P-256 key always encodes
	}
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	out = append(out, pub[1:33]...)
	out = append(out, 0x22, 0x58, 0x20)
	return append(out, pub[33:65]...)
}

// Answer signs the challenge of options (the JSON a ceremony's options
// endpoint returned) and returns the credential JSON a page would post.
func (k *Key) Answer(options string) (string, error) {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &o); err != nil || o.PublicKey.Challenge == "" {
		return "", fmt.Errorf("passkeytest: options %q: no challenge (%v)", options, err)
	}
	client, err := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": o.PublicKey.Challenge, "origin": k.Origin, "crossOrigin": false})
	if err != nil {
		return "", err
	}
	rp := sha256.Sum256([]byte(k.RPID))
	k.Counter++
	auth := append(rp[:], k.Flags)
	auth = binary.BigEndian.AppendUint32(auth, k.Counter)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(slices.Clone(auth), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.private, digest[:])
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, err := json.Marshal(map[string]any{
		"id": b64(k.ID), "rawId": b64(k.ID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(client), "authenticatorData": b64(auth), "signature": b64(sig), "userHandle": b64(k.UserHandle)},
	})
	return string(out), err
}
