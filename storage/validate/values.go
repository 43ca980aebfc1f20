// Package validate is the one place domain values are checked: contact
// details, Indonesian business and identity numbers, names, URIs, users and
// OAuth clients. Every check returns the normalized value (or nothing) and
// a *FieldError naming the field and a message-catalog key, so a form, the
// admin API and the CLI refuse the same input the same way and each says it
// in its own words.
package validate

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError is a validation failure of one field. Key is a message catalog
// key (templates/messages), never user-facing text: a page shows
// T(lang, Key, Args...) next to Field, in the user's language. Detail is an
// English explanation for operators (CLI, logs), never shown on a page.
type FieldError struct {
	Field  string // the field: a form input or JSON name (Field… constants, client fields)
	Key    string // catalog key
	Args   []any  // fmt arguments of the message (KeyTooLong: the maximum)
	Detail string // operator text; may quote the input, so never for end users
	Err    error  // the underlying cause, for logs only (e.g. a broken upload)
}

func (e *FieldError) Error() string {
	msg := e.Field + ": " + e.Key
	if e.Detail != "" {
		msg = e.Field + ": " + e.Detail
	}
	if e.Err != nil {
		return fmt.Sprintf("validate: %s: %v", msg, e.Err)
	}
	return "validate: " + msg
}

// Unwrap returns the cause of a read failure, so logs can say what broke.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors is every problem of a multi-field value (an address), so the
// page can mark all of them at once instead of one per round trip.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Field names of the values below, as the registration wizard names its
// inputs. NIK and passport share the identity number field because the
// wizard has one input whose meaning the identity type sets.
const (
	FieldNIB            = "nib"
	FieldNPWPType       = "npwp_type"
	FieldNPWP           = "npwp"
	FieldIdentityType   = "identity_type"
	FieldIdentityNumber = "identity_number"
	FieldEmail          = "email"
	FieldPhone          = "phone"
)

// MaxEmail is the longest address accepted: the RFC 5321 §4.5.3.1.3 path
// limit minus the angle brackets.
const MaxEmail = 254

// Message catalog keys of the value checks (templates/messages/*/registration.json,
// where the wizard first needed them).
const (
	KeyRequired       = "reg.error.required"        // the field is empty
	KeyTooLong        = "reg.error.too_long"        // more runes than Args[0]
	KeyInvalidChars   = "reg.error.invalid_chars"   // control/format characters or invalid UTF-8
	KeyChoice         = "reg.error.choice"          // not one of the offered options
	KeyNIBDigits      = "reg.error.nib_digits"      // NIB is not 13 digits
	KeyNPWP15Digits   = "reg.error.npwp15_digits"   // not 15 digits nor 99.999.999.9-999.999
	KeyNPWP16Digits   = "reg.error.npwp16_digits"   // not 16 digits
	KeyNIKDigits      = "reg.error.nik_digits"      // NIK is not 16 digits
	KeyNIKInvalid     = "reg.error.nik_invalid"     // 16 digits but all zero or no province code
	KeyPassportFormat = "reg.error.passport_format" // not 6–9 letters/digits with a digit
	KeyEmailFormat    = "reg.error.email_format"    // not a plain address
	KeyEmailTooLong   = "reg.error.email_too_long"  // over MaxEmail
	KeyPhoneFormat    = "reg.error.phone_format"    // not an Indonesian number
)

// ValueKeys lists the keys above.
func ValueKeys() []string {
	return []string{KeyRequired, KeyTooLong, KeyInvalidChars, KeyChoice,
		KeyNIBDigits, KeyNPWP15Digits, KeyNPWP16Digits, KeyNIKDigits, KeyNIKInvalid,
		KeyPassportFormat, KeyEmailFormat, KeyEmailTooLong, KeyPhoneFormat}
}

func fieldErr(field, key string) *FieldError { return &FieldError{Field: field, Key: key} }

// NIB checks a Nomor Induk Berusaha: exactly 13 ASCII digits once spaces
// are dropped, since people group digits when they copy them ("8120 3098
// 76543"), as for NPWP and NIK. Dashes and other characters are refused
// rather than guessed at: a stray character more likely means a wrong
// number than a formatting habit.
func NIB(s string) (string, error) {
	s = stripSpaces(s)
	if s == "" {
		return "", fieldErr(FieldNIB, KeyRequired)
	}
	if len(s) != 13 || !allDigits(s) {
		return "", fieldErr(FieldNIB, KeyNIBDigits)
	}
	return s, nil
}

// NPWP checks a tax number of the given type (NPWPTypes) and returns its
// digits. Type "15" is the classic number, typed as 15 digits or in its
// printed form 99.999.999.9-999.999 (exactly that punctuation: a half-
// formatted number is more likely mistyped). Type "16" is the 16-digit form
// introduced in 2024 (the NIK for individuals, 0 + the 15 digits for
// companies). Spaces anywhere are dropped in both, since people group
// digits when they copy them.
func NPWP(kind, s string) (string, error) {
	s = stripSpaces(s)
	switch kind {
	case "15":
		if s == "" {
			return "", fieldErr(FieldNPWP, KeyRequired)
		}
		if len(s) == 15 && allDigits(s) {
			return s, nil
		}
		if d, ok := formattedNPWP15(s); ok {
			return d, nil
		}
		return "", fieldErr(FieldNPWP, KeyNPWP15Digits)
	case "16":
		if s == "" {
			return "", fieldErr(FieldNPWP, KeyRequired)
		}
		if len(s) != 16 || !allDigits(s) {
			return "", fieldErr(FieldNPWP, KeyNPWP16Digits)
		}
		return s, nil
	}
	return "", fieldErr(FieldNPWPType, KeyChoice)
}

// formattedNPWP15 matches 99.999.999.9-999.999 and returns its digits.
func formattedNPWP15(s string) (string, bool) {
	const pattern = "99.999.999.9-999.999"
	if len(s) != len(pattern) {
		return "", false
	}
	var d strings.Builder
	for i := 0; i < len(s); i++ {
		if pattern[i] == '9' {
			if !isDigit(s[i]) {
				return "", false
			}
			d.WriteByte(s[i])
		} else if s[i] != pattern[i] {
			return "", false
		}
	}
	return d.String(), true
}

// NIK checks a Nomor Induk Kependudukan: 16 digits (spaces dropped). Two
// cheap plausibility checks catch placeholders without risking a real
// number: all zeros is refused, and the first two digits must look like a
// province code — tens digit 1–9 except 4, units digit 1–9. Every code
// Dukcapil has used fits (11–19 Sumatra, 21 Kepri, 31–36 Java, 51–53,
// 61–65, 71–76, 81–82, 91–96 including the 2022 Papua provinces), and a
// rule this loose needs no update when provinces are split again. The
// birth-date digits are deliberately not checked: irregular dates exist on
// real cards.
func NIK(s string) (string, error) {
	s = stripSpaces(s)
	if s == "" {
		return "", fieldErr(FieldIdentityNumber, KeyRequired)
	}
	if len(s) != 16 || !allDigits(s) {
		return "", fieldErr(FieldIdentityNumber, KeyNIKDigits)
	}
	if strings.Trim(s, "0") == "" || s[0] == '0' || s[0] == '4' || s[1] == '0' {
		return "", fieldErr(FieldIdentityNumber, KeyNIKInvalid)
	}
	return s, nil
}

// Passport checks a passport number: 6–9 ASCII letters and digits with at
// least one digit, upper-cased, spaces dropped. Indonesian passports are
// one or two letters and six or seven digits ("A1234567", "XB123456"); the
// wider rule also fits the foreign directors of a perwakilan asing (most
// ICAO 9303 document numbers are within 9 characters).
func Passport(s string) (string, error) {
	s = strings.ToUpper(stripSpaces(s))
	if s == "" {
		return "", fieldErr(FieldIdentityNumber, KeyRequired)
	}
	if len(s) < 6 || len(s) > 9 {
		return "", fieldErr(FieldIdentityNumber, KeyPassportFormat)
	}
	digit := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digit = true
		case c >= 'A' && c <= 'Z':
		default:
			return "", fieldErr(FieldIdentityNumber, KeyPassportFormat)
		}
	}
	if !digit {
		return "", fieldErr(FieldIdentityNumber, KeyPassportFormat)
	}
	return s, nil
}

// Identity checks the identity number by its type (IdentityTypes).
func Identity(kind, s string) (string, error) {
	switch kind {
	case "nik":
		return NIK(s)
	case "passport":
		return Passport(s)
	}
	return "", fieldErr(FieldIdentityType, KeyChoice)
}

// Email checks an address and returns it lower-cased (accounts are found by
// email, so one spelling per mailbox). Only the plain addr-spec is taken:
// no display name, comments, quoted local parts, IP literals or non-ASCII,
// so the value can go into a mail header as is (ASVS 1.3.11: no CR/LF,
// quotes, angle brackets or commas can get through). The apostrophe stays
// allowed: it is an ordinary atext character (o'brien@…) and harmless in a
// header. net/mail is the second opinion on the syntax.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fieldErr(FieldEmail, KeyRequired)
	}
	if len(s) > MaxEmail {
		return "", fieldErr(FieldEmail, KeyEmailTooLong)
	}
	// ASCII only, checked before lower-casing: strings.ToLower would turn
	// the Kelvin sign into "k" and let a look-alike pass as another address.
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return "", fieldErr(FieldEmail, KeyEmailFormat)
		}
	}
	s = strings.ToLower(s)
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") || !validLocal(local) || !validDomain(domain) {
		return "", fieldErr(FieldEmail, KeyEmailFormat)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fieldErr(FieldEmail, KeyEmailFormat)
	}
	return s, nil
}

// validLocal accepts an RFC 5322 dot-atom of ASCII atext, at most 64
// octets (RFC 5321 §4.5.3.1.1).
func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) || c >= 'a' && c <= 'z' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validDomain accepts a host name of at least two LDH labels (RFC 1035
// §2.3.1), the last one not numeric. Internationalized domains are typed
// in their xn-- form.
func validDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(isDigit(c) || c >= 'a' && c <= 'z' || c == '-') {
				return false
			}
		}
	}
	return !allDigits(labels[len(labels)-1])
}

// Phone normalizes an Indonesian number to E.164 (+62…). Accepted: national
// form with the trunk 0 ("0812-3456-7890", "(021) 1234567"), international
// form with or without + ("+62 812 3456 7890", "62812…", "+62 (0)812…").
// Spaces, dashes, dots and parentheses are separators. The national
// significant number must be 8–13 digits and cannot start with 0, so
// "+620…" and the "0062…" dialling prefix are refused.
func Phone(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || r == '-' || r == '.' {
			continue
		}
		b.WriteRune(r)
	}
	s = b.String()
	if s == "" {
		return "", fieldErr(FieldPhone, KeyRequired)
	}
	// "+62 (0)812…" is a common way of writing both forms at once.
	for _, p := range []string{"+62(0)", "62(0)"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			s = "+62" + rest
			break
		}
	}
	s = strings.NewReplacer("(", "", ")", "").Replace(s)
	var nsn string
	switch {
	case strings.HasPrefix(s, "+62"):
		nsn = s[3:]
	case strings.HasPrefix(s, "62"):
		nsn = s[2:]
	case strings.HasPrefix(s, "0"):
		nsn = s[1:]
	default:
		return "", fieldErr(FieldPhone, KeyPhoneFormat)
	}
	if len(nsn) < 8 || len(nsn) > 13 || !allDigits(nsn) || nsn[0] == '0' {
		return "", fieldErr(FieldPhone, KeyPhoneFormat)
	}
	return "+62" + nsn, nil
}

// Name checks free text such as a company name, a person's name or a
// position: trimmed, runs of white space (including tabs and line breaks)
// collapsed to one space, 1..max runes. Control and format characters
// (C0/C1, zero-width, bidi overrides that can disguise a name) and invalid
// UTF-8 are refused.
//
// HTML-special characters are allowed on purpose: "PT A & B" is a real
// company name, and html/template escapes everything it prints (ASVS
// 1.2.1), so refusing '<' would only hide the real defence. Whatever the
// data goes into (HTML, mail headers, claims) must encode for that context.
func Name(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", fieldErr(field, KeyInvalidChars)
	}
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	if s == "" {
		return "", fieldErr(field, KeyRequired)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return "", fieldErr(field, KeyInvalidChars)
		}
	}
	if utf8.RuneCountInString(s) > max {
		return "", &FieldError{Field: field, Key: KeyTooLong, Args: []any{max}}
	}
	return s, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allDigits reports whether s is non-empty ASCII digits; unicode.IsDigit
// would let other scripts' digits through into stored numbers.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func stripSpaces(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), "")
}
