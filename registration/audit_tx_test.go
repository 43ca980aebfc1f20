package registration

import (
	"net/http"
	"net/url"
	"testing"

	"satupintu/storage"
)

// The registration actions store their audit event in the transaction of
// the change (storage.WithAudit): one event with the right fields when the
// change commits, none when the store refuses it.

func TestDecisionEventsGoWithTheDecision(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("andi.pratama")
	g := e.seed(nil)
	detail := "/officer/registrations/" + g.ID
	reviewWantRedirect(t, e.decide(oc, g.ID, "review", nil), detail+"?notice=decided")
	reviewWantRedirect(t, e.decide(oc, g.ID, "reject", url.Values{"note": {"Dokumen tidak terbaca."}}), detail+"?notice=decided")

	for action, status := range map[string]string{"registration.review": "in_review", "registration.reject": "rejected"} {
		a := e.audits(action)
		if len(a) != 1 || a[0].ActorID != officer.ID || a[0].Subject != g.ID || a[0].Detail["status"] != status ||
			a[0].Detail["service_number"] != g.ServiceNumber || a[0].IP == "" || !a[0].Time.Equal(e.clock.Now()) {
			t.Errorf("audit %s: %+v", action, a)
		}
	}
	// A decision on a decided registration is refused under the row lock
	// (the store's transaction rolls back): no event.
	reviewWant(t, e.decide(oc, g.ID, "revision", url.Values{"note": {"Perbaiki NIB."}}), http.StatusConflict, e.T("officer.conflict"))
	if a := e.audits("registration.request_revision"); len(a) != 0 {
		t.Errorf("refused decision audited: %+v", a)
	}
}

func TestApprovalEventNamesTheOrganizationJoined(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("andi.pratama")
	first := e.approved(oc, e.seed(nil))
	second := e.approved(oc, e.seed(func(g *storage.Registration, _ *storage.Document) { g.NIB = first.NIB }))
	if second.OrganizationID != first.OrganizationID {
		t.Fatalf("second approval did not join: %s vs %s", second.OrganizationID, first.OrganizationID)
	}
	a := e.audits("registration.approve")
	if len(a) != 2 {
		t.Fatalf("approve events: %+v", a)
	}
	for i, want := range []struct {
		g      storage.Registration
		joined string
	}{{first, "false"}, {second, "true"}} {
		if a[i].ActorID != officer.ID || a[i].Subject != want.g.ID || a[i].Detail["organization_id"] != want.g.OrganizationID ||
			a[i].Detail["user_id"] != want.g.UserID || a[i].Detail["joined"] != want.joined {
			t.Errorf("approve event %d: %+v, want registration %+v", i, a[i], want.g)
		}
	}
	// Resending the link stores its token and its event together.
	reviewWantRedirect(t, e.decide(oc, second.ID, "resend-activation", nil), "/officer/registrations/"+second.ID+"?notice=mail_sent")
	if r := e.audits("registration.resend_activation"); len(r) != 1 || r[0].Subject != second.ID || r[0].Detail["user_id"] != second.UserID {
		t.Errorf("resend events: %+v", r)
	}
}

func TestRefusedActivationWritesNoEvent(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.approved(oc, e.seed(nil))
	first, _ := e.activationLink(g.Email)
	reviewWantRedirect(t, e.decide(oc, g.ID, "resend-activation", nil), "/officer/registrations/"+g.ID+"?notice=mail_sent")
	second, _ := e.activationLink(g.Email)
	reviewWant(t, e.activate(e.client(), second, reviewPassword, reviewPassword), http.StatusOK, e.T("activate.done_title"))
	// The first link is unused: it is consumed, but the account is active,
	// so the update is refused and nothing is recorded.
	reviewWant(t, e.postActivate(e.client(), first, "kata sandi lain sekali"), http.StatusBadRequest, e.T("activate.invalid"))
	if a := e.audits("user.activate"); len(a) != 1 || a[0].ActorID != g.UserID || a[0].Subject != g.UserID {
		t.Errorf("activate events: %+v", a)
	}
}
