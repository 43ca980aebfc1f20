package storage

import "context"

// OrganizationAdmin is what the operators' console does with companies
// beyond the sign-up path: find them by NPWP, correct their data, read the
// registrations filed under their NIB.
type OrganizationAdmin interface {
	// OrganizationsByNPWP returns the organizations with this NPWP (a
	// group's branches may share one), by name.
	OrganizationsByNPWP(ctx context.Context, npwp string) ([]Organization, error)
	// UpdateOrganization applies fn to the current record inside a
	// transaction; the id never changes, nor may the NIB collide with
	// another company's (ErrAlreadyExists).
	UpdateOrganization(ctx context.Context, id string, fn func(*Organization) error) error
	// RegistrationsByNIB returns the registrations filed under nib, newest
	// first, at most limit.
	RegistrationsByNIB(ctx context.Context, nib string, limit int) ([]Registration, error)
}
