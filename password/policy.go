package password

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The password policy of ASVS 6.2: a minimum length, a maximum that only
// guards the hash, no composition rules (a long lower-case passphrase is
// fine, ASVS 6.2.5), no common passwords (6.2.4) and nothing taken from the
// account itself (6.2.11). It applies wherever a person chooses a password:
// activation, reset, change, and the admin command.

const (
	// MinLength is in characters (runes), as people count them (ASVS 6.2.1).
	MinLength = 8
	// RecommendedLength is what the forms suggest: ASVS 6.2.1 recommends
	// 15, and a phrase of a few words reaches it easily.
	RecommendedLength = 15
)

// Message keys of the policy's refusals, in the templates' catalogs
// (templates/messages/*/password.json).
const (
	KeyRequired = "password.policy.required"
	KeyTooShort = "password.policy.too_short" // Arg: MinLength
	KeyTooLong  = "password.policy.too_long"  // Arg: MaxLength
	KeyCommon   = "password.policy.common"
	KeyPersonal = "password.policy.personal"
)

// PolicyError says why CheckPolicy refused a password: Key is the catalog
// message for the user, Arg its number (0 if it takes none). Error() is
// English for logs and the command line; it never contains the password.
type PolicyError struct {
	Key string
	Arg int
}

func (e *PolicyError) Error() string {
	switch e.Key {
	case KeyRequired:
		return "the password is empty"
	case KeyTooShort:
		return fmt.Sprintf("the password must have at least %d characters", e.Arg)
	case KeyTooLong:
		return fmt.Sprintf("the password must have at most %d bytes", e.Arg)
	case KeyCommon:
		return "the password is too common: it is in the list of the most used passwords"
	case KeyPersonal:
		return "the password must not be the username or the email address"
	}
	return "the password is refused by the policy"
}

// CheckPolicy returns nil if pw may be set, or a *PolicyError. context are
// the account's own words (username, email, name): a password equal to one
// of them, or to an email's local part, is refused. pw is checked exactly
// as typed: nothing is trimmed or folded before it is hashed (ASVS 6.2.8);
// the case folding here only widens what is refused.
func CheckPolicy(pw string, context ...string) error {
	switch n := utf8.RuneCountInString(pw); {
	case pw == "":
		return &PolicyError{Key: KeyRequired}
	case n < MinLength:
		return &PolicyError{Key: KeyTooShort, Arg: MinLength}
	case len(pw) > MaxLength:
		return &PolicyError{Key: KeyTooLong, Arg: MaxLength}
	}
	forms := variants(pw)
	for _, c := range context {
		for _, word := range contextWords(c) {
			for _, f := range forms {
				if f == word {
					return &PolicyError{Key: KeyPersonal}
				}
			}
		}
	}
	if IsCommon(pw) {
		return &PolicyError{Key: KeyCommon}
	}
	return nil
}

// IsCommon reports whether pw is, ignoring case, spaces and digits or
// punctuation around it, one of the bundled common passwords, or a single
// character repeated.
func IsCommon(pw string) bool {
	list := commonList()
	for _, f := range variants(pw) {
		if _, ok := list[f]; ok {
			return true
		}
	}
	lower := strings.ToLower(pw)
	first, _ := utf8.DecodeRuneInString(lower)
	return strings.Trim(lower, string(first)) == "" // "aaaaaaaa", "........"
}

// variants returns the forms of pw compared with the list: lower case,
// without spaces ("i love you"), and with the digits and punctuation people
// add to satisfy old composition rules cut off ("Password123!",
// "!jakarta2024"). Empty forms are left out.
func variants(pw string) []string {
	lower := strings.ToLower(pw)
	forms := []string{lower}
	add := func(s string) {
		if s == "" {
			return
		}
		for _, f := range forms {
			if f == s {
				return
			}
		}
		forms = append(forms, s)
	}
	compact := strings.Join(strings.Fields(lower), "")
	add(compact)
	for _, s := range []string{lower, compact} {
		add(strings.TrimRightFunc(s, isPunct))                                      // "12345678!"
		add(strings.TrimRightFunc(s, isDecoration))                                 // "password123!"
		add(strings.TrimFunc(s, isDecoration))                                      // "!!password1"
		add(strings.TrimRightFunc(strings.TrimRightFunc(s, isPunct), isDecoration)) // "jakarta 2024 !"
	}
	return forms
}

func isPunct(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r) }

func isDecoration(r rune) bool { return unicode.IsDigit(r) || isPunct(r) }

// contextWords returns the lower-cased words of one context string: the
// string itself and, for an email address, its local part. Words shorter
// than 3 characters are ignored: they would not match a valid password.
func contextWords(c string) []string {
	c = strings.ToLower(strings.TrimSpace(c))
	if utf8.RuneCountInString(c) < 3 {
		return nil
	}
	words := []string{c}
	if at := strings.LastIndexByte(c, '@'); at >= 3 {
		words = append(words, c[:at])
	}
	if compact := strings.Join(strings.Fields(c), ""); compact != c {
		words = append(words, compact) // "Budi Santoso" → "budisantoso"
	}
	return words
}

//go:embed common.txt
var commonTxt []byte

// commonList is the parsed list, built on first use and kept: about 3600
// short strings.
var commonList = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 4096)
	sc := bufio.NewScanner(bytes.NewReader(commonTxt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = struct{}{}
	}
	return m
})
