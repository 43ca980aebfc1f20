package registration

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var serviceNumberFormat = regexp.MustCompile(`^SP-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{9}$`)

// numberFor builds a valid service number from chosen parts.
func numberFor(date, random string) string {
	return "SP-" + date + "-" + random + string(luhn32Check(date+random))
}

func TestNewServiceNumber(t *testing.T) {
	for _, c := range []struct {
		name string
		now  time.Time
		date string
	}{
		{"Jakarta afternoon", time.Date(2026, 11, 22, 14, 0, 0, 0, jakarta), "20261122"},
		{"UTC evening is the next day in Jakarta", time.Date(2026, 11, 21, 17, 0, 0, 0, time.UTC), "20261122"},
		{"UTC just before 17:00 is still the same day", time.Date(2026, 11, 21, 16, 59, 59, 0, time.UTC), "20261121"},
		{"new year in Jakarta", time.Date(2026, 12, 31, 17, 30, 0, 0, time.UTC), "20270101"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := NewServiceNumber(c.now)
			if !serviceNumberFormat.MatchString(n) || n[3:11] != c.date {
				t.Errorf("NewServiceNumber = %q, want SP-%s-XXXXXXXXC", n, c.date)
			}
			if got, err := NormalizeServiceNumber(n); err != nil || got != n {
				t.Errorf("NormalizeServiceNumber(%q) = %q, %v", n, got, err)
			}
		})
	}
}

func TestNewServiceNumberUnique(t *testing.T) {
	now := time.Now()
	seen := make(map[string]bool, 10000)
	for range 10000 {
		n := NewServiceNumber(now)
		if seen[n] {
			t.Fatalf("duplicate service number %q", n)
		}
		seen[n] = true
	}
}

func TestNormalizeServiceNumber(t *testing.T) {
	canonical := numberFor("20261122", "01234567") // has 0 and 1 to mistype
	body := strings.TrimPrefix(strings.ReplaceAll(canonical, "-", ""), "SP")
	badDate := numberFor("20261322", "7K3M9QX2")
	for _, c := range []struct {
		name, in string
		want     result
	}{
		{"canonical", canonical, ok(canonical)},
		{"lower case and spaces", "  " + strings.ToLower(canonical) + " ", ok(canonical)},
		{"without dashes", "SP" + body, ok(canonical)},
		{"without SP", body, ok(canonical)},
		{"grouped differently", "SP 2026-1122 " + body[8:12] + " " + body[12:], ok(canonical)},
		{"O for 0 and I, L for 1", "SP-2O26ll22-" + strings.NewReplacer("0", "O", "1", "I").Replace(body[8:]), ok(canonical)},
		{"lower-case confusables", strings.ToLower("SP-2O26II22-" + strings.NewReplacer("0", "o", "1", "l").Replace(body[8:])), ok(canonical)},
		{"missing check character", canonical[:len(canonical)-1], bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"extra character", canonical + "0", bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"impossible date", badDate, bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"U is not Crockford", "SP-20261122-U" + body[9:], bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"punctuation", "SP-20261122-0123456;", bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"letter in the date", "SP-2026112A-" + body[8:], bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"non-ASCII look-alike", "SP-20261122-" + strings.Replace(body[8:], "1", "\u0131", 1), bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"other prefix", "XX-20261122-" + body[8:], bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"SQL", "' OR 1=1 --", bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"very long", strings.Repeat("SP", 10000), bad(FieldServiceNumber, KeyServiceNumberInvalid)},
		{"empty", " - ", bad(FieldServiceNumber, KeyRequired)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := got(NormalizeServiceNumber(c.in))
			if r != c.want {
				t.Errorf("NormalizeServiceNumber(%q) = %+v, want %+v", c.in, r, c.want)
			}
			checkListed(t, r)
		})
	}
}

// TestServiceNumberCheckCharacter: Luhn mod 32 must catch every single
// substituted character, in the date, the random part and the check itself.
func TestServiceNumberCheckCharacter(t *testing.T) {
	for range 20 {
		n := NewServiceNumber(time.Now())
		body := []byte(n[3:11] + n[12:])
		for i := range body {
			for j := 0; j < len(crockford); j++ {
				if crockford[j] == body[i] {
					continue
				}
				typo := append([]byte(nil), body...)
				typo[i] = crockford[j]
				if _, err := NormalizeServiceNumber(string(typo)); err == nil {
					t.Fatalf("%s with position %d changed to %c (%s) is accepted", n, i, crockford[j], typo)
				}
			}
		}
	}
	// Adjacent swaps: Luhn mod N misses only a swap of the symbols whose
	// values are 0 and N-1 ("0" and "Z"), so nearly all are caught.
	var swaps, caught int
	for range 200 {
		n := NewServiceNumber(time.Now())
		body := []byte(n[3:11] + n[12:])
		for i := 0; i+1 < len(body); i++ {
			if body[i] == body[i+1] {
				continue
			}
			typo := append([]byte(nil), body...)
			typo[i], typo[i+1] = typo[i+1], typo[i]
			swaps++
			if _, err := NormalizeServiceNumber(string(typo)); err != nil {
				caught++
			}
		}
	}
	if caught*100 < swaps*99 {
		t.Errorf("only %d of %d adjacent swaps caught", caught, swaps)
	}
}

func TestNormalizeServiceNumberError(t *testing.T) {
	_, err := NormalizeServiceNumber("nope")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != FieldServiceNumber {
		t.Fatalf("error %v is not a *FieldError on %s", err, FieldServiceNumber)
	}
}
