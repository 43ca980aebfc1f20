package registration

import (
	"errors"
	"net/url"

	"satupintu/storage"
)

// revisionForm is the correct-and-resubmit form: every field of the
// registration as typed, so a page with errors shows the input back.
type revisionForm struct {
	Purpose, TraderType, NIBType, NIB, NPWPType, NPWP string
	OrgName, BusinessType                             string
	Street, City, Province, PostalCode, Country       string
	FullName, Position, IdentityType, IdentityNumber  string
	Email, Phone                                      string
}

// revisionFormOf prefills the form from the stored registration.
func revisionFormOf(g storage.Registration) revisionForm {
	return revisionForm{
		Purpose: g.Purpose, TraderType: g.TraderType, NIBType: g.NIBType, NIB: g.NIB,
		NPWPType: g.NPWPType, NPWP: g.NPWP, OrgName: g.OrgName, BusinessType: g.BusinessType,
		Street: g.Address.Street, City: g.Address.City, Province: g.Address.Province,
		PostalCode: g.Address.PostalCode, Country: g.Address.Country,
		FullName: g.FullName, Position: g.Position, IdentityType: g.IdentityType,
		IdentityNumber: g.IdentityNumber, Email: g.Email, Phone: g.Phone,
	}
}

// parseRevisionForm reads the posted fields. Only these names are read, so
// a forged form cannot set the status, ids or anything else of the record
// (mass assignment, ASVS 8.2.3).
func parseRevisionForm(v url.Values) revisionForm {
	return revisionForm{
		Purpose: v.Get(FieldPurpose), TraderType: v.Get(FieldTraderType),
		NIBType: v.Get(FieldNIBType), NIB: v.Get(FieldNIB),
		NPWPType: v.Get(FieldNPWPType), NPWP: v.Get(FieldNPWP),
		OrgName: v.Get(FieldOrgName), BusinessType: v.Get(FieldBusinessType),
		Street: v.Get(FieldStreet), City: v.Get(FieldCity), Province: v.Get(FieldProvince),
		PostalCode: v.Get(FieldPostalCode), Country: v.Get(FieldCountry),
		FullName: v.Get(FieldFullName), Position: v.Get(FieldPosition),
		IdentityType: v.Get(FieldIdentityType), IdentityNumber: v.Get(FieldIdentityNumber),
		Email: v.Get(FieldEmail), Phone: v.Get(FieldPhone),
	}
}

// validate runs the wizard's validators over every field and applies the
// normalized values to g. It returns each field's first problem (field
// name → *FieldError); g is only meaningful when there are none.
func (f revisionForm) validate(g *storage.Registration) map[string]*FieldError {
	errs := map[string]*FieldError{}
	note := func(err error) {
		var fe *FieldError
		var fes FieldErrors
		switch {
		case errors.As(err, &fe):
			if errs[fe.Field] == nil {
				errs[fe.Field] = fe
			}
		case errors.As(err, &fes):
			for _, e := range fes {
				if errs[e.Field] == nil {
					errs[e.Field] = e
				}
			}
		}
	}
	check := func(dst *string, v string, err error) {
		if err != nil {
			note(err)
			return
		}
		*dst = v
	}
	var (
		v   string
		err error
	)
	v, err = Choice(FieldPurpose, f.Purpose, Purposes.Codes())
	check(&g.Purpose, v, err)
	v, err = Choice(FieldTraderType, f.TraderType, TraderTypes.Codes())
	check(&g.TraderType, v, err)
	v, err = Choice(FieldNIBType, f.NIBType, NIBTypes.Codes())
	check(&g.NIBType, v, err)
	v, err = NIB(f.NIB)
	check(&g.NIB, v, err)
	v, err = Choice(FieldNPWPType, f.NPWPType, NPWPTypes.Codes())
	check(&g.NPWPType, v, err)
	if err == nil {
		// The number's format depends on its type; with a bad type only
		// the type is reported.
		v, err = NPWP(g.NPWPType, f.NPWP)
		check(&g.NPWP, v, err)
	}
	v, err = Name(FieldOrgName, f.OrgName, MaxOrgName)
	check(&g.OrgName, v, err)
	v, err = Choice(FieldBusinessType, f.BusinessType, BusinessTypes.Codes())
	check(&g.BusinessType, v, err)
	addr, aerr := Address(storage.Address{Street: f.Street, City: f.City, Province: f.Province, PostalCode: f.PostalCode, Country: f.Country})
	if aerr != nil {
		note(aerr)
	} else {
		g.Address = addr
	}
	v, err = Name(FieldFullName, f.FullName, MaxFullName)
	check(&g.FullName, v, err)
	v, err = Name(FieldPosition, f.Position, MaxPosition)
	check(&g.Position, v, err)
	v, err = Choice(FieldIdentityType, f.IdentityType, IdentityTypes.Codes())
	check(&g.IdentityType, v, err)
	if err == nil {
		v, err = Identity(g.IdentityType, f.IdentityNumber)
		check(&g.IdentityNumber, v, err)
	}
	v, err = Email(f.Email)
	check(&g.Email, v, err)
	v, err = Phone(f.Phone)
	check(&g.Phone, v, err)
	return errs
}

// applyRegistrantFields copies what a registrant may change from src to
// dst: the form's fields and nothing else (not the status, the ids, the
// service number or the decision links).
func applyRegistrantFields(dst *storage.Registration, src storage.Registration) {
	dst.Purpose, dst.TraderType, dst.NIBType, dst.NIB = src.Purpose, src.TraderType, src.NIBType, src.NIB
	dst.NPWPType, dst.NPWP, dst.OrgName, dst.BusinessType = src.NPWPType, src.NPWP, src.OrgName, src.BusinessType
	// What an upstream provider verified no longer is once the name or
	// the identity changes (prefill.go).
	if dst.FullName != src.FullName || dst.IdentityType != src.IdentityType || dst.IdentityNumber != src.IdentityNumber {
		dst.VerifiedBy = ""
	}
	dst.Address, dst.FullName, dst.Position = src.Address, src.FullName, src.Position
	dst.IdentityType, dst.IdentityNumber, dst.Email, dst.Phone = src.IdentityType, src.IdentityNumber, src.Email, src.Phone
}

// fieldMessage is a field error as a page shows it: a catalog key and, for
// KeyTooLong, its one argument.
type fieldMessage struct {
	Key    string
	Arg    any
	HasArg bool
}

func newFieldMessage(e *FieldError) *fieldMessage {
	if e == nil {
		return nil
	}
	m := &fieldMessage{Key: e.Key}
	if len(e.Args) > 0 {
		m.Arg, m.HasArg = e.Args[0], true
	}
	return m
}

// formField is one input of a generated form.
type formField struct {
	Name, LabelKey, Value string
	Type                  string       // input type: text, email, tel
	Options               []choiceView // set for a select
	MaxLen                int          // 0: no maxlength attribute
	Autocomplete          string
	Error                 *fieldMessage
}

// formSection is a titled group of fields.
type formSection struct {
	TitleKey string
	Fields   []formField
}

// sections lays the revision form out in the wizard's order, with the
// errors next to their fields.
func (f revisionForm) sections(errs map[string]*FieldError) []formSection {
	text := func(name, value string, max int, typ, autocomplete string) formField {
		return formField{Name: name, LabelKey: "review.field." + name, Value: value, Type: typ,
			MaxLen: max, Autocomplete: autocomplete, Error: newFieldMessage(errs[name])}
	}
	sel := func(name string, opts Options, value string) formField {
		return formField{Name: name, LabelKey: "review.field." + name, Value: value,
			Options: choices(opts, value), Error: newFieldMessage(errs[name])}
	}
	// Limits a little above the validators' own, so the server, not the
	// browser, explains what is wrong with an overlong paste.
	return []formSection{
		{TitleKey: "review.section.company", Fields: []formField{
			sel(FieldPurpose, Purposes, f.Purpose),
			sel(FieldTraderType, TraderTypes, f.TraderType),
			sel(FieldNIBType, NIBTypes, f.NIBType),
			text(FieldNIB, f.NIB, 32, "text", "off"),
			sel(FieldNPWPType, NPWPTypes, f.NPWPType),
			text(FieldNPWP, f.NPWP, 32, "text", "off"),
			text(FieldOrgName, f.OrgName, MaxOrgName+50, "text", "organization"),
			sel(FieldBusinessType, BusinessTypes, f.BusinessType),
		}},
		{TitleKey: "review.section.address", Fields: []formField{
			text(FieldStreet, f.Street, MaxStreet+50, "text", "street-address"),
			text(FieldCity, f.City, MaxCity+50, "text", "address-level2"),
			text(FieldProvince, f.Province, MaxProvince+50, "text", "address-level1"),
			text(FieldPostalCode, f.PostalCode, 16, "text", "postal-code"),
			text(FieldCountry, f.Country, 8, "text", "country"),
		}},
		{TitleKey: "review.section.person", Fields: []formField{
			text(FieldFullName, f.FullName, MaxFullName+50, "text", "name"),
			text(FieldPosition, f.Position, MaxPosition+50, "text", "organization-title"),
			sel(FieldIdentityType, IdentityTypes, f.IdentityType),
			text(FieldIdentityNumber, f.IdentityNumber, 32, "text", "off"),
			text(FieldEmail, f.Email, MaxEmail, "email", "email"),
			text(FieldPhone, f.Phone, 32, "tel", "tel"),
		}},
	}
}
