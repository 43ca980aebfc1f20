package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"satupintu/storage"
)

// Migration 0009 keeps users.organization_id and makes every user with an
// organization its member: the oldest account of each its administrator.
// Business types written as "PT" come back as the code "pt".
func TestMigration9MovesOrganizationsIntoMemberships(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	migrateTo(t, old, 8)
	for _, q := range []string{
		`INSERT INTO organizations (id, nib, npwp, name, trader_type, business_type, address, created_at, updated_at)
			VALUES ('o1', '9120001234567', '012345678901000', 'PT Lama', 'importir', 'PT', '{}', 1, 1)`,
		`INSERT INTO users (id, username, email, email_verified, name, phone, job_title, password_hash,
			organization_id, roles, disabled, expires_at, created_at, updated_at)
			VALUES ('u1', 'budi', 'budi@example.com', TRUE, 'Budi', '', '', 'h', 'o1', '[]', FALSE, 0, 10, 10)`,
		`INSERT INTO users (id, username, email, email_verified, name, phone, job_title, password_hash,
			organization_id, roles, disabled, expires_at, created_at, updated_at)
			VALUES ('u2', 'sari', 'sari@example.com', TRUE, 'Sari', '', '', 'h', 'o1', '[]', FALSE, 0, 20, 20)`,
		`INSERT INTO users (id, username, email, email_verified, name, phone, job_title, password_hash,
			organization_id, roles, disabled, expires_at, created_at, updated_at)
			VALUES ('u3', 'staf', '', FALSE, 'Staf', '', '', 'h', '', '["officer"]', FALSE, 0, 5, 5)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s := open(t, path)
	defer s.Close()
	for id, want := range map[string]string{"u1": storage.MemberAdmin, "u2": storage.MemberStaff} {
		m, err := s.Membership(ctx, "o1", id)
		if err != nil || m.Role != want {
			t.Errorf("membership of %s = (%+v, %v), want role %s", id, m, err, want)
		}
		u, err := s.UserByID(ctx, id)
		if err != nil || u.OrganizationID != "o1" {
			t.Errorf("user %s after the migration: (%+v, %v)", id, u, err)
		}
	}
	if ms, err := s.MembershipsOf(ctx, "u3"); err != nil || len(ms) != 0 {
		t.Errorf("staff account memberships = (%v, %v), want none", ms, err)
	}
	o, err := s.OrganizationByID(ctx, "o1")
	if err != nil || o.BusinessType != "pt" {
		t.Errorf("business type after the migration = (%q, %v), want pt", o.BusinessType, err)
	}
}
