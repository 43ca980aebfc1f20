package registration

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"satupintu/storage"
)

// Fuzz targets of the validators (validate.go). For every input: no panic,
// the same answer twice; a refusal is a *FieldError with a listed key and
// no value; an accepted value has the documented shape, is valid UTF-8
// without control or format characters, and validates to itself
// (normalization is idempotent, so a stored value survives a round trip
// through the form).

// checkValidator checks fn(s) against the properties above; shape is the
// form of an accepted value.
func checkValidator(t *testing.T, s string, fn func(string) (string, error), shape *regexp.Regexp) {
	t.Helper()
	out, err := fn(s)
	if out2, err2 := fn(s); out2 != out || fmt.Sprint(err2) != fmt.Sprint(err) {
		t.Fatalf("(%q) = %q, %v, then %q, %v", s, out, err, out2, err2)
	}
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) || !slices.Contains(ErrorKeys, fe.Key) || out != "" {
			t.Fatalf("(%q) = %q, %v: want a listed *FieldError and no value", s, out, err)
		}
		return
	}
	checkClean(t, s, out)
	if !shape.MatchString(out) {
		t.Fatalf("(%q) = %q, not of the form %s", s, out, shape)
	}
	if again, err := fn(out); err != nil || again != out {
		t.Fatalf("(%q) = %q, which validates to %q, %v", s, out, again, err)
	}
}

// checkClean: an accepted value is valid UTF-8 with no control or format
// characters.
func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("(%q) = %q: invalid UTF-8", in, out)
	}
	for _, r := range out {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("(%q) = %q: control or format character %U", in, out, r)
		}
	}
}

var (
	nibShape      = regexp.MustCompile(`^[0-9]{13}$`)
	npwp15Shape   = regexp.MustCompile(`^[0-9]{15}$`)
	npwp16Shape   = regexp.MustCompile(`^[0-9]{16}$`)
	nikShape      = regexp.MustCompile(`^[1-35-9][1-9][0-9]{14}$`)
	passportShape = regexp.MustCompile(`^[A-Z0-9]*[0-9][A-Z0-9]*$`)
	emailShape    = regexp.MustCompile("^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9-]+(\\.[a-z0-9-]+)+$")
	phoneShape    = regexp.MustCompile(`^\+62[1-9][0-9]{7,12}$`)
	postalID      = regexp.MustCompile(`^[1-9][0-9]{4}$`)
	postalForeign = regexp.MustCompile(`^[A-Z0-9 -]{2,10}$`)
	countryShape  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// validatorSeed is an input of a validator fuzz target and whether the
// validator accepts it.
type validatorSeed struct {
	target, name string
	args         []string
	ok           bool
}

var validatorSeedList = []validatorSeed{
	{"FuzzValidateNIB", "valid", []string{"9120001234567"}, true},
	{"FuzzValidateNIB", "spaces", []string{"  9120001234567\t"}, true},
	{"FuzzValidateNIB", "arabic-indic-digits", []string{"٩١٢٠٠٠١٢٣٤٥٦٧"}, false},
	{"FuzzValidateNIB", "dashes", []string{"912-0001234567"}, false},
	{"FuzzValidateNPWP", "15-formatted", []string{"15", "01.234.567.8-901.000"}, true},
	{"FuzzValidateNPWP", "16-grouped", []string{"16", "3171 0123 4567 8901"}, true},
	{"FuzzValidateNPWP", "half-formatted", []string{"15", "01234567.8-901.000"}, false},
	{"FuzzValidateNPWP", "unknown-kind", []string{"17", "012345678901000"}, false},
	{"FuzzValidateNIK", "valid", []string{"3171 2345 6789 0001"}, true},
	{"FuzzValidateNIK", "zeros", []string{"0000000000000000"}, false},
	{"FuzzValidateNIK", "province-40", []string{"4071234567890001"}, false},
	{"FuzzValidatePassport", "lower-case", []string{" xb 123456 "}, true},
	{"FuzzValidatePassport", "letters-only", []string{"ABCDEFG"}, false},
	{"FuzzValidatePassport", "fullwidth", []string{"ＡＢ１２３４５６"}, false},
	{"FuzzValidateEmail", "mixed-case", []string{"  Budi.Santoso@Contoh.CO.ID "}, true},
	{"FuzzValidateEmail", "kelvin-sign", []string{"\u212aelvin@example.com"}, false},
	{"FuzzValidateEmail", "display-name", []string{"Budi <budi@contoh.co.id>"}, false},
	{"FuzzValidateEmail", "crlf", []string{"budi@contoh.co.id\r\nBcc: x@y.z"}, false},
	{"FuzzValidatePhone", "with-zero-in-brackets", []string{"+62 (0)812 3456 7890"}, true},
	{"FuzzValidatePhone", "landline-dots", []string{"021.1234.567"}, true},
	{"FuzzValidatePhone", "dialling-prefix", []string{"0062812345678"}, false},
	{"FuzzValidateName", "collapsed", []string{"  PT   Contoh\tNiaga \n"}, true},
	{"FuzzValidateName", "markup-kept", []string{"PT A & B <Jaya>"}, true},
	{"FuzzValidateName", "bidi-override", []string{"PT \u202eAgaiN"}, false},
	{"FuzzValidateName", "invalid-utf8", []string{"PT \xff"}, false},
	{"FuzzValidateAddress", "jakarta", []string{"Jl. Merdeka No. 1", "Jakarta Pusat", "DKI Jakarta", "10110", ""}, true},
	{"FuzzValidateAddress", "foreign", []string{"1 Raffles Place", "Singapore", "Singapore", " 048616 ", "sg"}, true},
	{"FuzzValidateAddress", "bad-postal-code", []string{"Jl. A", "B", "C", "01234", "ID"}, false},
	{"FuzzValidateAddress", "nul-in-street", []string{"Jl.\x00A", "B", "C", "12345", "ID"}, false},
}

// validatorSeeds are validatorSeedList as seed files, each checked to be
// accepted or refused as listed.
func validatorSeeds() []corpusSeed {
	var seeds []corpusSeed
	for _, s := range validatorSeedList {
		args := make([]any, len(s.args))
		for i, a := range s.args {
			args[i] = a
		}
		s := s
		seeds = append(seeds, corpusSeed{s.target, s.name, args, func(args []any) error {
			strs := make([]string, len(args))
			for i, a := range args {
				strs[i] = a.(string)
			}
			if err := validatorFor(s.target)(strs); (err == nil) != s.ok {
				return fmt.Errorf("accepted %v, want %v (%v)", err == nil, s.ok, err)
			}
			return nil
		}})
	}
	return seeds
}

// validatorFor runs the validator of a target on its arguments.
func validatorFor(target string) func(args []string) error {
	one := func(fn func(string) (string, error)) func([]string) error {
		return func(a []string) error { _, err := fn(a[0]); return err }
	}
	switch target {
	case "FuzzValidateNIB":
		return one(NIB)
	case "FuzzValidateNPWP":
		return func(a []string) error { _, err := NPWP(a[0], a[1]); return err }
	case "FuzzValidateNIK":
		return one(NIK)
	case "FuzzValidatePassport":
		return one(Passport)
	case "FuzzValidateEmail":
		return one(Email)
	case "FuzzValidatePhone":
		return one(Phone)
	case "FuzzValidateName":
		return func(a []string) error { _, err := Name(FieldOrgName, a[0], MaxOrgName); return err }
	case "FuzzValidateAddress":
		return func(a []string) error {
			_, err := Address(storage.Address{Street: a[0], City: a[1], Province: a[2], PostalCode: a[3], Country: a[4]})
			return err
		}
	}
	panic("no validator for " + target)
}

// addSeeds adds the target's seeds with f.Add.
func addSeeds(f *testing.F, target string) {
	for _, s := range validatorSeedList {
		if s.target != target {
			continue
		}
		args := make([]any, len(s.args))
		for i, a := range s.args {
			args[i] = a
		}
		f.Add(args...)
	}
}

func FuzzValidateNIB(f *testing.F) {
	addSeeds(f, "FuzzValidateNIB")
	f.Fuzz(func(t *testing.T, s string) { checkValidator(t, s, NIB, nibShape) })
}

func FuzzValidateNPWP(f *testing.F) {
	addSeeds(f, "FuzzValidateNPWP")
	f.Fuzz(func(t *testing.T, kind, s string) {
		shape := npwp15Shape
		if kind == "16" {
			shape = npwp16Shape
		}
		checkValidator(t, s, func(s string) (string, error) { return NPWP(kind, s) }, shape)
	})
}

func FuzzValidateNIK(f *testing.F) {
	addSeeds(f, "FuzzValidateNIK")
	f.Fuzz(func(t *testing.T, s string) { checkValidator(t, s, NIK, nikShape) })
}

func FuzzValidatePassport(f *testing.F) {
	addSeeds(f, "FuzzValidatePassport")
	f.Fuzz(func(t *testing.T, s string) {
		checkValidator(t, s, Passport, passportShape)
		if out, err := Passport(s); err == nil && (len(out) < 6 || len(out) > 9) {
			t.Fatalf("Passport(%q) = %q: not 6–9 characters", s, out)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	addSeeds(f, "FuzzValidateEmail")
	f.Fuzz(func(t *testing.T, s string) {
		checkValidator(t, s, Email, emailShape)
		if out, err := Email(s); err == nil && len(out) > MaxEmail {
			t.Fatalf("Email(%q) = %q: longer than %d", s, out, MaxEmail)
		}
	})
}

func FuzzValidatePhone(f *testing.F) {
	addSeeds(f, "FuzzValidatePhone")
	f.Fuzz(func(t *testing.T, s string) { checkValidator(t, s, Phone, phoneShape) })
}

// nameShape is what Name returns: no white space but single spaces between
// words.
var nameShape = regexp.MustCompile(`^[^\s](?:[^\s]| [^\s])*$`)

func FuzzValidateName(f *testing.F) {
	addSeeds(f, "FuzzValidateName")
	f.Fuzz(func(t *testing.T, s string) {
		for _, max := range []int{MaxFullName, MaxStreet} {
			name := func(s string) (string, error) { return Name(FieldFullName, s, max) }
			checkValidator(t, s, name, nameShape)
			out, err := name(s)
			if err != nil {
				continue
			}
			if n := utf8.RuneCountInString(out); n > max {
				t.Fatalf("Name(%q) = %d runes, max %d", s, n, max)
			}
			if strings.ContainsFunc(out, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) {
				t.Fatalf("Name(%q) = %q: white space other than single spaces", s, out)
			}
		}
	})
}

func FuzzValidateAddress(f *testing.F) {
	addSeeds(f, "FuzzValidateAddress")
	f.Fuzz(func(t *testing.T, street, city, province, postal, country string) {
		in := storage.Address{Street: street, City: city, Province: province, PostalCode: postal, Country: country}
		out, err := Address(in)
		if out2, err2 := Address(in); out2 != out || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("Address(%+v) unstable", in)
		}
		if err != nil {
			var fes FieldErrors
			if !errors.As(err, &fes) || len(fes) == 0 || out != (storage.Address{}) {
				t.Fatalf("Address(%+v) = %+v, %v: want FieldErrors and no value", in, out, err)
			}
			for _, fe := range fes {
				if !slices.Contains(ErrorKeys, fe.Key) {
					t.Fatalf("unlisted key %q", fe.Key)
				}
			}
			return
		}
		for _, v := range []string{out.Street, out.City, out.Province, out.PostalCode, out.Country} {
			checkClean(t, fmt.Sprintf("%+v", in), v)
		}
		for _, v := range []string{out.Street, out.City, out.Province} {
			if !nameShape.MatchString(v) {
				t.Fatalf("Address(%+v): %q is not trimmed and collapsed", in, v)
			}
		}
		postalShape := postalForeign
		if out.Country == "ID" {
			postalShape = postalID
		}
		if !countryShape.MatchString(out.Country) || !postalShape.MatchString(out.PostalCode) {
			t.Fatalf("Address(%+v) = %+v", in, out)
		}
		if again, err := Address(out); err != nil || again != out {
			t.Fatalf("Address(%+v) = %+v, which validates to %+v, %v", in, out, again, err)
		}
	})
}
