package registration

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"satupintu/storage"
)

// result is what a validator call gave back, reduced to what the page uses.
type result struct {
	out   string
	field string
	key   string
}

func got(out string, err error) result {
	if err == nil {
		return result{out: out}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return result{key: "not a *FieldError: " + err.Error()}
	}
	return result{out: out, field: fe.Field, key: fe.Key}
}

func ok(out string) result         { return result{out: out} }
func bad(field, key string) result { return result{field: field, key: key} }
func listed(key string) bool       { return slices.Contains(MessageKeys, key) }
func checkListed(t *testing.T, r result) {
	t.Helper()
	if r.key != "" && !listed(r.key) {
		t.Errorf("key %q is returned but not in MessageKeys", r.key)
	}
}

type validatorCase struct {
	name string
	in   string
	want result
}

func runCases(t *testing.T, fn func(string) (string, error), cases []validatorCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := got(fn(c.in))
			if r != c.want {
				t.Errorf("(%q) = %+v, want %+v", c.in, r, c.want)
			}
			checkListed(t, r)
		})
	}
}

func TestNIB(t *testing.T) {
	runCases(t, NIB, []validatorCase{
		{"13 digits are accepted", "9120001234567", ok("9120001234567")},
		{"surrounding spaces are trimmed", "  9120001234567\t", ok("9120001234567")},
		{"12 digits are refused", "912000123456", bad(FieldNIB, KeyNIBDigits)},
		{"14 digits are refused", "91200012345678", bad(FieldNIB, KeyNIBDigits)},
		{"digits grouped with spaces are accepted", "8120 3098 76543", ok("8120309876543")},
		{"tabs and non-breaking spaces are dropped", "8120\t3098\u00a076543", ok("8120309876543")},
		{"dash is refused", "912000-1234567", bad(FieldNIB, KeyNIBDigits)},
		{"letter is refused", "912000123456O", bad(FieldNIB, KeyNIBDigits)},
		{"non-ASCII digits are refused", "٩١٢٠٠٠١٢٣٤٥٦٧", bad(FieldNIB, KeyNIBDigits)},
		{"full-width digits are refused", "９１２０００１２３４５６７", bad(FieldNIB, KeyNIBDigits)},
		{"empty is required", "", bad(FieldNIB, KeyRequired)},
		{"only spaces is required", "   ", bad(FieldNIB, KeyRequired)},
		{"script is refused", "<script>", bad(FieldNIB, KeyNIBDigits)},
	})
}

func TestNPWP(t *testing.T) {
	for _, c := range []struct {
		name, kind, in string
		want           result
	}{
		{"15 digits", "15", "012345678901000", ok("012345678901000")},
		{"15 formatted", "15", "01.234.567.8-901.000", ok("012345678901000")},
		{"15 formatted with spaces around", "15", " 01.234.567.8-901.000 ", ok("012345678901000")},
		{"15 grouped with spaces", "15", "012 345 678 901 000", ok("012345678901000")},
		{"15: 14 digits", "15", "01234567890100", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: 16 digits", "15", "0123456789010001", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: half formatted", "15", "01234567.8-901.000", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: wrong punctuation", "15", "01-234-567-8.901-000", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: formatted with a letter", "15", "01.234.567.8-901.00A", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: formatted but too long", "15", "01.234.567.8-901.0000", bad(FieldNPWP, KeyNPWP15Digits)},
		{"15: empty", "15", "", bad(FieldNPWP, KeyRequired)},
		{"16 digits", "16", "0012345678901000", ok("0012345678901000")},
		{"16 with spaces", "16", "3171 0123 4567 8901", ok("3171012345678901")},
		{"16: 15 digits", "16", "012345678901000", bad(FieldNPWP, KeyNPWP16Digits)},
		{"16: 17 digits", "16", "00123456789010001", bad(FieldNPWP, KeyNPWP16Digits)},
		{"16: dots are not accepted", "16", "0.012345678901000", bad(FieldNPWP, KeyNPWP16Digits)},
		{"16: empty", "16", " ", bad(FieldNPWP, KeyRequired)},
		{"unknown type", "17", "012345678901000", bad(FieldNPWPType, KeyChoice)},
		{"empty type", "", "012345678901000", bad(FieldNPWPType, KeyChoice)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := got(NPWP(c.kind, c.in))
			if r != c.want {
				t.Errorf("NPWP(%q, %q) = %+v, want %+v", c.kind, c.in, r, c.want)
			}
			checkListed(t, r)
		})
	}
}

func TestNIK(t *testing.T) {
	runCases(t, NIK, []validatorCase{
		{"16 digits", "3171234567890001", ok("3171234567890001")},
		{"grouped with spaces", "3171 2345 6789 0001", ok("3171234567890001")},
		{"Aceh 11", "1101014501900001", ok("1101014501900001")},
		{"Papua Barat Daya 96", "9601010101900001", ok("9601010101900001")},
		{"15 digits", "317123456789000", bad(FieldIdentityNumber, KeyNIKDigits)},
		{"17 digits", "31712345678900011", bad(FieldIdentityNumber, KeyNIKDigits)},
		{"letter", "317123456789000X", bad(FieldIdentityNumber, KeyNIKDigits)},
		{"all zero", "0000000000000000", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"province 00", "0071234567890001", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"province 05", "0571234567890001", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"province 10", "1071234567890001", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"province 41", "4171234567890001", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"province 90", "9071234567890001", bad(FieldIdentityNumber, KeyNIKInvalid)},
		{"empty", "", bad(FieldIdentityNumber, KeyRequired)},
	})
}

func TestPassport(t *testing.T) {
	runCases(t, Passport, []validatorCase{
		{"Indonesian one letter", "A1234567", ok("A1234567")},
		{"Indonesian two letters", "XB123456", ok("XB123456")},
		{"lower case is upper-cased", "xb123456", ok("XB123456")},
		{"spaces are dropped", " XB 123456 ", ok("XB123456")},
		{"6 characters", "C12345", ok("C12345")},
		{"9 characters (foreign)", "123456789", ok("123456789")},
		{"5 characters", "A1234", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"10 characters", "AB12345678", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"no digit", "ABCDEFG", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"dash", "A-123456", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"non-ASCII letter", "Ä1234567", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"empty", "", bad(FieldIdentityNumber, KeyRequired)},
	})
}

func TestIdentity(t *testing.T) {
	for _, c := range []struct {
		kind, in string
		want     result
	}{
		{"nik", "3171234567890001", ok("3171234567890001")},
		{"nik", "A1234567", bad(FieldIdentityNumber, KeyNIKDigits)},
		{"passport", "a1234567", ok("A1234567")},
		{"passport", "3171234567890001", bad(FieldIdentityNumber, KeyPassportFormat)},
		{"sim", "3171234567890001", bad(FieldIdentityType, KeyChoice)},
	} {
		if r := got(Identity(c.kind, c.in)); r != c.want {
			t.Errorf("Identity(%q, %q) = %+v, want %+v", c.kind, c.in, r, c.want)
		}
	}
}

func TestEmail(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".id"
	if len(long) != MaxEmail {
		t.Fatalf("test setup: len = %d", len(long))
	}
	runCases(t, Email, []validatorCase{
		{"plain", "budi@contoh.co.id", ok("budi@contoh.co.id")},
		{"lower-cased and trimmed", "  Budi.Santoso@Contoh.CO.ID ", ok("budi.santoso@contoh.co.id")},
		{"plus and apostrophe", "o'brien+insw@example.com", ok("o'brien+insw@example.com")},
		{"254 characters", long, ok(long)},
		{"255 characters", "a" + long, bad(FieldEmail, KeyEmailTooLong)},
		{"local part over 64", strings.Repeat("a", 65) + "@example.com", bad(FieldEmail, KeyEmailFormat)},
		{"no at", "budi.contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"two ats", "budi@x@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"no dot in domain", "budi@localhost", bad(FieldEmail, KeyEmailFormat)},
		{"empty local", "@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"empty label", "budi@contoh..id", bad(FieldEmail, KeyEmailFormat)},
		{"leading dot", ".budi@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"double dot", "bu..di@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"hyphen label edge", "budi@-contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"numeric TLD", "budi@10.0.0.1", bad(FieldEmail, KeyEmailFormat)},
		{"IP literal", "budi@[10.0.0.1]", bad(FieldEmail, KeyEmailFormat)},
		{"inner space", "budi santoso@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"display name", "Budi <budi@contoh.co.id>", bad(FieldEmail, KeyEmailFormat)},
		{"angle brackets", "<budi@contoh.co.id>", bad(FieldEmail, KeyEmailFormat)},
		{"CRLF header injection", "budi@contoh.co.id\r\nBcc: x@evil.example", bad(FieldEmail, KeyEmailFormat)},
		{"LF inside", "budi\n@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"comma list", "budi@contoh.co.id,x@evil.example", bad(FieldEmail, KeyEmailFormat)},
		{"quoted local part", `"budi santoso"@contoh.co.id`, bad(FieldEmail, KeyEmailFormat)},
		{"comment", "budi(comment)@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"NUL", "budi\x00@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"unicode domain", "budi@contoh.co.íd", bad(FieldEmail, KeyEmailFormat)},
		{"Kelvin sign is not folded to k", "\u212aarin@contoh.co.id", bad(FieldEmail, KeyEmailFormat)},
		{"empty", " ", bad(FieldEmail, KeyRequired)},
	})
}

func TestPhone(t *testing.T) {
	runCases(t, Phone, []validatorCase{
		{"mobile with dashes", "0812-3456-7890", ok("+6281234567890")},
		{"mobile with spaces", "0812 3456 7890", ok("+6281234567890")},
		{"international with spaces", "+62 812 3456 7890", ok("+6281234567890")},
		{"international without plus", "6281234567890", ok("+6281234567890")},
		{"international with (0)", "+62 (0)812 3456 7890", ok("+6281234567890")},
		{"Jakarta landline", "(021) 1234567", ok("+62211234567")},
		{"landline with dots", "021.1234.567", ok("+62211234567")},
		{"8-digit national number", "022123456", ok("+6222123456")},
		{"13-digit national number", "08123456789012", ok("+628123456789012")},
		{"7-digit national number", "01234567", bad(FieldPhone, KeyPhoneFormat)},
		{"14-digit national number", "081234567890123", bad(FieldPhone, KeyPhoneFormat)},
		{"+620", "+620812345678", bad(FieldPhone, KeyPhoneFormat)},
		{"0062 dialling prefix", "0062812345678", bad(FieldPhone, KeyPhoneFormat)},
		{"another country", "+65 6123 4567", bad(FieldPhone, KeyPhoneFormat)},
		{"no trunk prefix", "812345678", bad(FieldPhone, KeyPhoneFormat)},
		{"letters", "0812-CALL-NOW", bad(FieldPhone, KeyPhoneFormat)},
		{"extension", "021 1234567 ext 12", bad(FieldPhone, KeyPhoneFormat)},
		{"plus in the middle", "0812+3456789", bad(FieldPhone, KeyPhoneFormat)},
		{"CRLF", "0812345678\r\n", ok("+62812345678")},
		{"empty", "  ", bad(FieldPhone, KeyRequired)},
	})
}

func TestName(t *testing.T) {
	runCases(t, func(s string) (string, error) { return Name(FieldOrgName, s, 20) }, []validatorCase{
		{"plain", "PT Contoh Niaga", ok("PT Contoh Niaga")},
		{"trimmed and collapsed", "  PT   Contoh\tNiaga \n", ok("PT Contoh Niaga")},
		{"line breaks collapse", "PT Contoh\r\nNiaga", ok("PT Contoh Niaga")},
		{"ampersand and brackets are kept", "PT A & B <Jaya>", ok("PT A & B <Jaya>")},
		{"script text is kept for escaping", "<script>x</script>", ok("<script>x</script>")},
		{"template syntax is kept literally", "{{7*7}} ${7*7}", ok("{{7*7}} ${7*7}")},
		{"non-ASCII letters", "Koperasi Ñusantara", ok("Koperasi Ñusantara")},
		{"exactly max runes", strings.Repeat("é", 20), ok(strings.Repeat("é", 20))},
		{"one rune over", strings.Repeat("é", 21), bad(FieldOrgName, KeyTooLong)},
		{"NUL", "PT\x00Contoh", bad(FieldOrgName, KeyInvalidChars)},
		{"escape", "PT\x1b[31mContoh", bad(FieldOrgName, KeyInvalidChars)},
		{"C1 control", "PT\u0085Contoh", ok("PT Contoh")}, // NEL is white space
		{"C1 control that is not white space", "PT\u0080Contoh", bad(FieldOrgName, KeyInvalidChars)},
		{"DEL", "PT\x7fContoh", bad(FieldOrgName, KeyInvalidChars)},
		{"bidi override", "PT \u202eContoh", bad(FieldOrgName, KeyInvalidChars)},
		{"zero-width space", "PT\u200bContoh", bad(FieldOrgName, KeyInvalidChars)},
		{"invalid UTF-8", "PT \xff Contoh", bad(FieldOrgName, KeyInvalidChars)},
		{"empty", "", bad(FieldOrgName, KeyRequired)},
		{"white space only", " \t\n", bad(FieldOrgName, KeyRequired)},
	})
	_, err := Name(FieldFullName, strings.Repeat("a", 101), MaxFullName)
	var fe *FieldError
	if !errors.As(err, &fe) || !reflect.DeepEqual(fe.Args, []any{MaxFullName}) {
		t.Errorf("too long: error %v, want Args [%d] for the message", err, MaxFullName)
	}
}

func TestAddress(t *testing.T) {
	for _, c := range []struct {
		name string
		in   storage.Address
		want storage.Address
		errs []result // field and key of each error, in order
	}{
		{
			name: "Indonesian address, country defaults to ID",
			in:   storage.Address{Street: " Jl. Medan Merdeka Barat No. 1 ", City: "Jakarta Pusat", Province: "DKI Jakarta", PostalCode: " 10110 "},
			want: storage.Address{Street: "Jl. Medan Merdeka Barat No. 1", City: "Jakarta Pusat", Province: "DKI Jakarta", PostalCode: "10110", Country: "ID"},
		},
		{
			name: "lower-case country",
			in:   storage.Address{Street: "Jl. A", City: "Surabaya", Province: "Jawa Timur", PostalCode: "60111", Country: "id"},
			want: storage.Address{Street: "Jl. A", City: "Surabaya", Province: "Jawa Timur", PostalCode: "60111", Country: "ID"},
		},
		{
			name: "foreign head office",
			in:   storage.Address{Street: "1 Raffles Place", City: "Singapore", Province: "Singapore", PostalCode: "048616", Country: "SG"},
			want: storage.Address{Street: "1 Raffles Place", City: "Singapore", Province: "Singapore", PostalCode: "048616", Country: "SG"},
		},
		{
			name: "every field missing is reported at once",
			in:   storage.Address{},
			errs: []result{bad(FieldStreet, KeyRequired), bad(FieldCity, KeyRequired), bad(FieldProvince, KeyRequired), bad(FieldPostalCode, KeyRequired)},
		},
		{
			name: "4-digit postal code",
			in:   storage.Address{Street: "Jl. A", City: "B", Province: "C", PostalCode: "1011"},
			errs: []result{bad(FieldPostalCode, KeyPostalCode)},
		},
		{
			name: "6-digit postal code",
			in:   storage.Address{Street: "Jl. A", City: "B", Province: "C", PostalCode: "101100"},
			errs: []result{bad(FieldPostalCode, KeyPostalCode)},
		},
		{
			name: "postal code starting with 0",
			in:   storage.Address{Street: "Jl. A", City: "B", Province: "C", PostalCode: "01011"},
			errs: []result{bad(FieldPostalCode, KeyPostalCode)},
		},
		{
			name: "bad country and control character",
			in:   storage.Address{Street: "Jl.\x00A", City: "B", Province: "C", PostalCode: "10110", Country: "IDN"},
			errs: []result{bad(FieldStreet, KeyInvalidChars), bad(FieldCountry, KeyCountry)},
		},
		{
			name: "foreign postal code with punctuation",
			in:   storage.Address{Street: "A", City: "B", Province: "C", PostalCode: "12;34", Country: "SG"},
			errs: []result{bad(FieldPostalCode, KeyPostalCode)},
		},
		{
			name: "street too long",
			in:   storage.Address{Street: strings.Repeat("x", MaxStreet+1), City: "B", Province: "C", PostalCode: "10110"},
			errs: []result{bad(FieldStreet, KeyTooLong)},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := Address(c.in)
			if c.errs == nil {
				if err != nil || a != c.want {
					t.Fatalf("Address = %+v, %v; want %+v", a, err, c.want)
				}
				return
			}
			var fes FieldErrors
			if !errors.As(err, &fes) {
				t.Fatalf("Address error = %v, want FieldErrors", err)
			}
			var rs []result
			for _, fe := range fes {
				r := result{field: fe.Field, key: fe.Key}
				checkListed(t, r)
				rs = append(rs, r)
			}
			if !reflect.DeepEqual(rs, c.errs) {
				t.Errorf("errors = %+v, want %+v", rs, c.errs)
			}
			if a != (storage.Address{}) {
				t.Errorf("address returned with errors: %+v", a)
			}
		})
	}
}

func TestChoice(t *testing.T) {
	for _, c := range []struct {
		name    string
		field   string
		in      string
		allowed []string
		want    result
	}{
		{"known trader type", FieldTraderType, "importir", TraderTypes.Codes(), ok("importir")},
		{"case and spaces forgiven", FieldTraderType, " PPJK ", TraderTypes.Codes(), ok("ppjk")},
		{"purpose", FieldPurpose, "transaksi", Purposes.Codes(), ok("transaksi")},
		{"NPWP type", FieldNPWPType, "16", NPWPTypes.Codes(), ok("16")},
		{"unknown", FieldBusinessType, "llc", BusinessTypes.Codes(), bad(FieldBusinessType, KeyChoice)},
		{"label is not a code", FieldIdentityType, "reg.identity.nik", IdentityTypes.Codes(), bad(FieldIdentityType, KeyChoice)},
		{"empty", FieldNIBType, "", NIBTypes.Codes(), bad(FieldNIBType, KeyRequired)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := got(Choice(c.field, c.in, c.allowed))
			if r != c.want {
				t.Errorf("Choice(%q, %q) = %+v, want %+v", c.field, c.in, r, c.want)
			}
			checkListed(t, r)
		})
	}
}

// TestOptions keeps the option lists fit to be stored and looked up: codes
// unique, lower-case identifiers (or the NPWP digit counts), labels under
// the reg. namespace.
func TestOptions(t *testing.T) {
	code := regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	for name, opts := range map[string]Options{
		"Purposes": Purposes, "TraderTypes": TraderTypes, "NIBTypes": NIBTypes,
		"NPWPTypes": NPWPTypes, "BusinessTypes": BusinessTypes, "IdentityTypes": IdentityTypes,
	} {
		seen := map[string]bool{}
		for _, o := range opts {
			if !code.MatchString(o.Code) || seen[o.Code] {
				t.Errorf("%s: bad or duplicate code %q", name, o.Code)
			}
			seen[o.Code] = true
			if !strings.HasPrefix(o.Label, "reg.") || !strings.HasSuffix(o.Label, "."+o.Code) {
				t.Errorf("%s: label %q does not follow reg.<list>.<code>", name, o.Label)
			}
		}
	}
	// The storage layer and the NPWP/Identity validators rely on these.
	if !slices.Equal(NPWPTypes.Codes(), []string{"15", "16"}) || !slices.Equal(IdentityTypes.Codes(), []string{"nik", "passport"}) {
		t.Errorf("NPWPTypes/IdentityTypes changed: %v %v", NPWPTypes.Codes(), IdentityTypes.Codes())
	}
	if !slices.Contains(Purposes.Codes(), "transaksi") {
		t.Error(`Purposes lacks "transaksi" (Transaksi (Pengajuan/Umum))`)
	}
}

// TestMessageKeys checks the list the UI engineer builds the catalog from:
// well-formed, unique, and every error key reachable from some input.
func TestMessageKeys(t *testing.T) {
	key := regexp.MustCompile(`^reg\.[a-z_]+\.[a-z0-9_]+$`)
	seen := map[string]bool{}
	for _, k := range MessageKeys {
		if !key.MatchString(k) || seen[k] {
			t.Errorf("bad or duplicate key %q", k)
		}
		seen[k] = true
	}
	big := make([]byte, MaxDocumentSize+1)
	reached := map[string]bool{}
	note := func(_ any, err error) {
		var fe *FieldError
		var fes FieldErrors
		switch {
		case errors.As(err, &fes):
			for _, e := range fes {
				reached[e.Key] = true
			}
		case errors.As(err, &fe):
			reached[fe.Key] = true
		}
	}
	note(NIB(""))
	note(Name(FieldOrgName, "abc", 2))
	note(Name(FieldOrgName, "a\x00", 2))
	note(Choice(FieldPurpose, "x", Purposes.Codes()))
	note(NIB("1"))
	note(NPWP("15", "1"))
	note(NPWP("16", "1"))
	note(NIK("1"))
	note(NIK("0000000000000000"))
	note(Passport("A"))
	note(Email("a"))
	note(Email(strings.Repeat("a", 255)))
	note(Phone("1"))
	note(Address(storage.Address{Street: "a", City: "b", Province: "c", PostalCode: "1", Country: "XXX"}))
	note(ReadDocument(strings.NewReader(""), ""))
	note(ReadDocument(strings.NewReader(string(big)), ""))
	note(ReadDocument(strings.NewReader("MZ"), ""))
	note(ReadDocument(strings.NewReader(minimalPDF("/OpenAction << /S /JavaScript /JS (app.alert(1)) >>")), ""))
	note(ReadDocument(strings.NewReader(minimalPDF("")+string(eicar)), ""))
	note(ReadDocument(&failingReader{}, ""))
	note(NormalizeServiceNumber("SP-1"))
	for _, k := range ErrorKeys {
		if !reached[k] {
			t.Errorf("error key %q is listed but no test input reaches it", k)
		}
	}
}

func TestFieldErrorText(t *testing.T) {
	// The text is for logs: field and key, never a user-facing sentence
	// (the type is the domain's, storage/validate).
	e := &FieldError{Field: FieldNIB, Key: KeyNIBDigits}
	if e.Error() != "validate: nib: reg.error.nib_digits" {
		t.Errorf("Error() = %q", e.Error())
	}
	es := FieldErrors{e, {Field: FieldCity, Key: KeyRequired}}
	if es.Error() != "validate: nib: reg.error.nib_digits; validate: city: reg.error.required" {
		t.Errorf("FieldErrors.Error() = %q", es.Error())
	}
	_, err := ReadDocument(&failingReader{}, "")
	if !strings.Contains(err.Error(), errBroken.Error()) {
		t.Errorf("read error hides its cause: %q", err)
	}
}
