package account

import (
	"net/http"
	"testing"

	"satupintu/storage"
)

// The account and company changes store their audit event in the
// transaction of the change (storage.WithAudit): one event with the right
// fields when the change commits, none when the store refuses it or
// nothing changes.

// eventsOf returns the events with action, newest first.
func (e *env) eventsOf(action string) []storage.AuditEvent {
	e.t.Helper()
	all, err := e.dur.ListAudit(e.t.Context(), 0, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []storage.AuditEvent
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

func TestProfileEventOnlyForAChange(t *testing.T) {
	e := newEnv(t)
	b := e.browser(e.session(e.trader, "test"))
	for range 2 { // the second time nothing changes
		form := b.csrf("/profile")
		form.Set("name", "Budi Santoso")
		form.Set("phone", e.trader.Phone)
		form.Set("position", e.trader.Position)
		resp, _ := b.post("/profile", form)
		wantRedirect(t, resp, "/profile?done=saved")
	}
	a := e.eventsOf("profile.update")
	if len(a) != 1 || a[0].ActorID != e.trader.ID || a[0].Subject != e.trader.ID || a[0].Detail["fields"] != "name" || a[0].IP == "" {
		t.Errorf("profile events: %+v", a)
	}
}

func TestCompanyEventsGoWithTheChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	staff := e.createUser("rina", e.org.ID)
	admin := e.browser(e.session(e.trader, "Firefox"))

	// Cancelling an invitation once; a second time deletes nothing.
	e.invite(admin, "fajar@contoh.co.id")
	invs, _ := e.dur.PendingInvitations(ctx, e.org.ID)
	if len(invs) != 1 {
		t.Fatalf("invitations %+v", invs)
	}
	cancel := "/company/" + e.org.ID + "/invitations/" + invs[0].ID + "/cancel"
	if resp, _ := admin.post(cancel, admin.csrf("/company")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(cancel, admin.csrf("/company")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second cancel: %d", resp.StatusCode)
	}
	if a := e.eventsOf("company.invite_cancel"); len(a) != 1 || a[0].ActorID != e.trader.ID || a[0].Subject != e.org.ID ||
		a[0].Detail["invitation_id"] != invs[0].ID {
		t.Errorf("cancel events: %+v", a)
	}

	resp, _ := admin.post("/company/"+e.org.ID+"/members/"+staff.ID+"/make-admin", admin.csrf("/company"))
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=transferred")
	if a := e.eventsOf("company.admin_transfer"); len(a) != 1 || a[0].ActorID != e.trader.ID || a[0].Subject != e.org.ID ||
		a[0].Detail["from"] != e.trader.ID || a[0].Detail["to"] != staff.ID {
		t.Errorf("transfer events: %+v", a)
	}

	officer := e.createUser("petugas", "")
	if err := e.dur.UpdateUser(ctx, officer.ID, func(u *storage.User) error { u.Roles = []string{storage.RoleOfficer}; return nil }); err != nil {
		t.Fatal(err)
	}
	ob := e.browser(e.session(officer, "Firefox"))
	// A role for someone of no membership: the store refuses, no event.
	outsider := e.createUser("luar", "")
	form := ob.csrf("/company?org=" + e.org.ID)
	form.Set("role", "admin")
	if resp, _ := ob.post("/company/"+e.org.ID+"/members/"+outsider.ID+"/role", form); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("role for an outsider: %d", resp.StatusCode)
	}
	if a := e.eventsOf("company.role_set"); len(a) != 0 {
		t.Errorf("refused role audited: %+v", a)
	}
	resp, _ = ob.post("/company/"+e.org.ID+"/members/"+e.trader.ID+"/role", form)
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=role")
	if a := e.eventsOf("company.role_set"); len(a) != 1 || a[0].ActorID != officer.ID || a[0].Subject != e.org.ID ||
		a[0].Detail["user_id"] != e.trader.ID || a[0].Detail["role"] != "admin" {
		t.Errorf("role events: %+v", a)
	}
}
