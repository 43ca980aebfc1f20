package registration

import (
	"net/http"
	"strings"
	"testing"

	"satupintu/storage"
)

// A NIB that has an organization continues as a join, and the visitor is
// told only that: no company name, NPWP, address or member appears on any
// page, and the answer for an unknown NIB differs by the notice alone.
func TestWizardKnownNIBJoinsWithoutEnumeration(t *testing.T) {
	e := newWizEnv(t, false)
	ctx := t.Context()
	now := e.clock.Now()
	org := storage.Organization{ID: storage.NewID(), NIB: "9120009999999", NPWP: "019999999999000",
		Name: "PT Rahasia Dagang", TraderType: "eksportir", BusinessType: "cv",
		Address: storage.Address{Street: "Jl. Tersembunyi 7", City: "Surabaya"}, CreatedAt: now, UpdatedAt: now}
	if err := e.dur.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	member := storage.User{ID: storage.NewID(), Username: "pemilik", Email: "pemilik@rahasia.co.id",
		Name: "Pemilik Rahasia", OrganizationID: org.ID, CreatedAt: now, UpdatedAt: now}
	if err := e.dur.CreateUser(ctx, member); err != nil {
		t.Fatal(err)
	}
	secrets := []string{org.Name, org.NPWP, "01.999.999.9-999.000", org.Address.Street, member.Name, member.Email, member.Username}

	known := e.newClient()
	data := wizValid()
	data[StepNIB][FieldNIB] = []string{"9120 0099 99999"} // typed with spaces
	e.fillTo(known, StepNIB, data)
	wizWantRedirect(t, e.submitStep(known, StepNIB, "next", data[StepNIB]), "/register/"+StepNPWP)
	page := e.get(known, "/register/"+StepNPWP)
	wizWant(t, page, http.StatusOK, e.T("company.join.notice"))
	for _, s := range secrets {
		if strings.Contains(page.Body, s) {
			t.Errorf("the join step shows %q", s)
		}
	}

	unknown := e.newClient()
	e.fillTo(unknown, StepNPWP, nil)
	other := e.get(unknown, "/register/"+StepNPWP)
	if strings.Contains(other.Body, e.T("company.join.notice")) {
		t.Error("an unknown NIB is told it joins a company")
	}

	// The whole wizard through: stored as a registration like any other,
	// and no page on the way names the company.
	e.fillTo(known, StepConfirm, data)
	confirm := e.get(known, "/register/"+StepConfirm)
	wizWant(t, confirm, http.StatusOK, e.T("company.join.notice"))
	for _, s := range secrets {
		if strings.Contains(confirm.Body, s) {
			t.Errorf("the confirmation shows %q", s)
		}
	}
	_, done := e.submitAndFollow(known)
	for _, s := range secrets {
		if strings.Contains(done.Body, s) {
			t.Errorf("the success page shows %q", s)
		}
	}
	var joined int
	for _, g := range e.registrations() {
		if g.NIB == org.NIB {
			joined++
		}
	}
	if joined != 1 {
		t.Errorf("%d registrations with the known NIB stored, want 1", joined)
	}
}

// The NIB step's lookup is bounded per address.
func TestWizardNIBLookupIsBounded(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.NIBLookupLimit.PerAddress = 2
	c := e.newClient()
	data := wizValid()
	e.fillTo(c, StepNIB, data)
	for range 2 {
		wizWantRedirect(t, e.submitStep(c, StepNIB, "next", data[StepNIB]), "/register/"+StepNPWP)
	}
	res := e.submitStep(c, StepNIB, "next", data[StepNIB])
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third lookup: status %d, want 429", res.StatusCode)
	}
}

// The officer sees that a registration joins an organization, with both
// records side by side; approval makes the user a member, not a second
// organization.
func TestApprovalOfKnownNIBJoins(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	first := e.approved(oc, e.seed(nil))

	g := e.seed(func(r *storage.Registration, _ *storage.Document) {
		r.NIB, r.Email, r.OrgName, r.FullName = first.NIB, "kedua@example.co.id", "PT Nama Lain", "Kedua"
	})
	page := e.get(oc, "/officer/registrations/"+g.ID)
	reviewWant(t, page, http.StatusOK, e.T("company.review.join_title"), first.OrgName, "PT Nama Lain", e.T("company.review.differs"))

	done := e.approved(oc, g)
	if done.OrganizationID != first.OrganizationID {
		t.Fatalf("joined registration's organization %q, want %q", done.OrganizationID, first.OrganizationID)
	}
	if n := e.countOrganizations(first.NIB); n != 1 {
		t.Errorf("%d organizations with the NIB", n)
	}
	for id, want := range map[string]string{first.UserID: storage.MemberAdmin, done.UserID: storage.MemberStaff} {
		m, err := e.dur.Membership(t.Context(), first.OrganizationID, id)
		if err != nil || m.Role != want {
			t.Errorf("membership of %s = (%+v, %v), want role %s", id, m, err, want)
		}
	}
	// Decided: the page no longer offers the comparison.
	if page := e.get(oc, "/officer/registrations/"+g.ID); strings.Contains(page.Body, e.T("company.review.join_title")) {
		t.Error("the decided registration still shows the join comparison")
	}
}
