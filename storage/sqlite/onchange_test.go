package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"satupintu/storage"
)

// Every committed write to what a node caches (storage/cache) is reported
// with its owner; a write that fails reports nothing.
func TestOnChangeReportsCachedWrites(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "onchange.db"))
	defer s.Close()
	ctx := t.Context()
	var got []string
	s.OnChange(func(_ context.Context, owners []string) { got = append(got, owners...) })
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	expect := func(what string, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s reported %q, want %q", what, got, want)
		}
		got = nil
	}
	org := storage.Organization{ID: "org-1", NIB: "9120001234567", NPWP: "012345678901000", Name: "PT Uji", CreatedAt: now}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	got = nil
	expect("CreateUser", s.CreateUser(ctx, storage.User{ID: "u1", Username: "budi", Email: "budi@contoh.co.id", CreatedAt: now}), "u:u1")
	expect("UpdateUser", s.UpdateUser(ctx, "u1", func(u *storage.User) error { u.Name = "Budi"; return nil }), "u:u1")
	expect("AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: org.ID, UserID: "u1", Role: storage.MemberAdmin, CreatedAt: now}), "u:u1")
	client := storage.Client{ID: "ebpom", Name: "e-BPOM", GrantTypes: []string{storage.GrantAuthorizationCode},
		RedirectURIs: []string{"https://ebpom.example/cb"}, CreatedAt: now}
	// The provider's client cache drops a client on "c:" (a created one
	// may be cached as unknown).
	expect("CreateClient", s.CreateClient(ctx, client), "c:ebpom")
	expect("UpdateClient", s.UpdateClient(ctx, client.ID, func(c *storage.Client) error { c.Name = "e-BPOM 2"; return nil }), "c:ebpom")
	expect("ChooseOrganization", s.ChooseOrganization(ctx, "u1", client.ID, org.ID, now), "u:u1")
	expect("DeleteClient (the choice goes with it)", s.DeleteClient(ctx, client.ID), "c:ebpom", "u:u1")
	expect("RemoveMembership", s.RemoveMembership(ctx, org.ID, "u1"), "u:u1")
	expect("UpdateSettings", s.UpdateSettings(ctx, func(st *storage.Settings) error { st.ServiceName.EN = "One Door"; return nil }), "s:settings")

	// A refused write reports nothing.
	if err := s.UpdateUser(ctx, "u1", func(*storage.User) error { return storage.ErrConflict }); err == nil {
		t.Fatal("a failing update succeeded")
	}
	if err := s.RemoveMembership(ctx, org.ID, "u1"); err == nil {
		t.Fatal("removing a membership twice succeeded")
	}
	if err := s.UpdateSettings(ctx, func(st *storage.Settings) error { st.ContactEmail.ID = "not an address"; return nil }); err == nil {
		t.Fatal("invalid settings were stored")
	}
	if got != nil {
		t.Errorf("failed writes reported %q", got)
	}
}
