package registration

import (
	"net/http"
	"strings"
	"testing"

	"satupintu/storage"
)

// A NIB that has an organization continues as a join, and no page tells:
// every step and the success page read the same for a known and an
// unknown NIB (ASVS 2.5, no enumeration), and nothing about the company
// appears anywhere. Only the mail to the verified address says that the
// registration joins a registered company.
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

	knownData := wizValid()
	knownData[StepNIB][FieldNIB] = []string{"9120 0099 99999"} // typed with spaces
	knownData[StepContact][FieldEmail] = []string{"known@example.co.id"}
	unknownData := wizValid()
	unknownData[StepContact][FieldEmail] = []string{"unknown@example.co.id"}
	known, unknown := e.newClient(), e.newClient()
	notice := e.T("company.join.notice")
	for _, slug := range []string{StepNPWP, StepConfirm} {
		e.fillTo(known, slug, knownData)
		e.fillTo(unknown, slug, unknownData)
		k, u := e.get(known, "/register/"+slug), e.get(unknown, "/register/"+slug)
		if k.StatusCode != u.StatusCode || strings.Contains(k.Body, notice) || strings.Contains(u.Body, notice) {
			t.Errorf("step %s: known NIB %d, unknown %d; neither may carry the join notice", slug, k.StatusCode, u.StatusCode)
		}
		for _, s := range secrets {
			if strings.Contains(k.Body, s) {
				t.Errorf("step %s shows %q", slug, s)
			}
		}
	}
	_, done := e.submitAndFollow(known)
	_, otherDone := e.submitAndFollow(unknown)
	if strings.Contains(done.Body, notice) || strings.ReplaceAll(done.Body, "known@", "") != strings.ReplaceAll(otherDone.Body, "unknown@", "") {
		t.Error("the success pages for a known and an unknown NIB differ")
	}
	for _, s := range secrets {
		if strings.Contains(done.Body, s) {
			t.Errorf("the success page shows %q", s)
		}
	}

	// The mail to the verified address says it; the other one does not.
	joined, ok := e.lastMail("known@example.co.id", "reg.mail.received.subject")
	if !ok || !strings.Contains(joined.Body, notice) || !strings.Contains(joined.Body, e.pages.T("en", "company.join.notice")) {
		t.Errorf("the known NIB's mail lacks the join notice:\n%s", joined.Body)
	}
	for _, s := range secrets {
		if strings.Contains(joined.Body, s) {
			t.Errorf("the mail shows %q", s)
		}
	}
	if plain, ok := e.lastMail("unknown@example.co.id", "reg.mail.received.subject"); !ok || strings.Contains(plain.Body, notice) {
		t.Errorf("the unknown NIB's mail (found %v) carries the join notice", ok)
	}
	var joining int
	for _, g := range e.registrations() {
		if g.NIB == org.NIB {
			joining++
		}
	}
	if joining != 1 {
		t.Errorf("%d registrations with the known NIB stored, want 1", joining)
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
