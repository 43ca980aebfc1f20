package registration

import (
	"errors"
	"maps"
	"time"
	"unicode/utf8"

	"satupintu/storage"
)

// The wizard's business rules live here, apart from HTTP: which steps
// exist and in what order, what each one asks, when a step counts as
// complete, and how a finished draft becomes a storage.Registration. The
// handlers in wizard.go only move form values in and pages out.

// Step slugs, as they appear in /register/{step}. Indonesian, like the rest
// of what the registrant sees; they never change once published, since
// people bookmark and share them.
const (
	StepPurpose  = "tujuan"
	StepTrader   = "trader"
	StepNIB      = "nib"
	StepNPWP     = "npwp"
	StepOrg      = "organisasi"
	StepAddress  = "alamat"
	StepPerson   = "penanggung-jawab"
	StepContact  = "kontak"
	StepVerify   = "verifikasi" // the code sent to the email (wizard_verify.go)
	StepDocument = "dokumen"
	StepTerms    = "persetujuan"
	StepConfirm  = "konfirmasi"
	StepDone     = "selesai"
)

// The terms checkbox of the persetujuan step: not a registration field,
// only a condition of submitting.
const (
	fieldTerms      = "terms"
	termsAcceptedOn = "yes" // its value when ticked
)

// maxStoredValue bounds what a draft keeps of one typed value. Every
// accepted value is far shorter (the longest, the street, is 300 runes), so
// cutting there never turns a bad value into a good one, and a draft cannot
// be grown to the body limit per field.
const maxStoredValue = 2048

// fieldCode is the verification code of the verifikasi step: not a
// registration field, and never stored in the draft as typed.
const fieldCode = "code"

// field is one input of a step.
type field struct {
	name         string // form field name, one of the Field… constants
	kind         string // "text", "textarea", "email", "tel", "radio", "file", "checkbox"
	max          int    // maxlength for the browser; the server check is in validate
	autocomplete string
	inputMode    string
	options      Options // for radio
	hint         bool    // a "reg.hint.<name>" text is shown under the label
}

// step is one screen of the wizard. validate checks the step's values in
// d, normalizing them in place, and returns every problem found.
type step struct {
	slug     string
	fields   []field
	validate func(d *draft) []*FieldError
}

// steps is the wizard in order, as the 2023 manual walks it (steps 2–16
// of "Tata Cara Pendaftaran"), with the manual's one-question screens
// grouped where the questions belong together: NIB type with the NIB, the
// organization's name with its legal form, the person's name with the
// identity. konfirmasi is last; selesai is not a step but the result.
var steps = []step{
	{slug: StepPurpose, fields: []field{{name: FieldPurpose, kind: "radio", options: Purposes}},
		validate: func(d *draft) []*FieldError { return d.choice(FieldPurpose, Purposes) }},
	{slug: StepTrader, fields: []field{{name: FieldTraderType, kind: "radio", options: TraderTypes}},
		validate: func(d *draft) []*FieldError { return d.choice(FieldTraderType, TraderTypes) }},
	{slug: StepNIB, fields: []field{
		{name: FieldNIBType, kind: "radio", options: NIBTypes},
		{name: FieldNIB, kind: "text", max: 20, autocomplete: "off", inputMode: "numeric", hint: true},
	}, validate: func(d *draft) []*FieldError {
		errs := d.choice(FieldNIBType, NIBTypes)
		return append(errs, d.check(FieldNIB, NIB)...)
	}},
	{slug: StepNPWP, fields: []field{
		{name: FieldNPWPType, kind: "radio", options: NPWPTypes},
		{name: FieldNPWP, kind: "text", max: 30, autocomplete: "off", inputMode: "numeric", hint: true},
	}, validate: func(d *draft) []*FieldError {
		errs := d.choice(FieldNPWPType, NPWPTypes)
		if len(errs) > 0 {
			// Which rule applies depends on the type; only an empty
			// number can be reported without it.
			if d.Values[FieldNPWP] == "" {
				errs = append(errs, fieldErr(FieldNPWP, KeyRequired))
			}
			return errs
		}
		kind := d.Values[FieldNPWPType]
		return d.check(FieldNPWP, func(s string) (string, error) { return NPWP(kind, s) })
	}},
	{slug: StepOrg, fields: []field{
		{name: FieldOrgName, kind: "text", max: MaxOrgName, autocomplete: "organization"},
		{name: FieldBusinessType, kind: "radio", options: BusinessTypes},
	}, validate: func(d *draft) []*FieldError {
		errs := d.name(FieldOrgName, MaxOrgName)
		return append(errs, d.choice(FieldBusinessType, BusinessTypes)...)
	}},
	{slug: StepAddress, fields: []field{
		{name: FieldStreet, kind: "textarea", max: MaxStreet, autocomplete: "street-address"},
		{name: FieldCity, kind: "text", max: MaxCity, autocomplete: "address-level2"},
		{name: FieldProvince, kind: "text", max: MaxProvince, autocomplete: "address-level1"},
		{name: FieldPostalCode, kind: "text", max: 10, autocomplete: "postal-code", hint: true},
		{name: FieldCountry, kind: "text", max: 2, autocomplete: "country", hint: true},
	}, validate: (*draft).address},
	{slug: StepPerson, fields: []field{
		{name: FieldFullName, kind: "text", max: MaxFullName, autocomplete: "name"},
		{name: FieldPosition, kind: "text", max: MaxPosition, autocomplete: "organization-title"},
		{name: FieldIdentityType, kind: "radio", options: IdentityTypes},
		{name: FieldIdentityNumber, kind: "text", max: 20, autocomplete: "off", hint: true},
	}, validate: func(d *draft) []*FieldError {
		errs := d.name(FieldFullName, MaxFullName)
		errs = append(errs, d.name(FieldPosition, MaxPosition)...)
		typeErrs := d.choice(FieldIdentityType, IdentityTypes)
		errs = append(errs, typeErrs...)
		if len(typeErrs) > 0 {
			if d.Values[FieldIdentityNumber] == "" {
				errs = append(errs, fieldErr(FieldIdentityNumber, KeyRequired))
			}
			return errs
		}
		kind := d.Values[FieldIdentityType]
		return append(errs, d.check(FieldIdentityNumber, func(s string) (string, error) { return Identity(kind, s) })...)
	}},
	{slug: StepContact, fields: []field{
		{name: FieldEmail, kind: "email", max: MaxEmail, autocomplete: "email", hint: true},
		{name: FieldPhone, kind: "tel", max: 25, autocomplete: "tel", hint: true},
	}, validate: func(d *draft) []*FieldError {
		errs := d.check(FieldEmail, Email)
		return append(errs, d.check(FieldPhone, Phone)...)
	}},
	// The email must be proven before anything larger than a form is
	// stored: the letter upload comes after it (wizard_verify.go).
	{slug: StepVerify, fields: []field{
		{name: fieldCode, kind: "text", max: codeDigits, autocomplete: "one-time-code", inputMode: "numeric", hint: true},
	}, validate: func(d *draft) []*FieldError {
		if !d.emailVerified() {
			return []*FieldError{fieldErr(fieldCode, keyCodeRequired)}
		}
		return nil
	}},
	{slug: StepDocument, fields: []field{{name: FieldDocument, kind: "file", hint: true}},
		validate: func(d *draft) []*FieldError {
			if d.Document == nil {
				return []*FieldError{fieldErr(FieldDocument, KeyRequired)}
			}
			return nil
		}},
	{slug: StepTerms, fields: []field{{name: fieldTerms, kind: "checkbox"}},
		validate: func(d *draft) []*FieldError {
			if !d.Terms {
				return []*FieldError{fieldErr(fieldTerms, keyTermsRequired)}
			}
			return nil
		}},
	{slug: StepConfirm, validate: func(*draft) []*FieldError { return nil }},
}

// keyTermsRequired is the wizard's own error for the unticked terms box.
const keyTermsRequired = "reg.error.terms_required"

// stepIndex returns the position of slug in steps, or -1.
func stepIndex(slug string) int {
	for i, s := range steps {
		if s.slug == slug {
			return i
		}
	}
	return -1
}

// draft is a registration in progress, as kept in the ephemeral store
// (JSON under "reg-draft:"+id). Values holds what the registrant typed,
// keyed by form field name: as typed after Back or a failed Next, in
// normal form after a successful Next. Only the current step's fields are
// ever copied in from a form, so no request can set anything else (ASVS
// 8.2.3). The letter's bytes are kept in durable storage
// (storage.DraftDocuments, keyed by the draft id); Document only describes
// them. The whole draft is at most maxDraftBytes once encoded.
type draft struct {
	Version  int               `json:"v"`
	Values   map[string]string `json:"values"`
	Terms    bool              `json:"terms,omitempty"`
	Document *draftDocument    `json:"document,omitempty"`
	// DocumentLost says the stored letter expired or broke before the
	// draft did, so the upload step asks for it again with a reason.
	DocumentLost bool `json:"document_lost,omitempty"`
	// EmailVerified is the (normalized) address whose code was entered;
	// the verifikasi step is complete while it is the draft's email.
	EmailVerified string `json:"email_verified,omitempty"`
	// Code is the verification code last sent, if any.
	Code *draftCode `json:"code,omitempty"`
	// Upstream is the identity provider sign-in that started the draft
	// (prefill.go), if any.
	Upstream  *draftUpstream `json:"upstream,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// draftVersion changes when the draft's shape does; an older draft is
// treated as expired rather than misread.
const draftVersion = 2

// draftDocument describes the letter stored for the draft in
// storage.DraftDocuments.
type draftDocument struct {
	FileName    string    `json:"file_name"`    // sanitized (SanitizeFileName)
	ContentType string    `json:"content_type"` // sniffed
	Size        int       `json:"size"`
	SHA256      string    `json:"sha256"` // checked against the stored bytes before submission
	SavedAt     time.Time `json:"saved_at"`
}

func newDraft(now time.Time) *draft {
	return &draft{Version: draftVersion, Values: map[string]string{}, CreatedAt: now, UpdatedAt: now}
}

// clone returns a deep copy, so validation can normalize without touching
// what the registrant typed.
func (d *draft) clone() *draft {
	c := *d
	c.Values = maps.Clone(d.Values)
	if c.Values == nil {
		c.Values = map[string]string{}
	}
	if d.Document != nil {
		doc := *d.Document
		c.Document = &doc
	}
	if d.Code != nil {
		code := *d.Code
		c.Code = &code
	}
	return &c
}

// set stores a typed value, cut to maxStoredValue bytes on a rune boundary.
func (d *draft) set(name, value string) {
	if len(value) > maxStoredValue {
		value = value[:maxStoredValue]
		for len(value) > 0 && !utf8.ValidString(value) {
			value = value[:len(value)-1]
		}
	}
	d.Values[name] = value
}

// apply copies the posted values of step s's fields into d. The document
// is not a form value: the upload handler stores it itself.
func (d *draft) apply(s step, get func(string) string) {
	for _, f := range s.fields {
		switch {
		case f.name == fieldCode:
			// Checked by postVerify against the code sent, never kept.
		case f.kind == "file":
		case f.kind == "checkbox":
			d.Terms = get(f.name) == termsAcceptedOn
		default:
			d.set(f.name, get(f.name))
		}
	}
}

// check runs a validator on one value, storing the normal form on success.
func (d *draft) check(name string, fn func(string) (string, error)) []*FieldError {
	v, err := fn(d.Values[name])
	if err != nil {
		return asFieldErrors(name, err)
	}
	d.Values[name] = v
	return nil
}

func (d *draft) choice(name string, opts Options) []*FieldError {
	return d.check(name, func(s string) (string, error) { return Choice(name, s, opts.Codes()) })
}

func (d *draft) name(name string, max int) []*FieldError {
	return d.check(name, func(s string) (string, error) { return Name(name, s, max) })
}

func (d *draft) address() []*FieldError {
	a, err := Address(d.addressValues())
	if err != nil {
		return asFieldErrors(FieldStreet, err)
	}
	d.Values[FieldStreet], d.Values[FieldCity], d.Values[FieldProvince] = a.Street, a.City, a.Province
	d.Values[FieldPostalCode], d.Values[FieldCountry] = a.PostalCode, a.Country
	return nil
}

func (d *draft) addressValues() storage.Address {
	return storage.Address{
		Street:     d.Values[FieldStreet],
		City:       d.Values[FieldCity],
		Province:   d.Values[FieldProvince],
		PostalCode: d.Values[FieldPostalCode],
		Country:    d.Values[FieldCountry],
	}
}

// asFieldErrors flattens a validator's error. Validators only return
// *FieldError or FieldErrors; anything else would be a bug, reported on
// field as a generic required-field error rather than silently passing.
func asFieldErrors(field string, err error) []*FieldError {
	var fes FieldErrors
	if errors.As(err, &fes) {
		return fes
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Field: field, Key: KeyRequired, Err: err}}
}

// validateStep checks step i of d without changing d: the normalized copy
// and the problems found.
func validateStep(d *draft, i int) (*draft, []*FieldError) {
	c := d.clone()
	return c, steps[i].validate(c)
}

// firstIncomplete returns the index of the first step whose values do not
// pass validation, or len(steps)-1 (konfirmasi) when all do. Completeness
// is derived from the data rather than remembered, so a value changed by
// Back makes its step incomplete again, and no later step can be reached
// past it (ASVS 2.3.1).
func firstIncomplete(d *draft) int {
	if d == nil {
		return 0
	}
	for i := range steps[:len(steps)-1] {
		if _, errs := validateStep(d, i); len(errs) > 0 {
			return i
		}
	}
	return len(steps) - 1
}

// normalized validates every step of d and returns the normalized copy,
// or the index of the first failing step. Submission calls it instead of
// trusting what earlier requests checked.
func normalized(d *draft) (*draft, int) {
	c := d.clone()
	for i, s := range steps {
		if errs := s.validate(c); len(errs) > 0 {
			return nil, i
		}
	}
	return c, -1
}

// registration builds the record to store from a normalized draft.
func (d *draft) registration(id, serviceNumber, documentID string, now time.Time) storage.Registration {
	v := d.Values
	now = now.UTC()
	g := storage.Registration{
		ID:             id,
		ServiceNumber:  serviceNumber,
		Status:         storage.StatusSubmitted,
		Purpose:        v[FieldPurpose],
		TraderType:     v[FieldTraderType],
		NIBType:        v[FieldNIBType],
		NIB:            v[FieldNIB],
		NPWPType:       v[FieldNPWPType],
		NPWP:           v[FieldNPWP],
		OrgName:        v[FieldOrgName],
		BusinessType:   v[FieldBusinessType],
		Address:        d.addressValues(),
		FullName:       v[FieldFullName],
		Position:       v[FieldPosition],
		IdentityType:   v[FieldIdentityType],
		IdentityNumber: v[FieldIdentityNumber],
		Email:          v[FieldEmail],
		Phone:          v[FieldPhone],
		DocumentID:     documentID,
		SubmittedAt:    now,
		UpdatedAt:      now,
	}
	d.applyUpstream(&g)
	return g
}
