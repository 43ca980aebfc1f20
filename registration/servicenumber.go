package registration

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
	"unicode/utf8"
)

// Service numbers (nomor layanan) look like
//
//	SP-20261122-7K3M9QX2C
//
// "SP" (satupintu), the submission date in Jakarta time, then nine
// characters of Crockford base32: eight random ones from crypto/rand
// (40 bits, so a number cannot be guessed or enumerated — tracking also asks
// for the email, and lookups are rate-limited) and one check character.
//
// The check character is Luhn mod 32 over the date digits and the random
// part: it catches every single mistyped character and nearly every swap of
// neighbours, so the tracking page can say "check the number" without a
// database lookup or a rate-limit hit. It is drawn from the same alphabet;
// Crockford's own mod-37 check would add the symbols * ~ $ = U to
// something people read out on the phone.
//
// Uniqueness: 40 random bits give a 1-in-a-million chance of any collision
// among ~1,500 submissions on one day; storage refuses a duplicate with
// ErrAlreadyExists, and the caller draws a new number and tries again.
const ServiceNumberPrefix = "SP"

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U, so nothing reads as another character.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var crockfordEncoding = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// jakarta is WIB, UTC+7. Indonesia has had no daylight saving time since
// 1964, so a fixed zone is exact and does not depend on the host's tzdata.
var jakarta = time.FixedZone("WIB", 7*60*60)

// NewServiceNumber returns a fresh service number for a submission at now.
func NewServiceNumber(now time.Time) string {
	var b [5]byte
	rand.Read(b[:]) // never fails since Go 1.24 (it crashes the program instead)
	date := now.In(jakarta).Format("20060102")
	random := crockfordEncoding.EncodeToString(b[:])
	return ServiceNumberPrefix + "-" + date + "-" + random + string(luhn32Check(date+random))
}

// NormalizeServiceNumber turns what a registrant typed into the canonical
// form, or fails with a *FieldError on FieldServiceNumber. It forgives what
// people do when copying a number: surrounding or inner spaces, missing or
// extra dashes, lower case, a missing "SP-", and Crockford's confusables
// (O for 0, I and L for 1). The date must exist and the check character
// must match.
func NormalizeServiceNumber(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r >= utf8.RuneSelf:
			// Non-ASCII never belongs. Refused before upper-casing, which
			// would turn look-alikes into valid characters ("ı" → "I").
			return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
		}
		b.WriteRune(r)
	}
	s = strings.ToUpper(b.String())
	if s == "" {
		return "", fieldErr(FieldServiceNumber, KeyRequired)
	}
	s = strings.TrimPrefix(s, ServiceNumberPrefix)
	if len(s) != 17 {
		return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
	}
	s = strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s)
	date, random := s[:8], s[8:]
	if !allDigits(date) {
		return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
	}
	if _, err := time.Parse("20060102", date); err != nil {
		return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
	}
	for i := 0; i < len(random); i++ {
		if strings.IndexByte(crockford, random[i]) < 0 {
			return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
		}
	}
	if !luhn32Valid(date + random) {
		return "", fieldErr(FieldServiceNumber, KeyServiceNumberInvalid)
	}
	return ServiceNumberPrefix + "-" + date + "-" + random, nil
}

// luhn32Check computes the Luhn mod N check character (N = 32) of s, whose
// characters are all in crockford.
func luhn32Check(s string) byte {
	const n = len(crockford)
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		addend := factor * strings.IndexByte(crockford, s[i])
		factor = 3 - factor
		sum += addend/n + addend%n
	}
	return crockford[(n-sum%n)%n]
}

// luhn32Valid reports whether the last character of s is the Luhn mod 32
// check character of the rest.
func luhn32Valid(s string) bool {
	const n = len(crockford)
	factor, sum := 1, 0
	for i := len(s) - 1; i >= 0; i-- {
		addend := factor * strings.IndexByte(crockford, s[i])
		factor = 3 - factor
		sum += addend/n + addend%n
	}
	return sum%n == 0
}
