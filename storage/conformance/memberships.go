package conformance

import (
	"fmt"
	"testing"

	"satupintu/storage"
)

// newOrg stores an organization with nib and returns it.
func newOrg(t *testing.T, s storage.Durable, nib string) storage.Organization {
	t.Helper()
	o := storage.Organization{ID: storage.NewID(), NIB: nib, NPWP: "012345678901000", Name: "PT " + nib,
		TraderType: "importir", BusinessType: "pt", CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateOrganization", s.CreateOrganization(t.Context(), o))
	return o
}

// newPerson stores a user without an organization.
func newPerson(t *testing.T, s storage.Durable, username string) storage.User {
	t.Helper()
	u := storage.User{ID: storage.NewID(), Username: username, Email: username + "@example.co.id",
		CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateUser", s.CreateUser(t.Context(), u))
	return u
}

func testMemberships(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	a, b := newOrg(t, s, "9120000000001"), newOrg(t, s, "9120000000002")
	budi, siti := newPerson(t, s, "budi"), newPerson(t, s, "siti")

	m := storage.Membership{OrganizationID: a.ID, UserID: budi.ID, Role: storage.MemberAdmin, CreatedAt: instant(1)}
	mustOK(t, "AddMembership", s.AddMembership(ctx, m))
	checkErr(t, "AddMembership twice", s.AddMembership(ctx, m), storage.ErrAlreadyExists)
	checkErr(t, "AddMembership of an unknown user", s.AddMembership(ctx,
		storage.Membership{OrganizationID: a.ID, UserID: "nobody", Role: storage.MemberStaff}), storage.ErrNotFound)
	checkErr(t, "AddMembership in an unknown organization", s.AddMembership(ctx,
		storage.Membership{OrganizationID: "none", UserID: budi.ID, Role: storage.MemberStaff}), storage.ErrNotFound)
	if err := s.AddMembership(ctx, storage.Membership{OrganizationID: b.ID, UserID: siti.ID, Role: "owner"}); err == nil {
		t.Error("AddMembership with an unknown role succeeded")
	}
	mustOK(t, "AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: b.ID, UserID: budi.ID,
		Role: storage.MemberStaff, CreatedAt: instant(2)}))
	mustOK(t, "AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: a.ID, UserID: siti.ID,
		Role: storage.MemberStaff, CreatedAt: instant(3)}))

	got, err := s.Membership(ctx, a.ID, budi.ID)
	mustOK(t, "Membership", err)
	checkEqual(t, "Membership", m, got)
	checkUTC(t, "Membership", got)
	if _, err := s.Membership(ctx, b.ID, siti.ID); !isNotFound(err) {
		t.Errorf("Membership of a non-member: %v, want ErrNotFound", err)
	}
	ms, err := s.MembershipsOf(ctx, budi.ID)
	mustOK(t, "MembershipsOf", err)
	if len(ms) != 2 || ms[0].OrganizationID != a.ID || ms[1].OrganizationID != b.ID {
		t.Errorf("MembershipsOf = %+v, want a then b", ms)
	}
	members, err := s.Members(ctx, a.ID)
	mustOK(t, "Members", err)
	if len(members) != 2 || members[0].UserID != budi.ID || members[1].UserID != siti.ID {
		t.Errorf("Members = %+v, want budi then siti", members)
	}
	// The first organization is the default.
	u, err := s.UserByID(ctx, budi.ID)
	mustOK(t, "UserByID", err)
	if u.OrganizationID != a.ID {
		t.Errorf("default organization = %q, want the first, %q", u.OrganizationID, a.ID)
	}

	// Transfer: only the administrator can hand it on, to a member.
	checkErr(t, "TransferAdmin from a non-admin", s.TransferAdmin(ctx, a.ID, siti.ID, budi.ID), storage.ErrConflict)
	checkErr(t, "TransferAdmin to a non-member", s.TransferAdmin(ctx, b.ID, budi.ID, siti.ID), storage.ErrNotFound)
	mustOK(t, "TransferAdmin", s.TransferAdmin(ctx, a.ID, budi.ID, siti.ID))
	for id, want := range map[string]string{budi.ID: storage.MemberStaff, siti.ID: storage.MemberAdmin} {
		got, err := s.Membership(ctx, a.ID, id)
		mustOK(t, "Membership", err)
		if got.Role != want {
			t.Errorf("after TransferAdmin %s is %q, want %q", id, got.Role, want)
		}
	}
	mustOK(t, "SetMemberRole", s.SetMemberRole(ctx, a.ID, budi.ID, storage.MemberAdmin))
	checkErr(t, "SetMemberRole of a non-member", s.SetMemberRole(ctx, b.ID, siti.ID, storage.MemberAdmin), storage.ErrNotFound)

	// Choices per application, forgotten with the membership.
	c := fullClient("insw")
	mustOK(t, "CreateClient", s.CreateClient(ctx, c))
	if _, err := s.ChosenOrganization(ctx, budi.ID, c.ID); !isNotFound(err) {
		t.Errorf("ChosenOrganization before a choice: %v, want ErrNotFound", err)
	}
	checkErr(t, "ChooseOrganization of a non-member", s.ChooseOrganization(ctx, siti.ID, c.ID, b.ID, instant(4)), storage.ErrNotFound)
	checkErr(t, "ChooseOrganization for an unknown client", s.ChooseOrganization(ctx, budi.ID, "nope", b.ID, instant(4)), storage.ErrNotFound)
	mustOK(t, "ChooseOrganization", s.ChooseOrganization(ctx, budi.ID, c.ID, a.ID, instant(4)))
	mustOK(t, "ChooseOrganization again", s.ChooseOrganization(ctx, budi.ID, c.ID, b.ID, instant(5)))
	if got, err := s.ChosenOrganization(ctx, budi.ID, c.ID); err != nil || got != b.ID {
		t.Errorf("ChosenOrganization = (%q, %v), want b", got, err)
	}

	// Removal: the choice goes, and the default moves to what is left.
	mustOK(t, "RemoveMembership", s.RemoveMembership(ctx, b.ID, budi.ID))
	checkErr(t, "RemoveMembership twice", s.RemoveMembership(ctx, b.ID, budi.ID), storage.ErrNotFound)
	if _, err := s.ChosenOrganization(ctx, budi.ID, c.ID); !isNotFound(err) {
		t.Errorf("ChosenOrganization after removal: %v, want ErrNotFound", err)
	}
	mustOK(t, "RemoveMembership", s.RemoveMembership(ctx, a.ID, budi.ID))
	u, err = s.UserByID(ctx, budi.ID)
	mustOK(t, "UserByID", err)
	if u.OrganizationID != "" {
		t.Errorf("default organization after leaving all = %q, want none", u.OrganizationID)
	}
	mustOK(t, "RemoveMembership", s.RemoveMembership(ctx, a.ID, siti.ID))
	mustOK(t, "AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: b.ID, UserID: siti.ID,
		Role: storage.MemberStaff, CreatedAt: instant(6)}))
	u, err = s.UserByID(ctx, siti.ID)
	mustOK(t, "UserByID", err)
	if u.OrganizationID != b.ID {
		t.Errorf("default organization = %q, want the only one, %q", u.OrganizationID, b.ID)
	}
}

// A user created with an organization is its member: the first its
// administrator.
func testCreateUserJoins(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	o := newOrg(t, s, "9120000000003")
	for i, want := range []string{storage.MemberAdmin, storage.MemberStaff} {
		u := storage.User{ID: storage.NewID(), Username: fmt.Sprint("p", i), OrganizationID: o.ID, CreatedAt: instant(i)}
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
		m, err := s.Membership(ctx, o.ID, u.ID)
		mustOK(t, "Membership", err)
		if m.Role != want {
			t.Errorf("user %d is %q, want %q", i, m.Role, want)
		}
	}
}

// Approving a registration for a NIB that has an organization joins it.
func testApproveJoins(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	first, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, first, doc)
	second, doc2 := newRegistration("SP-2", "9120001234567", "budi@example.co.id", 1)
	mustCreateRegistration(t, s, second, doc2)
	setStatus(t, s, first.ID, storage.StatusInReview, 10)
	setStatus(t, s, second.ID, storage.StatusInReview, 10)

	org, user, token, ev := approval("1", first.NIB, "siti")
	mustOK(t, "ApproveRegistration", s.ApproveRegistration(ctx, first.ID, org, user, token, ev))
	org2, user2, token2, ev2 := approval("2", second.NIB, "budi")
	mustOK(t, "ApproveRegistration of the same NIB", s.ApproveRegistration(ctx, second.ID, org2, user2, token2, ev2))

	if _, err := s.OrganizationByID(ctx, org2.ID); !isNotFound(err) {
		t.Errorf("joining created a second organization: %v", err)
	}
	g, err := s.RegistrationByID(ctx, second.ID)
	mustOK(t, "RegistrationByID", err)
	if g.OrganizationID != org.ID {
		t.Errorf("joined registration names organization %q, want %q", g.OrganizationID, org.ID)
	}
	u, err := s.UserByID(ctx, user2.ID)
	mustOK(t, "UserByID", err)
	if u.OrganizationID != org.ID {
		t.Errorf("joined user's organization = %q, want %q", u.OrganizationID, org.ID)
	}
	for id, want := range map[string]string{user.ID: storage.MemberAdmin, user2.ID: storage.MemberStaff} {
		m, err := s.Membership(ctx, org.ID, id)
		mustOK(t, "Membership", err)
		if m.Role != want {
			t.Errorf("%s is %q, want %q", id, m.Role, want)
		}
	}
}

func testInvitations(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	o := newOrg(t, s, "9120000000004")
	admin := newPerson(t, s, "admin")
	inv := storage.Invitation{ID: storage.NewID(), OrganizationID: o.ID, Email: "New@Example.co.id",
		Role: storage.MemberStaff, InvitedBy: admin.ID, TokenHash: "hash-1",
		CreatedAt: instant(0), ExpiresAt: instant(72 * 60)}
	mustOK(t, "CreateInvitation", s.CreateInvitation(ctx, inv))
	checkErr(t, "CreateInvitation twice", s.CreateInvitation(ctx, inv), storage.ErrAlreadyExists)
	inv.Email = "new@example.co.id"

	got, err := s.LiveInvitation(ctx, "hash-1", instant(1))
	mustOK(t, "LiveInvitation", err)
	checkEqual(t, "LiveInvitation", inv, got)
	checkUTC(t, "LiveInvitation", got)
	if _, err := s.LiveInvitation(ctx, "hash-1", instant(72*60)); !isNotFound(err) {
		t.Errorf("LiveInvitation at expiry: %v, want ErrNotFound", err)
	}
	pending, err := s.PendingInvitations(ctx, o.ID)
	mustOK(t, "PendingInvitations", err)
	checkEqual(t, "PendingInvitations", []storage.Invitation{inv}, pending)

	// Renewal replaces the token: the old link is dead.
	mustOK(t, "RenewInvitation", s.RenewInvitation(ctx, o.ID, inv.ID, "hash-2", instant(100*60)))
	if _, err := s.LiveInvitation(ctx, "hash-1", instant(1)); !isNotFound(err) {
		t.Errorf("old token after RenewInvitation: %v, want ErrNotFound", err)
	}
	checkErr(t, "RenewInvitation of another organization's", s.RenewInvitation(ctx, "other", inv.ID, "hash-3", instant(100)), storage.ErrNotFound)

	// Expired: not accepted, and nothing created.
	u := storage.User{ID: storage.NewID(), Username: "new", Email: "new@example.co.id", CreatedAt: instant(1)}
	if _, err := s.AcceptInvitation(ctx, "hash-2", instant(100*60), u, true); !isNotFound(err) {
		t.Errorf("AcceptInvitation after expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.UserByID(ctx, u.ID); !isNotFound(err) {
		t.Errorf("a refused acceptance created the user: %v", err)
	}
	// Accepted once.
	acc, err := s.AcceptInvitation(ctx, "hash-2", instant(2), u, true)
	mustOK(t, "AcceptInvitation", err)
	if acc.UserID != u.ID || !acc.AcceptedAt.Equal(instant(2)) {
		t.Errorf("accepted invitation = %+v", acc)
	}
	if _, err := s.AcceptInvitation(ctx, "hash-2", instant(3), storage.User{ID: storage.NewID(), Username: "x"}, true); !isNotFound(err) {
		t.Errorf("second AcceptInvitation: %v, want ErrNotFound", err)
	}
	m, err := s.Membership(ctx, o.ID, u.ID)
	mustOK(t, "Membership", err)
	if m.Role != storage.MemberStaff {
		t.Errorf("invited member's role = %q", m.Role)
	}
	if pending, err := s.PendingInvitations(ctx, o.ID); err != nil || len(pending) != 0 {
		t.Errorf("PendingInvitations after acceptance = (%v, %v), want none", pending, err)
	}
	checkErr(t, "DeleteInvitation of an accepted one", s.DeleteInvitation(ctx, o.ID, inv.ID), storage.ErrNotFound)

	// Cancel.
	other := inv
	other.ID, other.TokenHash, other.Email = storage.NewID(), "hash-9", "other@example.co.id"
	mustOK(t, "CreateInvitation", s.CreateInvitation(ctx, other))
	mustOK(t, "DeleteInvitation", s.DeleteInvitation(ctx, o.ID, other.ID))
	if _, err := s.LiveInvitation(ctx, "hash-9", instant(1)); !isNotFound(err) {
		t.Errorf("cancelled invitation is live: %v", err)
	}

	// Concurrent acceptances: one winner.
	race := inv
	race.ID, race.TokenHash = storage.NewID(), "hash-race"
	mustOK(t, "CreateInvitation", s.CreateInvitation(ctx, race))
	errs := runConcurrently(4, func(i int) error {
		_, err := s.AcceptInvitation(ctx, "hash-race", instant(5),
			storage.User{ID: storage.NewID(), Username: fmt.Sprint("racer", i), CreatedAt: instant(5)}, true)
		return err
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !isNotFound(err):
			t.Errorf("concurrent AcceptInvitation: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent acceptances won, want 1", won)
	}
}
