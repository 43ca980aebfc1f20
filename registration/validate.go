package registration

import (
	"strings"
	"unicode"

	"satupintu/storage"
	"satupintu/storage/validate"
)

// FieldError is a validation failure of one form field: the domain's
// (storage/validate), so the wizard, the account pages and the admin API
// read one type. Key is a message catalog key, never user-facing text.
type FieldError = validate.FieldError

// FieldErrors is every problem of a multi-field value (an address).
type FieldErrors = validate.FieldErrors

// Form field names, as the wizard's inputs are named (snake case of the
// storage.Registration fields). NIK and passport share the identity number
// field because the wizard has one input whose meaning the identity type sets.
const (
	FieldPurpose        = "purpose"
	FieldTraderType     = "trader_type"
	FieldNIBType        = "nib_type"
	FieldNIB            = validate.FieldNIB
	FieldNPWPType       = validate.FieldNPWPType
	FieldNPWP           = validate.FieldNPWP
	FieldOrgName        = "org_name"
	FieldBusinessType   = "business_type"
	FieldStreet         = "street"
	FieldCity           = "city"
	FieldProvince       = "province"
	FieldPostalCode     = "postal_code"
	FieldCountry        = "country"
	FieldFullName       = "full_name"
	FieldPosition       = "position"
	FieldIdentityType   = validate.FieldIdentityType
	FieldIdentityNumber = validate.FieldIdentityNumber
	FieldEmail          = validate.FieldEmail
	FieldPhone          = validate.FieldPhone
	FieldDocument       = "document"
	FieldServiceNumber  = "service_number"
)

// Length limits in runes, exported so the pages can set the same maxlength
// (the server check is the one that counts: ASVS 2.2.2).
const (
	MaxOrgName  = 200
	MaxFullName = 100
	MaxPosition = 100
	MaxStreet   = 300
	MaxCity     = 100
	MaxProvince = 100
	MaxEmail    = validate.MaxEmail
)

// Message catalog keys of validation errors. The UI adds one entry per key
// in every language; TestMessageKeys checks that every key a validator can
// return is listed in MessageKeys.
const (
	KeyRequired             = validate.KeyRequired               // the field is empty
	KeyTooLong              = validate.KeyTooLong                // more runes than Args[0]
	KeyInvalidChars         = validate.KeyInvalidChars           // control/format characters or invalid UTF-8
	KeyChoice               = validate.KeyChoice                 // not one of the offered options
	KeyNIBDigits            = validate.KeyNIBDigits              // NIB is not 13 digits
	KeyNPWP15Digits         = validate.KeyNPWP15Digits           // not 15 digits nor 99.999.999.9-999.999
	KeyNPWP16Digits         = validate.KeyNPWP16Digits           // not 16 digits
	KeyNIKDigits            = validate.KeyNIKDigits              // NIK is not 16 digits
	KeyNIKInvalid           = validate.KeyNIKInvalid             // 16 digits but all zero or no province code
	KeyPassportFormat       = validate.KeyPassportFormat         // not 6–9 letters/digits with a digit
	KeyEmailFormat          = validate.KeyEmailFormat            // not a plain address
	KeyEmailTooLong         = validate.KeyEmailTooLong           // over MaxEmail
	KeyPhoneFormat          = validate.KeyPhoneFormat            // not an Indonesian number
	KeyPostalCode           = "reg.error.postal_code"            // not a 5-digit Indonesian postal code
	KeyCountry              = "reg.error.country"                // not an ISO 3166-1 alpha-2 code
	KeyFileEmpty            = "reg.error.file_empty"             // zero bytes uploaded
	KeyFileTooLarge         = "reg.error.file_too_large"         // over MaxDocumentSize
	KeyFileType             = "reg.error.file_type"              // not a PDF, JPEG or PNG by content
	KeyFileActiveContent    = "reg.error.file_active_content"    // PDF with JavaScript, launch actions or attachments
	KeyFileMalware          = "reg.error.file_malware"           // malware signature (EICAR test string)
	KeyFileRead             = "reg.error.file_read"              // the upload broke off (broken multipart, I/O)
	KeyServiceNumberInvalid = "reg.error.service_number_invalid" // wrong format, date or check character
)

// ErrorKeys lists every error key above.
var ErrorKeys = []string{
	KeyRequired, KeyTooLong, KeyInvalidChars, KeyChoice,
	KeyNIBDigits, KeyNPWP15Digits, KeyNPWP16Digits, KeyNIKDigits, KeyNIKInvalid,
	KeyPassportFormat, KeyEmailFormat, KeyEmailTooLong, KeyPhoneFormat,
	KeyPostalCode, KeyCountry,
	KeyFileEmpty, KeyFileTooLarge, KeyFileType, KeyFileActiveContent, KeyFileMalware, KeyFileRead,
	KeyServiceNumberInvalid,
}

// MessageKeys is every catalog key this package hands to the UI: the error
// keys and the label of every option. The UI's catalog test can require
// each to exist in every language.
var MessageKeys = func() []string {
	keys := append([]string(nil), ErrorKeys...)
	for _, opts := range []Options{Purposes, TraderTypes, NIBTypes, NPWPTypes, BusinessTypes, IdentityTypes} {
		for _, o := range opts {
			keys = append(keys, o.Label)
		}
	}
	return keys
}()

func fieldErr(field, key string) *FieldError { return &FieldError{Field: field, Key: key} }

// The value checks are the domain's (storage/validate); the wizard calls
// them under its own names.

// NIB checks a Nomor Induk Berusaha (validate.NIB).
func NIB(s string) (string, error) { return validate.NIB(s) }

// NPWP checks a tax number of the given type (validate.NPWP).
func NPWP(kind, s string) (string, error) { return validate.NPWP(kind, s) }

// NIK checks a Nomor Induk Kependudukan (validate.NIK).
func NIK(s string) (string, error) { return validate.NIK(s) }

// Passport checks a passport number (validate.Passport).
func Passport(s string) (string, error) { return validate.Passport(s) }

// Identity checks the identity number by its type (validate.Identity).
func Identity(kind, s string) (string, error) { return validate.Identity(kind, s) }

// Email checks and lower-cases an address (validate.Email).
func Email(s string) (string, error) { return validate.Email(s) }

// Phone normalizes an Indonesian number to E.164 (validate.Phone).
func Phone(s string) (string, error) { return validate.Phone(s) }

// Name checks free text of at most max runes (validate.Name).
func Name(field, s string, max int) (string, error) { return validate.Name(field, s, max) }

// Address checks a postal address and reports every bad field at once (a
// FieldErrors). Street, city and province are required free text; the
// country defaults to "ID" and must be an ISO 3166-1 alpha-2 code; an
// Indonesian postal code is five digits not starting with 0 (they run from
// 10110 to 99xxx), a foreign one is 2–10 letters, digits, spaces or dashes.
// Registrants hold a NIB, so the address is almost always Indonesian; the
// foreign case exists for the representative offices' head office.
func Address(a storage.Address) (storage.Address, error) {
	var errs FieldErrors
	text := func(field, s string, max int) string {
		v, err := Name(field, s, max)
		if err != nil {
			errs = append(errs, err.(*FieldError))
		}
		return v
	}
	out := storage.Address{
		Street:   text(FieldStreet, a.Street, MaxStreet),
		City:     text(FieldCity, a.City, MaxCity),
		Province: text(FieldProvince, a.Province, MaxProvince),
	}
	out.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	if out.Country == "" {
		out.Country = "ID"
	}
	if len(out.Country) != 2 || !isUpper(out.Country[0]) || !isUpper(out.Country[1]) {
		errs = append(errs, fieldErr(FieldCountry, KeyCountry))
	}
	pc := strings.ToUpper(strings.Join(strings.Fields(a.PostalCode), " "))
	switch {
	case pc == "":
		errs = append(errs, fieldErr(FieldPostalCode, KeyRequired))
	case out.Country == "ID":
		if len(pc) != 5 || !allDigits(pc) || pc[0] == '0' {
			errs = append(errs, fieldErr(FieldPostalCode, KeyPostalCode))
		}
	default:
		if !foreignPostalCode(pc) {
			errs = append(errs, fieldErr(FieldPostalCode, KeyPostalCode))
		}
	}
	out.PostalCode = pc
	if len(errs) > 0 {
		return storage.Address{}, errs
	}
	return out, nil
}

func foreignPostalCode(s string) bool {
	if len(s) < 2 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isDigit(c) || isUpper(c) || c == ' ' || c == '-') {
			return false
		}
	}
	return true
}

// Option is one choice of a wizard step: Code is stored and compared, Label
// is the catalog key of its display text.
type Option struct {
	Code  string
	Label string
}

// Options is an ordered list of choices, in the order the page shows them.
type Options []Option

// Codes returns the codes, for Choice.
func (o Options) Codes() []string {
	codes := make([]string, len(o))
	for i, opt := range o {
		codes[i] = opt.Code
	}
	return codes
}

// The option lists. Codes are stable: they are stored in registrations and
// some travel to relying parties as claims (trader type), so a code is never
// renamed, only added; display text lives in the catalog under Label.
var (
	// Purposes is the purpose of use (step 2). "transaksi" is the manual's
	// Transaksi (Pengajuan/Umum): a trader submitting documents. "informasi"
	// is an organization that only follows its own data and public
	// information (tracking, reports) without submitting; it goes through
	// the same verification, and relying parties see the purpose and decide
	// what to allow. Government agencies (K/L) and officers are not
	// self-registered: an administrator creates them.
	Purposes = Options{
		{"transaksi", "reg.purpose.transaksi"},
		{"informasi", "reg.purpose.informasi"},
	}
	// TraderTypes is the jenis trader (step 4); relying parties receive it.
	TraderTypes = Options{
		{"importir", "reg.trader.importir"},
		{"eksportir", "reg.trader.eksportir"},
		{"importir_eksportir", "reg.trader.importir_eksportir"}, // one company doing both
		{"ppjk", "reg.trader.ppjk"},                             // customs broker (Pengusaha Pengurusan Jasa Kepabeanan)
		{"pengangkut", "reg.trader.pengangkut"},                 // carrier or its shipping agent
		{"pengusaha_tps", "reg.trader.pengusaha_tps"},           // temporary storage (Tempat Penimbunan Sementara) operator
		{"kawasan_berikat", "reg.trader.kawasan_berikat"},       // bonded zone operator
		{"lainnya", "reg.trader.lainnya"},
	}
	// NIBTypes is the jenis NIB (step 5). Both kinds are the same 13 digits;
	// "oss" is a NIB issued by OSS RBA (since 2021), "non_oss" one issued
	// before it or outside it and not yet migrated, which officers check
	// by hand.
	NIBTypes = Options{
		{"oss", "reg.nib_type.oss"},
		{"non_oss", "reg.nib_type.non_oss"},
	}
	// NPWPTypes is the jenis NPWP (step 7): the code is its digit count.
	NPWPTypes = Options{
		{"15", "reg.npwp_type.15"},
		{"16", "reg.npwp_type.16"},
	}
	// BusinessTypes is the jenis usaha (step 10), the legal form.
	BusinessTypes = Options{
		{"pt", "reg.business.pt"},                 // Perseroan Terbatas
		{"cv", "reg.business.cv"},                 // Commanditaire Vennootschap
		{"firma", "reg.business.firma"},           // Firma
		{"koperasi", "reg.business.koperasi"},     // cooperative
		{"perorangan", "reg.business.perorangan"}, // sole proprietorship (usaha perseorangan)
		{"bumn", "reg.business.bumn"},             // state-owned enterprise
		{"bumd", "reg.business.bumd"},             // regional government enterprise
		{"yayasan", "reg.business.yayasan"},       // foundation
		{"perwakilan_asing", "reg.business.perwakilan_asing"},
		{"lainnya", "reg.business.lainnya"},
	}
	// IdentityTypes is the identity of the person in charge (step 13).
	IdentityTypes = Options{
		{"nik", "reg.identity.nik"},
		{"passport", "reg.identity.passport"},
	}
)

// Choice checks that s (trimmed, compared case-insensitively) is one of
// allowed and returns the allowed spelling. The options come from radio
// buttons, so anything else is a forged or stale form.
func Choice(field, s string, allowed []string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fieldErr(field, KeyRequired)
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, nil
		}
	}
	return "", fieldErr(field, KeyChoice)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

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
