package op

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"satupintu/storage"
)

// Subject types a client may register (OIDC Core §8).
const (
	SubjectPublic   = "public"
	SubjectPairwise = "pairwise"
)

// PairwiseKeySize is the length of Config.PairwiseKey: an HMAC key and an
// AES-256 key.
const PairwiseKeySize = 64

// subjects turns user ids into the sub a client receives and back.
//
// A pairwise sub (OIDC Core §8.1) must differ between sectors, stay the same
// for one user within a sector, and be reversible by nobody but us. It is
// deterministic authenticated encryption of the user id, bound to the
// sector: the nonce is an HMAC of sector and user id (a synthetic IV, as in
// SIV mode), so the same user in the same sector always gets the same
// value, and the sector is the associated data, so a sub moved to another
// sector does not open. Being reversible matters: zitadel hands back the
// subject of an id_token_hint or an access token, and we turn it into the
// user it names without a lookup table that would grow with every sign-in.
type subjects struct {
	mac  []byte
	aead cipher.AEAD
}

func newSubjects(key []byte) (*subjects, error) {
	if len(key) != PairwiseKeySize {
		return nil, fmt.Errorf("pairwise key is %d bytes, want %d", len(key), PairwiseKeySize)
	}
	block, err := aes.NewCipher(key[32:])
	if err != nil {
		return nil, fmt.Errorf("pairwise key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pairwise key: %w", err)
	}
	return &subjects{mac: key[:32], aead: aead}, nil
}

// pairwise reports whether c receives pairwise subjects.
func pairwise(c storage.Client) bool { return c.SubjectType == SubjectPairwise }

// nonce is the synthetic IV of userID in sector.
func (s *subjects) nonce(sector, userID string) []byte {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(sector))
	m.Write([]byte{0}) // sector is a host name: it holds no NUL
	m.Write([]byte(userID))
	return m.Sum(nil)[:s.aead.NonceSize()]
}

// external is the sub c receives for userID.
func (s *subjects) external(c storage.Client, userID string) string {
	if !pairwise(c) || userID == "" {
		return userID
	}
	n := s.nonce(c.SectorIdentifier, userID)
	sealed := s.aead.Seal(n, n, []byte(userID), []byte(c.SectorIdentifier))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// errForeignSubject: a sub that is not one c received.
var errForeignSubject = errors.New("op: subject was not issued to this client's sector")

// internal is the user id behind sub, a subject c received.
func (s *subjects) internal(c storage.Client, sub string) (string, error) {
	if !pairwise(c) {
		return sub, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(sub)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return "", errForeignSubject
	}
	id, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(c.SectorIdentifier))
	// The nonce must be the one external would have chosen: otherwise one
	// user could have several valid subs.
	if err != nil || !hmac.Equal(raw[:n], s.nonce(c.SectorIdentifier, string(id))) {
		return "", errForeignSubject
	}
	return string(id), nil
}
