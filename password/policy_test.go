package password

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckPolicy(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		context []string
		want    string // PolicyError key; "" for accepted
		arg     int
	}{
		{"empty password is required", "", nil, KeyRequired, 0},
		{"seven characters are too short", "bukan12", nil, KeyTooShort, MinLength},
		{"length counts characters, not bytes", "kopi☕☕", nil, KeyTooShort, MinLength},
		{"eight uncommon characters are accepted", "t7#kq2vm", nil, "", 0},
		{"a 20-character lower-case passphrase needs no digits or symbols", "kereta pagi ke bogor", nil, "", 0},
		{"a long unicode phrase is accepted", "kopi ☕ di teras rumah nenek", nil, "", 0},
		{"64 characters are accepted", strings.Repeat("kata sandi ", 6) + "pan", nil, "", 0},
		{"MaxLength bytes are accepted", strings.Repeat("ab", MaxLength/2), nil, "", 0},
		{"more than MaxLength bytes are refused", strings.Repeat("ab", MaxLength/2) + "c", nil, KeyTooLong, MaxLength},
		{"password is common", "password", nil, KeyCommon, 0},
		{"password1 is common", "password1", nil, KeyCommon, 0},
		{"case does not matter", "Password1", nil, KeyCommon, 0},
		{"P@ssw0rd is common", "P@ssw0rd", nil, KeyCommon, 0},
		{"Password123! is common (ASVS 6.2.4 example)", "Password123!", nil, KeyCommon, 0},
		{"qwertyuiop123 is common (ASVS 6.2.4 example)", "qwertyuiop123", nil, KeyCommon, 0},
		{"12345678 is common", "12345678", nil, KeyCommon, 0},
		{"iloveyou is common", "iloveyou", nil, KeyCommon, 0},
		{"spaces do not hide a common password", "I Love You", nil, KeyCommon, 0},
		{"sayangku is common", "sayangku", nil, KeyCommon, 0},
		{"bismillah is common", "Bismillah", nil, KeyCommon, 0},
		{"indonesia with a year is common", "Indonesia1945", nil, KeyCommon, 0},
		{"a listed word with digits and a symbol around it is common", "!Jakarta2024", nil, KeyCommon, 0},
		{"rahasia is common", "rahasia123", nil, KeyCommon, 0},
		{"katasandi is common", "katasandi", nil, KeyCommon, 0},
		{"merdeka is common", "MERDEKA45", nil, KeyCommon, 0},
		{"admin123 is common", "admin123", nil, KeyCommon, 0},
		{"the service's name is common", "SatuPintu2025", nil, KeyCommon, 0},
		{"one character repeated is refused", "zzzzzzzzzzzz", nil, KeyCommon, 0},
		{"a common word inside a phrase is fine", "password kuda baterai", nil, "", 0},
		{"the username is refused", "sitirahma", []string{"sitirahma", "siti@contoh.co.id"}, KeyPersonal, 0},
		{"the username with digits is refused", "SitiRahma2025", []string{"sitirahma"}, KeyPersonal, 0},
		{"the email is refused", "Siti.Rahma@Contoh.co.id", []string{"siti", "siti.rahma@contoh.co.id"}, KeyPersonal, 0},
		{"the email's local part is refused", "siti.rahma", []string{"siti.rahma@contoh.co.id"}, KeyPersonal, 0},
		{"the full name without spaces is refused", "budisantoso", []string{"budi", "budi@contoh.co.id", "Budi Santoso"}, KeyPersonal, 0},
		{"a phrase containing the username is fine", "budi suka kopi tubruk", []string{"budi"}, "", 0},
		{"empty context words are ignored", "t7#kq2vm", []string{"", "  "}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPolicy(tc.pw, tc.context...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckPolicy = %v, want accepted", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPolicy = %v, want *PolicyError %s", err, tc.want)
			}
			if pe.Key != tc.want || pe.Arg != tc.arg {
				t.Fatalf("CheckPolicy = {%s %d}, want {%s %d}", pe.Key, pe.Arg, tc.want, tc.arg)
			}
		})
	}
}

func TestPolicyErrorNeverHoldsThePassword(t *testing.T) {
	for _, pw := range []string{"", "short1", "Rahasia2024!", "sitirahma99", strings.Repeat("x", MaxLength+1)} {
		err := CheckPolicy(pw, "sitirahma")
		if err == nil {
			t.Fatalf("CheckPolicy(%q) accepted", pw)
		}
		if pw != "" && strings.Contains(err.Error(), pw) {
			t.Errorf("error %q contains the password", err)
		}
	}
}

// TestCommonList checks the bundled file itself: big enough to matter,
// lower case (the check folds the input, not the list), no duplicates.
func TestCommonList(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(commonTxt))
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if s != strings.ToLower(s) || s != strings.TrimSpace(s) || !utf8.ValidString(s) {
			t.Errorf("line %d: %q is not a clean lower-case entry", line, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("line %d: %q repeats line %d", line, s, prev)
		}
		seen[s] = line
	}
	if len(seen) < 3000 {
		t.Errorf("%d common passwords; the policy promises the top 3000", len(seen))
	}
	if len(commonList()) != len(seen) {
		t.Errorf("parsed %d entries, file has %d", len(commonList()), len(seen))
	}
	for _, must := range []string{"123456", "password", "qwerty", "iloveyou", "p@ssw0rd", "sayang", "bismillah", "indonesia", "rahasia", "katasandi", "merdeka", "admin123"} {
		if _, ok := seen[must]; !ok {
			t.Errorf("%q is missing from the list", must)
		}
	}
}
