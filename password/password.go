// Package password hashes and verifies secrets with argon2id, encoded as PHC
// strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash) so parameters can be
// raised later without invalidating stored hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// OWASP's Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MaxLength caps what we hash: argon2 has no length limit, but an
	// unbounded input is a denial-of-service lever.
	MaxLength = 1024
)

var b64 = base64.RawStdEncoding

// ErrMismatch reports a wrong password.
var ErrMismatch = errors.New("password: mismatch")

// ErrMalformed reports a stored hash that cannot be parsed.
var ErrMalformed = errors.New("password: malformed hash")

// Hash returns the PHC string for secret under p.
func Hash(secret string, p Params) (string, error) {
	if len(secret) > MaxLength {
		return "", fmt.Errorf("password: longer than %d bytes", MaxLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks secret against a PHC string. It returns nil on a match,
// ErrMismatch on a wrong secret and ErrMalformed on an unreadable hash.
func Verify(secret, encoded string) error {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	if len(secret) > MaxLength {
		return ErrMismatch
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with weaker parameters than p.
func NeedsRehash(encoded string, p Params) bool {
	have, _, _, err := decode(encoded)
	return err != nil || have.Memory < p.Memory || have.Time < p.Time
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	// Refuse parameters that would let a tampered row exhaust memory or CPU.
	if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return Params{}, nil, nil, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, ErrMalformed
	}
	return p, salt, key, nil
}
