package registration

import (
	"context"
	"errors"
	"fmt"

	"satupintu/storage"
)

// Joining an existing company. A NIB that already has an organization is
// not a duplicate: the registrant is a further member of that company
// (DESIGN.md: a company has many members). No page says so: whether a NIB
// has an account is told only to the address the registrant verified, in
// the mail with the service number (receivedMail), so the wizard cannot be
// used to learn which companies are registered. The officer compares the
// two records side by side (review page), and approval adds the user to
// the existing organization (storage.Registrations.ApproveRegistration
// decides under its transaction).

// joinsOrganization reports whether nib already has an organization.
func (h *Handler) joinsOrganization(ctx context.Context, nib string) (bool, error) {
	_, err := h.Organizations.OrganizationByNIB(ctx, nib)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("registration: look up organization by nib: %w", err)
	}
}

// existingOrganization returns the organization an undecided registration
// would join, or nil for a new company.
func (h *Handler) existingOrganization(ctx context.Context, g storage.Registration) (*storage.Organization, error) {
	if !g.Status.Open() {
		return nil, nil
	}
	o, err := h.Organizations.OrganizationByNIB(ctx, g.NIB)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registration: look up organization by nib: %w", err)
	}
	return &o, nil
}

// compareRow is one line of the officer's side-by-side comparison: what the
// registration says and what the organization's record says, with Differs
// set when they disagree.
type compareRow struct {
	LabelKey           string
	Registered, Record string
	// Keys, when set, are catalog keys shown instead of the values.
	RegisteredKey, RecordKey string
	Differs                  bool
}

// compareOrganization lines up g against the existing record o.
func compareOrganization(g storage.Registration, o storage.Organization) []compareRow {
	rows := []compareRow{
		{LabelKey: "review.field.nib", Registered: g.NIB, Record: o.NIB},
		{LabelKey: "review.field.npwp", Registered: printedNPWP(g.NPWP), Record: printedNPWP(o.NPWP)},
		{LabelKey: "review.field.org_name", Registered: g.OrgName, Record: o.Name},
		{LabelKey: "review.field.trader_type", RegisteredKey: optionLabel(TraderTypes, g.TraderType),
			RecordKey: optionLabel(TraderTypes, o.TraderType), Registered: g.TraderType, Record: o.TraderType},
		{LabelKey: "review.field.business_type", RegisteredKey: optionLabel(BusinessTypes, g.BusinessType),
			RecordKey: optionLabel(BusinessTypes, o.BusinessType), Registered: g.BusinessType, Record: o.BusinessType},
		{LabelKey: "review.field.street", Registered: g.Address.Street, Record: o.Address.Street},
		{LabelKey: "review.field.city", Registered: g.Address.City, Record: o.Address.City},
		{LabelKey: "review.field.province", Registered: g.Address.Province, Record: o.Address.Province},
		{LabelKey: "review.field.postal_code", Registered: g.Address.PostalCode, Record: o.Address.PostalCode},
		{LabelKey: "review.field.country", Registered: g.Address.Country, Record: o.Address.Country},
	}
	for i := range rows {
		rows[i].Differs = rows[i].Registered != rows[i].Record
	}
	return rows
}
