package totp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"satupintu/password"
)

// Recovery codes let a user who lost the authenticator sign in once each.
const (
	RecoveryCodeCount = 10
	// RecoveryCodeLen characters from a 32-letter alphabet: 50 bits each.
	RecoveryCodeLen = 10
)

// recoveryAlphabet is Crockford's base32: no I, L, O or U, so nothing on a
// printout reads as something else; NormalizeRecoveryCode maps the look-alikes.
const recoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// RecoveryParams hash recovery codes. They are random with 50 bits, not
// chosen by people, so a lighter argon2id than passwords' suffices: at 8 MiB
// and one pass an offline search of 2^50 stays out of reach (years on GPU
// farms, where SHA-256 would take hours), and checking a code against all
// ten stored hashes costs tens of milliseconds, not a second.
var RecoveryParams = password.Params{Memory: 8 * 1024, Time: 1, Threads: 1}

// NewRecoveryCodes returns RecoveryCodeCount fresh codes to show the user
// once, formatted "XXXXX-XXXXX", and their hashes to store.
func NewRecoveryCodes(p password.Params) (codes, hashes []string, err error) {
	for range RecoveryCodeCount {
		var raw [RecoveryCodeLen]byte
		rand.Read(raw[:]) // never returns an error (crypto/rand documents it)
		var b strings.Builder
		for i, c := range raw {
			if i == RecoveryCodeLen/2 {
				b.WriteByte('-')
			}
			// 256 is a multiple of 32: the low five bits are uniform.
			b.WriteByte(recoveryAlphabet[c&31])
		}
		code := b.String()
		norm, _ := NormalizeRecoveryCode(code)
		h, err := password.Hash(norm, p)
		if err != nil {
			return nil, nil, fmt.Errorf("totp: hash recovery code: %w", err)
		}
		codes = append(codes, code)
		hashes = append(hashes, h)
	}
	return codes, hashes, nil
}

// NormalizeRecoveryCode reads a code as typed: case, spaces and dashes do
// not matter, and O, I, L read as 0, 1, 1 (Crockford). It reports whether
// the result has the shape of a recovery code.
func NormalizeRecoveryCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != RecoveryCodeLen {
		return "", false
	}
	return b.String(), true
}

// MatchRecoveryCode returns the index in hashes of code, or -1. It checks
// every hash, so the time taken does not depend on which one matched.
func MatchRecoveryCode(code string, hashes []string) (int, error) {
	norm, ok := NormalizeRecoveryCode(code)
	if !ok {
		return -1, nil
	}
	found := -1
	var bad error
	for i, h := range hashes {
		err := password.Verify(norm, h)
		switch {
		case err == nil:
			if found < 0 {
				found = i
			}
		case errors.Is(err, password.ErrMismatch):
		default:
			bad = fmt.Errorf("totp: stored recovery code %d: %w", i, err)
		}
	}
	if found < 0 && bad != nil {
		return -1, bad
	}
	return found, nil
}
