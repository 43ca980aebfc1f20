package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"satupintu/storage"
)

// testAuditHourly: the dashboard's counts, per UTC hour, only of the
// actions asked for and only inside [from, to).
func testAuditHourly(t *testing.T, s storage.Durable) {
	st, ok := s.(storage.AuditStats)
	if !ok {
		t.Skip("the backend has no audit statistics")
	}
	ctx := t.Context()
	hour := instant(0).UTC().Truncate(time.Hour)
	for _, e := range []struct {
		at     time.Time
		action string
	}{
		{hour.Add(time.Minute), "login.success"}, {hour.Add(59 * time.Minute), "login.success"},
		{hour.Add(61 * time.Minute), "login.success"}, {hour.Add(2 * time.Minute), "login.failure"},
		{hour.Add(-time.Minute), "login.success"},  // before from
		{hour.Add(3 * time.Hour), "login.success"}, // at to: outside
	} {
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Time: e.at, Action: e.action}))
	}
	got, err := st.AuditHourly(ctx, []string{"login.success"}, hour.In(jakarta()), hour.Add(3*time.Hour))
	mustOK(t, "AuditHourly", err)
	want := map[int64]int64{hour.Unix(): 2, hour.Add(time.Hour).Unix(): 1}
	checkEqual(t, "AuditHourly(login.success)", want, got)
	got, err = st.AuditHourly(ctx, []string{"login.success", "login.failure"}, hour, hour.Add(time.Hour))
	mustOK(t, "AuditHourly(two actions)", err)
	checkEqual(t, "AuditHourly(two actions)", map[int64]int64{hour.Unix(): 3}, got)
	if _, err := st.AuditHourly(ctx, nil, hour, hour); err == nil {
		t.Error("AuditHourly without actions succeeded")
	}
}

// testOrganizationAdmin: the console finds companies by NPWP, corrects
// them (a NIB stays unique) and lists their registrations.
func testOrganizationAdmin(t *testing.T, s storage.Durable) {
	oa, ok := s.(storage.OrganizationAdmin)
	if !ok {
		t.Skip("the backend has no organization administration")
	}
	ctx := t.Context()
	a := storage.Organization{ID: storage.NewID(), NIB: "9120001234567", NPWP: "012345678901234", Name: "PT Beta",
		TraderType: "importir", BusinessType: "pt", CreatedAt: instant(0), UpdatedAt: instant(0)}
	b := a
	b.ID, b.NIB, b.Name = storage.NewID(), "9120001234568", "PT Alfa"
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, a))
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, b))

	got, err := oa.OrganizationsByNPWP(ctx, a.NPWP)
	mustOK(t, "OrganizationsByNPWP", err)
	if len(got) != 2 || got[0].Name != "PT Alfa" || got[1].Name != "PT Beta" {
		t.Errorf("OrganizationsByNPWP = %+v, want PT Alfa then PT Beta", got)
	}
	none, err := oa.OrganizationsByNPWP(ctx, "999999999999999")
	mustOK(t, "OrganizationsByNPWP(unknown)", err)
	if len(none) != 0 {
		t.Errorf("OrganizationsByNPWP(unknown) = %+v", none)
	}

	mustOK(t, "UpdateOrganization", oa.UpdateOrganization(ctx, a.ID, func(o *storage.Organization) error {
		o.Name, o.Address.City, o.UpdatedAt = "PT Beta Sejahtera", "Surabaya", instant(9)
		return nil
	}))
	after, err := s.OrganizationByID(ctx, a.ID)
	mustOK(t, "OrganizationByID", err)
	if after.Name != "PT Beta Sejahtera" || after.Address.City != "Surabaya" || !after.UpdatedAt.Equal(instant(9)) || after.NIB != a.NIB {
		t.Errorf("after UpdateOrganization: %+v", after)
	}
	checkErr(t, "UpdateOrganization to a taken NIB", oa.UpdateOrganization(ctx, a.ID, func(o *storage.Organization) error {
		o.NIB = b.NIB
		return nil
	}), storage.ErrAlreadyExists)
	checkErr(t, "UpdateOrganization of a missing one", oa.UpdateOrganization(ctx, "missing", func(*storage.Organization) error { return nil }), storage.ErrNotFound)

	old, doc := newRegistration("SP-2026-000001", a.NIB, "siti@example.co.id", 0)
	mustOK(t, "CreateRegistration", s.CreateRegistration(ctx, old, doc))
	newer, doc2 := newRegistration("SP-2026-000002", a.NIB, "andi@example.co.id", 30)
	mustOK(t, "CreateRegistration", s.CreateRegistration(ctx, newer, doc2))
	other, doc3 := newRegistration("SP-2026-000003", b.NIB, "rina@example.co.id", 10)
	mustOK(t, "CreateRegistration", s.CreateRegistration(ctx, other, doc3))
	rs, err := oa.RegistrationsByNIB(ctx, a.NIB, 10)
	mustOK(t, "RegistrationsByNIB", err)
	if len(rs) != 2 || rs[0].ID != newer.ID || rs[1].ID != old.ID {
		t.Errorf("RegistrationsByNIB = %d rows, want the two of %s newest first", len(rs), a.NIB)
	}
}

// testCountEnabledAdmins: the last-admin guard counts enabled admins only.
func testCountEnabledAdmins(t *testing.T, s storage.Durable) {
	ca, ok := s.(interface {
		CountEnabledAdmins(ctx context.Context) (int, error)
	})
	if !ok {
		t.Skip("the backend cannot count admins")
	}
	ctx := t.Context()
	for i, u := range []storage.User{
		{Roles: []string{storage.RoleAdmin}},
		{Roles: []string{storage.RoleOfficer, storage.RoleAdmin}},
		{Roles: []string{storage.RoleAdmin}, Disabled: true},
		{Roles: []string{storage.RoleOfficer}},
		{},
	} {
		u.ID, u.Username, u.Email = storage.NewID(), fmt.Sprintf("user%d", i), fmt.Sprintf("user%d@contoh.co.id", i)
		u.CreatedAt, u.UpdatedAt = instant(0), instant(0)
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	n, err := ca.CountEnabledAdmins(ctx)
	mustOK(t, "CountEnabledAdmins", err)
	if n != 2 {
		t.Errorf("CountEnabledAdmins = %d, want 2", n)
	}
}
