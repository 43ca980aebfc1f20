package sqlstore

import (
	"context"
	"encoding/json"

	"satupintu/storage"
)

var _ storage.OrganizationAdmin = (*Store)(nil)

// OrganizationsByNPWP reads the organizations_npwp index.
func (s *Store) OrganizationsByNPWP(ctx context.Context, npwp string) ([]storage.Organization, error) {
	rows, err := s.db.Query(ctx, organizationsByNPWPQuery, npwp)
	os, err := collect(rows, err, scanOrganization)
	return os, s.wrap("organizations by npwp", err)
}

// UpdateOrganization corrects a company; the node caches drop it.
func (s *Store) UpdateOrganization(ctx context.Context, id string, fn func(*storage.Organization) error) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		o, err := scanOrganization(q.QueryRow(ctx, `SELECT `+organizationColumns+` FROM organizations WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if fnErr = fn(&o); fnErr != nil {
			return fnErr
		}
		address, err := json.Marshal(o.Address)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE organizations SET nib = $2, npwp = $3, name = $4, trader_type = $5,
			business_type = $6, address = $7, updated_at = $8 WHERE id = $1`,
			id, o.NIB, o.NPWP, o.Name, o.TraderType, o.BusinessType, string(address), micros(o.UpdatedAt))
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	s.changed(ctx, err, OrganizationOwner(id))
	return s.wrap("update organization "+id, err)
}

// RegistrationsByNIB reads the registrations_nib index (migration 0021).
func (s *Store) RegistrationsByNIB(ctx context.Context, nib string, limit int) ([]storage.Registration, error) {
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	rows, err := s.db.Query(ctx, registrationsByNIBQuery, nib, limit)
	rs, err := collect(rows, err, scanRegistration)
	return rs, s.wrap("registrations by nib", err)
}

const (
	organizationsByNPWPQuery = `SELECT ` + organizationColumns + ` FROM organizations WHERE npwp = $1 ORDER BY name, id`
	registrationsByNIBQuery  = `SELECT ` + registrationColumns + ` FROM registrations WHERE nib = $1
		ORDER BY submitted_at DESC, id DESC LIMIT $2`
)
