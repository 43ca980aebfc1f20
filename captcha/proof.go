package captcha

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"satupintu/storage"
)

// The proof of work, after ALTCHA's first protocol. The server picks a
// secret number n at most MaxNumber and a salt, and signs
//
//	challenge = hex(SHA-256(salt ‖ decimal n))
//	signature = hex(HMAC-SHA256(Key, challenge))
//
// The browser tries 0, 1, 2, … until SHA-256(salt ‖ number) is the
// challenge and posts {algorithm, challenge, number, salt, signature}. The
// salt says what the challenge is for and until when:
//
//	<32 random hex digits>?purpose=login&expires=1735689600&
//
// It is covered by the signature through the challenge: a changed salt no
// longer hashes to the signed challenge. It ends in "&" so that no digit
// can move between the salt and the number (ALTCHA's early libraries let
// "expires=17…" grow by a digit taken from the front of the number, with
// the same hash).

// Algorithm is the only hash the proof of work uses (ALTCHA's name for it).
const Algorithm = "SHA-256"

// DefaultMaxNumber is the default difficulty. A browser tries half of it
// on average. captcha.js hashes about 0.9 million salts a second on one
// desktop core (V8), a phone's core a third to a fifth of that, and it
// runs up to four workers; starting them costs 0.1–0.3 s. Measured in
// headless Chromium on a loaded two-core machine: 0.3–0.7 s from page load
// to "done"; on a phone expect about 0.3–1 s. A native solver needs about
// 20 ms of one core (Go's SHA-256: ~7 million hashes a second).
const DefaultMaxNumber = 250_000

// maxMaxNumber keeps a configured difficulty within what a phone can do
// in a minute.
const maxMaxNumber = 20_000_000

// maxSolutionLen bounds the posted solution before it is decoded; a real
// one is about 300 bytes.
const maxSolutionLen = 1024

// ProofChallenge is a challenge as the page carries it, for captcha.js.
type ProofChallenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int64  `json:"maxnumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Solution is what captcha.js posts, as base64 (standard alphabet) JSON in
// the FieldProof field.
type Solution struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Number    int64  `json:"number"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Encode returns sol as the form field carries it.
func (sol Solution) Encode() string {
	b, _ := json.Marshal(sol) // strings and a number: cannot fail
	return base64.StdEncoding.EncodeToString(b)
}

// saltPattern is the only salt accepted back: the random part, the
// purpose, the expiry in Unix seconds, and the closing "&".
var saltPattern = regexp.MustCompile(`^[0-9a-f]{32}\?purpose=([a-z-]{1,32})&expires=([1-9][0-9]{0,11})&$`)

// maxNumber returns the difficulty in use: MaxNumber, capped, or
// DefaultMaxNumber.
func (s *Service) maxNumber() int64 {
	if s.MaxNumber > 0 {
		return min(s.MaxNumber, maxMaxNumber)
	}
	return DefaultMaxNumber
}

// ValidMaxNumber reports whether n is a difficulty the configuration may
// set (SATUPINTU_CAPTCHA_MAX_NUMBER): at least 1,000 (below that the check
// costs nothing) and at most 20 million (a minute on a phone).
func ValidMaxNumber(n int64) bool { return n >= 1000 && n <= maxMaxNumber }

// newProof makes a signed challenge for purpose and returns it as JSON for
// the page. Nothing is stored.
func (s *Service) newProof(purpose Purpose) (string, error) {
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	max := s.maxNumber()
	// The secret number, uniform in [0, max]; the modulo bias is below
	// 2^-40 for any allowed max.
	n := int64(binary.BigEndian.Uint64(b[16:]) % uint64(max+1))
	expires := s.now().Add(s.ttl()).Unix()
	salt := hex.EncodeToString(b[:16]) + "?purpose=" + string(purpose) + "&expires=" + strconv.FormatInt(expires, 10) + "&"
	challenge := hashHex(salt, n)
	out, err := json.Marshal(ProofChallenge{
		Algorithm: Algorithm,
		Challenge: challenge,
		MaxNumber: max,
		Salt:      salt,
		Signature: hex.EncodeToString(s.mac(challenge)),
	})
	if err != nil {
		return "", fmt.Errorf("captcha: encode challenge: %w", err)
	}
	return string(out), nil
}

func (s *Service) mac(challenge string) []byte {
	m := hmac.New(sha256.New, s.signingKey())
	m.Write([]byte(challenge))
	return m.Sum(nil)
}

// hashHex is hex(SHA-256(salt ‖ decimal n)).
func hashHex(salt string, n int64) string {
	sum := sha256.Sum256(strconv.AppendInt([]byte(salt), n, 10))
	return hex.EncodeToString(sum[:])
}

// verifyProof checks a posted solution for purpose and, if it is good,
// records it as used until its challenge expires. Only a solution that
// passes every other check reaches the store, so garbage costs no write.
func (s *Service) verifyProof(ctx context.Context, purpose Purpose, encoded string) (bool, error) {
	sol, ok := decodeSolution(encoded)
	if !ok {
		return false, nil
	}
	expires, ok := s.check(sol, purpose)
	if !ok {
		return false, nil
	}
	// Single use, on every node: the first PutOnce of this challenge wins.
	ttl := expires.Sub(s.now()) + time.Second
	err := s.Store.PutOnce(ctx, usedKeyPrefix+sol.Challenge, []byte{1}, ttl)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("captcha: record used challenge: %w", err)
	}
	return true, nil
}

func decodeSolution(encoded string) (Solution, bool) {
	var sol Solution
	if encoded == "" || len(encoded) > maxSolutionLen {
		return sol, false
	}
	b, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return sol, false
	}
	if err := json.Unmarshal(b, &sol); err != nil {
		return sol, false
	}
	return sol, true
}

// check reports whether sol is a solution to a challenge this service
// signed for purpose that has not expired, and when it expires.
func (s *Service) check(sol Solution, purpose Purpose) (time.Time, bool) {
	if sol.Algorithm != Algorithm || sol.Number < 0 || !isHex(sol.Challenge, 64) || !isHex(sol.Signature, 64) {
		return time.Time{}, false
	}
	sig, _ := hex.DecodeString(sol.Signature) // isHex checked it
	if !hmac.Equal(sig, s.mac(sol.Challenge)) {
		return time.Time{}, false // not ours, or the challenge was changed
	}
	if subtle.ConstantTimeCompare([]byte(hashHex(sol.Salt, sol.Number)), []byte(sol.Challenge)) != 1 {
		return time.Time{}, false // wrong number, or the salt was changed
	}
	m := saltPattern.FindStringSubmatch(sol.Salt)
	if m == nil || m[1] != string(purpose) {
		return time.Time{}, false // another form's challenge
	}
	sec, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	expires := time.Unix(sec, 0)
	if !s.now().Before(expires) {
		return time.Time{}, false
	}
	return expires, true
}

// isHex reports whether s is n lower-case hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
