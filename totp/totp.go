// Package totp implements time-based one-time passwords (RFC 6238 over the
// HOTP algorithm of RFC 4226) for two-step verification: secrets, the
// otpauth:// URI authenticator apps scan, code checks with a small clock
// window and single use, the sealing of secrets at rest, and recovery codes.
//
// It knows no HTTP and no templates; the login package drives it.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"net/url"
	"strings"
	"time"
)

// The parameters every common authenticator app assumes when the URI names
// none; satupintu names them anyway (Key Uri Format).
const (
	// Digits is the code length: 10^6 values, well above the 20 bits
	// ASVS 6.5.4 asks for.
	Digits = 6
	// Period is the time step X of RFC 6238 §4.1; ASVS 6.5.5 allows at most 30 s.
	Period = 30 * time.Second
	// SecretSize is 160 bits, the HMAC-SHA1 output size RFC 4226 §4 (R6)
	// recommends.
	SecretSize = 20
	// Window is how many steps before and after now are accepted, for clocks
	// that drift and codes typed as the step turns (RFC 6238 §5.2 allows one).
	Window = 1
)

// b32 is the secret's text form: RFC 4648 base32 without padding, as the
// Key Uri Format wants.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a new random secret from crypto/rand (ASVS 6.5.3).
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	rand.Read(b) // never returns an error (crypto/rand documents it)
	return b
}

// Step returns the time step counter T of RFC 6238 §4.2 for t.
func Step(t time.Time) int64 {
	return t.Unix() / int64(Period/time.Second)
}

// Code returns the code for secret at t, as an authenticator app shows it.
func Code(secret []byte, t time.Time) string {
	return hotp(secret, uint64(Step(t)), Digits)
}

// hotp is RFC 4226 §5.3: HMAC-SHA1 over the big-endian counter, dynamic
// truncation, then the low digits in decimal, zero-padded.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	out := make([]byte, digits)
	v := bin % mod
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	return string(out)
}

// NormalizeCode strips the spaces people type or paste ("123 456") and
// reports whether what is left has the shape of a code.
func NormalizeCode(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// Match checks code against secret within ±Window steps of now and returns
// the step it belongs to. Every candidate is computed and compared in
// constant time, so timing does not tell which step matched or how close a
// guess was. Match alone does not stop replay: use Verifier.
func Match(secret []byte, code string, now time.Time) (int64, bool) {
	code, ok := NormalizeCode(code)
	if !ok {
		return 0, false
	}
	cur := Step(now)
	var step int64
	found := 0
	for d := int64(-Window); d <= Window; d++ {
		s := cur + d
		eq := subtle.ConstantTimeCompare([]byte(hotp(secret, uint64(s), Digits)), []byte(code))
		// Keep the first match without a data-dependent branch.
		take := eq & (1 - found)
		step = int64(subtle.ConstantTimeSelect(take, int(s), int(step)))
		found |= eq
	}
	return step, found == 1
}

// URI returns the otpauth:// URI an authenticator app scans (Google's Key
// Uri Format): label "issuer:account", the secret in base32, and the
// parameters spelled out.
func URI(issuer, account string, secret []byte) string {
	q := url.Values{
		"secret":    {b32.EncodeToString(secret)},
		"issuer":    {issuer},
		"algorithm": {"SHA1"},
		"digits":    {"6"},
		"period":    {"30"},
	}
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// FormatSecret returns the secret in base32, in groups of four, for people
// who type it into their app instead of scanning the QR code.
func FormatSecret(secret []byte) string {
	s := b32.EncodeToString(secret)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}
