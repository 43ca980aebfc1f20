package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"satupintu/storage"
	"satupintu/storage/validate"
)

// Organizations is what the operations read and correct of companies.
type Organizations interface {
	OrganizationByID(ctx context.Context, id string) (storage.Organization, error)
	OrganizationByNIB(ctx context.Context, nib string) (storage.Organization, error)
	storage.OrganizationAdmin
	Members(ctx context.Context, orgID string) ([]storage.Membership, error)
}

// Kinds of organization search: both are exact, indexed lookups.
const (
	OrgByNIB  = "nib"
	OrgByNPWP = "npwp"
)

// SearchOrganizations finds companies by NIB or NPWP (punctuation such
// as 01.234.567.8-901.000 is ignored).
func (s *Service) SearchOrganizations(ctx context.Context, by, value string) ([]storage.Organization, error) {
	v := digits(value)
	if v == "" {
		return nil, nil
	}
	switch by {
	case OrgByNIB:
		o, err := s.Orgs.OrganizationByNIB(ctx, v)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("admin: organization by nib: %w", err)
		}
		return []storage.Organization{o}, nil
	case OrgByNPWP:
		os, err := s.Orgs.OrganizationsByNPWP(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("admin: organizations by npwp: %w", err)
		}
		return os, nil
	}
	return nil, invalid("search by nib or npwp")
}

// digits keeps the digits of s (at most 32 of them).
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' && b.Len() < 32 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// OrgMember is a member with their account.
type OrgMember struct {
	storage.Membership
	User storage.User
}

// OrganizationView is a company with its members and the registrations
// filed under its NIB.
type OrganizationView struct {
	Org           storage.Organization
	Members       []OrgMember
	Registrations []storage.Registration
}

// maxOrgName bounds a company's name, as the wizard does.
const maxOrgName = 200

// maxShown bounds the members and registrations a company page lists.
const maxShown = 200

// Organization returns company id with its members and registrations.
func (s *Service) Organization(ctx context.Context, id string) (OrganizationView, error) {
	o, err := s.Orgs.OrganizationByID(ctx, id)
	if err != nil {
		return OrganizationView{}, notFound(err)
	}
	v := OrganizationView{Org: o}
	ms, err := s.Orgs.Members(ctx, id)
	if err != nil {
		return v, fmt.Errorf("admin: members of %s: %w", id, err)
	}
	for _, m := range ms[:min(len(ms), maxShown)] {
		u, err := s.Users.UserByID(ctx, m.UserID)
		if err != nil {
			return v, fmt.Errorf("admin: member %s: %w", m.UserID, err)
		}
		v.Members = append(v.Members, OrgMember{Membership: m, User: u})
	}
	if v.Registrations, err = s.Orgs.RegistrationsByNIB(ctx, o.NIB, maxShown); err != nil {
		return v, fmt.Errorf("admin: registrations of %s: %w", id, err)
	}
	return v, nil
}

// OrgInput is what an operator corrects of a company.
type OrgInput struct {
	NIB          string          `json:"nib"`
	NPWP         string          `json:"npwp"`
	Name         string          `json:"name"`
	BusinessType string          `json:"business_type"`
	Address      storage.Address `json:"address"`
}

// CorrectOrganization replaces company id's data with in; its members'
// applications see the change at their next sign-in.
func (s *Service) CorrectOrganization(ctx context.Context, a Actor, id string, in OrgInput) error {
	// The wizard's rules: 13 digits; 15 (or printed 99.999.999.9-999.999)
	// or 16; a name without control characters.
	nib, err := validate.NIB(in.NIB)
	if err != nil {
		return invalidInput(err)
	}
	kind := "15"
	if len(digits(in.NPWP)) == 16 {
		kind = "16"
	}
	npwp, err := validate.NPWP(kind, in.NPWP)
	if err != nil {
		return invalidInput(err)
	}
	name, err := validate.Name("name", in.Name, maxOrgName)
	if err != nil {
		return invalidInput(err)
	}
	if len(in.BusinessType) > 40 {
		return invalid("the business type is too long")
	}
	for _, f := range []string{in.Address.Street, in.Address.City, in.Address.Province, in.Address.PostalCode, in.Address.Country} {
		if len(f) > 300 || strings.ContainsAny(f, "\r\n") {
			return invalid("each address field is one line of at most 300 characters")
		}
	}
	e := s.event(a, "organization.correct", id, map[string]string{"nib": nib})
	err = s.Orgs.UpdateOrganization(storage.WithAudit(ctx, e), id, func(o *storage.Organization) error {
		o.NIB, o.NPWP, o.Name = nib, npwp, name
		o.BusinessType = strings.TrimSpace(in.BusinessType)
		o.Address = storage.Address{Street: strings.TrimSpace(in.Address.Street), City: strings.TrimSpace(in.Address.City),
			Province: strings.TrimSpace(in.Address.Province), PostalCode: strings.TrimSpace(in.Address.PostalCode),
			Country: strings.TrimSpace(in.Address.Country)}
		o.UpdatedAt = s.now()
		return nil
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return invalid("another company has this NIB")
	}
	return notFound(err)
}
