package account

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

var invitationLink = regexp.MustCompile(`https://sso\.example(/invitation\?token=[A-Za-z0-9_-]+)`)

// lastInvitation returns the path of the newest invitation link mailed to addr.
func (e *env) lastInvitation(addr string) string {
	e.t.Helper()
	msgs := e.mail.to(addr)
	if len(msgs) == 0 {
		e.t.Fatalf("no mail to %s", addr)
	}
	m := invitationLink.FindStringSubmatch(msgs[len(msgs)-1].Text)
	if m == nil {
		e.t.Fatalf("no invitation link in:\n%s", msgs[len(msgs)-1].Text)
	}
	return m[1]
}

// invite has admin invite addr and returns the link's path.
func (e *env) invite(admin *browser, addr string) string {
	e.t.Helper()
	form := admin.csrf("/company")
	form.Set("email", addr)
	resp, body := admin.post("/company/"+e.org.ID+"/invitations", form)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("invite: %d\n%s", resp.StatusCode, body)
	}
	return e.lastInvitation(addr)
}

// accept fills the invitation form at link as a new person.
func (b *browser) accept(link, name, pw string) (*http.Response, string) {
	b.e.t.Helper()
	form := b.csrf(link)
	u, _ := url.Parse(link)
	form.Set("token", u.Query().Get("token"))
	form.Set("name", name)
	form.Set("password", pw)
	form.Set("confirm", pw)
	form.Set("terms", "yes")
	return b.post("/invitation", form)
}

const invitePassword = "gudang berikat tanjung emas"

func TestCompanyPageShowsMembersAndAdminForms(t *testing.T) {
	e := newEnv(t)
	staff := e.createUser("rina", e.org.ID) // the second member: staff
	admin := e.browser(e.session(e.trader, "Firefox"))
	_, body := admin.get("/company")
	for _, want := range []string{e.org.Name, e.org.NIB, e.org.ID, "User budi", "User rina", "invite-email"} {
		if !strings.Contains(body, want) {
			t.Errorf("admin's company page lacks %q", want)
		}
	}
	member := e.browser(e.session(staff, "Firefox"))
	_, body = member.get("/company")
	if !strings.Contains(body, "User budi") || strings.Contains(body, "invite-email") || strings.Contains(body, "/remove") {
		t.Errorf("a member's page shows admin forms or lacks members:\n%s", body)
	}
	// Another company's page is a 404 to a non-member.
	outsider := e.browser(e.session(e.exporter, "Firefox"))
	if resp, _ := outsider.get("/company?org=" + e.org.ID); resp.StatusCode != http.StatusNotFound {
		t.Errorf("outsider: %d, want 404", resp.StatusCode)
	}
}

func TestNonAdminCannotInviteOrRemove(t *testing.T) {
	e := newEnv(t)
	staff := e.createUser("rina", e.org.ID)
	member := e.browser(e.session(staff, "Firefox"))
	form := member.csrf("/company")
	form.Set("email", "baru@contoh.co.id")
	if resp, _ := member.post("/company/"+e.org.ID+"/invitations", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("member invites: %d, want 403", resp.StatusCode)
	}
	if resp, _ := member.post("/company/"+e.org.ID+"/members/"+e.trader.ID+"/remove", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("member removes: %d, want 403", resp.StatusCode)
	}
	if resp, _ := member.post("/company/"+e.org.ID+"/members/"+staff.ID+"/make-admin", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("member makes self admin: %d, want 403", resp.StatusCode)
	}
	outsider := e.browser(e.session(e.exporter, "Firefox"))
	oform := outsider.csrf("/company")
	oform.Set("email", "baru@contoh.co.id")
	if resp, _ := outsider.post("/company/"+e.org.ID+"/invitations", oform); resp.StatusCode != http.StatusNotFound {
		t.Errorf("outsider invites: %d, want 404", resp.StatusCode)
	}
	if invs, _ := e.dur.PendingInvitations(t.Context(), e.org.ID); len(invs) != 0 {
		t.Errorf("refused invitations were stored: %+v", invs)
	}
	if _, err := e.dur.Membership(t.Context(), e.org.ID, e.trader.ID); err != nil {
		t.Errorf("the administrator was removed: %v", err)
	}
	if len(e.mail.to("baru@contoh.co.id")) != 0 {
		t.Error("a refused invitation was mailed")
	}
	// Without CSRF even the administrator is refused.
	admin := e.browser(e.session(e.trader, "Firefox"))
	if resp, _ := admin.post("/company/"+e.org.ID+"/invitations", url.Values{"email": {"x@contoh.co.id"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("invite without CSRF: %d, want 403", resp.StatusCode)
	}
}

func TestInvitationIsSingleUseAndExpires(t *testing.T) {
	e := newEnv(t)
	admin := e.browser(e.session(e.trader, "Firefox"))
	link := e.invite(admin, "dewi@contoh.co.id")

	invitee := e.browser(storage.Session{})
	resp, body := invitee.get(link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, e.org.Name) {
		t.Fatalf("invitation page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = invitee.accept(link, "Dewi Lestari", invitePassword)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "dewi") {
		t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
	}
	u, err := e.dur.UserByLogin(t.Context(), "dewi@contoh.co.id")
	if err != nil || !u.EmailVerified || u.PasswordHash == "" || u.Name != "Dewi Lestari" {
		t.Fatalf("invited user = (%+v, %v)", u, err)
	}
	if m, err := e.dur.Membership(t.Context(), e.org.ID, u.ID); err != nil || m.Role != storage.MemberStaff {
		t.Errorf("invited membership = (%+v, %v)", m, err)
	}
	// Single use: the same link again is the dead-link page, and a second
	// account is not made.
	again := e.browser(storage.Session{})
	if resp, _ := again.get(link); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("used link page: %d, want 400", resp.StatusCode)
	}

	// Expiry, on the injected clock; and a resend kills the old link.
	old := e.invite(admin, "eko@contoh.co.id")
	form := admin.csrf("/company")
	invs, err := e.dur.PendingInvitations(t.Context(), e.org.ID)
	if err != nil || len(invs) != 1 {
		t.Fatalf("pending = (%v, %v)", invs, err)
	}
	if resp, _ := admin.post("/company/"+e.org.ID+"/invitations/"+invs[0].ID+"/resend", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d", resp.StatusCode)
	}
	fresh := e.lastInvitation("eko@contoh.co.id")
	if fresh == old {
		t.Fatal("resend mailed the same link")
	}
	if resp, _ := e.browser(storage.Session{}).get(old); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the replaced link still works: %d", resp.StatusCode)
	}
	e.clock.Advance(InvitationTTL - time.Minute)
	if resp, _ := e.browser(storage.Session{}).get(fresh); resp.StatusCode != http.StatusOK {
		t.Errorf("link before expiry: %d, want 200", resp.StatusCode)
	}
	late := e.browser(storage.Session{})
	form = late.csrf(fresh)
	e.clock.Advance(time.Minute)
	u2, _ := url.Parse(fresh)
	form.Set("token", u2.Query().Get("token"))
	form.Set("name", "Eko")
	form.Set("password", invitePassword)
	form.Set("confirm", invitePassword)
	form.Set("terms", "yes")
	if resp, _ := late.post("/invitation", form); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("accept at expiry: %d, want 400", resp.StatusCode)
	}
	if _, err := e.dur.UserByLogin(t.Context(), "eko@contoh.co.id"); err == nil {
		t.Error("an expired invitation created an account")
	}

	// Cancel (a new session: the clock moved past the old one's end).
	admin = e.browser(e.session(e.trader, "Firefox"))
	e.invite(admin, "fajar@contoh.co.id")
	invs, _ = e.dur.PendingInvitations(t.Context(), e.org.ID)
	var id string
	for _, v := range invs {
		if v.Email == "fajar@contoh.co.id" {
			id = v.ID
		}
	}
	if resp, _ := admin.post("/company/"+e.org.ID+"/invitations/"+id+"/cancel", admin.csrf("/company")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if resp, _ := e.browser(storage.Session{}).get(e.lastInvitation("fajar@contoh.co.id")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a cancelled link works: %d", resp.StatusCode)
	}
}

func TestInvitationNeedsTermsAndPassword(t *testing.T) {
	e := newEnv(t)
	admin := e.browser(e.session(e.trader, "Firefox"))
	link := e.invite(admin, "gita@contoh.co.id")
	b := e.browser(storage.Session{})
	form := b.csrf(link)
	u, _ := url.Parse(link)
	form.Set("token", u.Query().Get("token"))
	form.Set("name", "Gita")
	form.Set("password", invitePassword)
	form.Set("confirm", invitePassword)
	if _, body := b.post("/invitation", form); !strings.Contains(body, `id="terms-error"`) {
		t.Errorf("no terms error:\n%s", body)
	}
	// The refused attempt did not use the link up.
	if resp, _ := b.accept(link, "Gita", invitePassword); resp.StatusCode != http.StatusOK {
		t.Errorf("accept after a refused attempt: %d", resp.StatusCode)
	}
}

func TestRemovingAMemberEndsTheirAccess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	staff := e.createUser("rina", e.org.ID)
	s := e.session(staff, "Firefox")
	now := e.clock.Now()
	rt := storage.RefreshToken{ID: "rt-rina", FamilyID: "fam", ClientID: "insw", UserID: staff.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.dur.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	admin := e.browser(e.session(e.trader, "Firefox"))
	resp, _ := admin.post("/company/"+e.org.ID+"/members/"+staff.ID+"/remove", admin.csrf("/company"))
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=removed")
	if _, err := e.dur.Membership(ctx, e.org.ID, staff.ID); err == nil {
		t.Error("still a member")
	}
	if _, err := e.eph.SessionByID(ctx, s.ID); err == nil {
		t.Error("the removed member's session lives on")
	}
	if _, err := e.dur.RefreshTokenByID(ctx, rt.ID); err == nil {
		t.Error("the removed member's refresh token lives on")
	}
	if len(e.mail.to(staff.Email)) != 1 {
		t.Error("no removal mail")
	}
	// The administrator cannot remove themselves.
	if resp, _ := admin.post("/company/"+e.org.ID+"/members/"+e.trader.ID+"/remove", admin.csrf("/company")); resp.StatusCode != http.StatusConflict {
		t.Errorf("self removal: %d, want 409", resp.StatusCode)
	}
}

func TestAdminTransferAndOfficerRole(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	staff := e.createUser("rina", e.org.ID)
	admin := e.browser(e.session(e.trader, "Firefox"))
	resp, _ := admin.post("/company/"+e.org.ID+"/members/"+staff.ID+"/make-admin", admin.csrf("/company"))
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=transferred")
	if m, _ := e.dur.Membership(ctx, e.org.ID, staff.ID); m.Role != storage.MemberAdmin {
		t.Errorf("new admin's role %q", m.Role)
	}
	// The former administrator is a member now and may no longer invite.
	form := admin.csrf("/company")
	form.Set("email", "x@contoh.co.id")
	if resp, _ := admin.post("/company/"+e.org.ID+"/invitations", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("former admin invites: %d, want 403", resp.StatusCode)
	}
	// An officer gives it back; a trader may not use the officer's form.
	officer := e.createUser("petugas", "")
	if err := e.dur.UpdateUser(ctx, officer.ID, func(u *storage.User) error { u.Roles = []string{storage.RoleOfficer}; return nil }); err != nil {
		t.Fatal(err)
	}
	ob := e.browser(e.session(officer, "Firefox"))
	oform := ob.csrf("/company?org=" + e.org.ID)
	oform.Set("role", "admin")
	resp, _ = ob.post("/company/"+e.org.ID+"/members/"+e.trader.ID+"/role", oform)
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=role")
	if m, _ := e.dur.Membership(ctx, e.org.ID, e.trader.ID); m.Role != storage.MemberAdmin {
		t.Errorf("officer-set role %q", m.Role)
	}
	tform := admin.csrf("/company")
	tform.Set("role", "admin")
	if resp, _ := admin.post("/company/"+e.org.ID+"/members/"+e.trader.ID+"/role", tform); resp.StatusCode != http.StatusForbidden {
		t.Errorf("trader uses the officer form: %d, want 403", resp.StatusCode)
	}
}

// A member of two companies picks, per application, the one it receives.
func TestAppsOrganizationChoiceIsPerApp(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	second := storage.Organization{ID: storage.NewID(), NIB: "9120003333333", NPWP: "013333333333000",
		Name: "PT Kedua Logistik", TraderType: "importir", BusinessType: "pt", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.dur.CreateOrganization(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := e.dur.AddMembership(ctx, storage.Membership{OrganizationID: second.ID, UserID: e.trader.ID,
		Role: storage.MemberStaff, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	a := e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, LaunchURL: "https://ebpom.example/"})
	b := e.createClient(storage.Client{ID: "insw", Name: "INSW", Listed: true, LaunchURL: "https://insw.example/"})
	user := e.browser(e.session(e.trader, "Firefox"))
	_, body := user.get("/apps")
	if !strings.Contains(body, "PT Kedua Logistik") || !strings.Contains(body, `action="/apps/ebpom/organization"`) {
		t.Fatalf("no organization select:\n%s", body)
	}
	form := user.csrf("/apps")
	form.Set("organization", second.ID)
	resp, _ := user.post("/apps/"+a.ID+"/organization", form)
	wantRedirect(t, resp, "/apps?done=organization")
	if got, err := e.dur.ChosenOrganization(ctx, e.trader.ID, a.ID); err != nil || got != second.ID {
		t.Errorf("choice for %s = (%q, %v)", a.ID, got, err)
	}
	if _, err := e.dur.ChosenOrganization(ctx, e.trader.ID, b.ID); err == nil {
		t.Errorf("the choice spilled over to %s", b.ID)
	}
	// An organization the user is not in is refused.
	form = user.csrf("/apps")
	form.Set("organization", e.exporter.OrganizationID)
	if resp, _ := user.post("/apps/"+b.ID+"/organization", form); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("foreign organization: %d, want 400", resp.StatusCode)
	}
}

// With the officer's confirmation on, an invited person's new account
// starts disabled; the page says what happens next.
func TestInvitationAwaitsOfficerWhenConfigured(t *testing.T) {
	e := newEnv(t)
	e.h.InviteNeedsOfficer = true
	admin := e.browser(e.session(e.trader, "Firefox"))
	link := e.invite(admin, "hadi@contoh.co.id")
	b := e.browser(storage.Session{})
	resp, body := b.accept(link, "Hadi", invitePassword)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, html.EscapeString(e.h.Pages.T("id", "company.invitation.done_needs_officer"))) {
		t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
	}
	u, err := e.dur.UserByLogin(t.Context(), "hadi@contoh.co.id")
	if err != nil || !u.Disabled {
		t.Fatalf("invited account = (%+v, %v), want disabled", u, err)
	}
	// The administrator cannot confirm; an officer can.
	form := admin.csrf("/company")
	if resp, _ := admin.post("/company/"+e.org.ID+"/members/"+u.ID+"/confirm", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("administrator confirms: %d, want 403", resp.StatusCode)
	}
	officer := e.createUser("petugas", "")
	if err := e.dur.UpdateUser(t.Context(), officer.ID, func(u *storage.User) error { u.Roles = []string{storage.RoleOfficer}; return nil }); err != nil {
		t.Fatal(err)
	}
	ob := e.browser(e.session(officer, "Firefox"))
	_, page := ob.get("/company?org=" + e.org.ID)
	if !strings.Contains(page, "/members/"+u.ID+"/confirm") {
		t.Fatalf("the officer is not offered the confirmation:\n%s", page)
	}
	resp, _ = ob.post("/company/"+e.org.ID+"/members/"+u.ID+"/confirm", ob.csrf("/company?org="+e.org.ID))
	wantRedirect(t, resp, "/company?org="+e.org.ID+"&done=confirmed")
	if u, err := e.dur.UserByID(t.Context(), u.ID); err != nil || u.Disabled {
		t.Errorf("after confirmation = (%+v, %v), want enabled", u, err)
	}
}

// Someone whose email has an account accepts while signed in as it, and
// only then: the link never sets a password on an existing account.
func TestInvitationForAnExistingAccount(t *testing.T) {
	e := newEnv(t)
	admin := e.browser(e.session(e.trader, "Firefox"))
	link := e.invite(admin, e.exporter.Email)
	stranger := e.browser(storage.Session{})
	if _, body := stranger.get(link); strings.Contains(body, `name="password"`) {
		t.Fatal("the link offers to set a password on an existing account")
	}
	// Someone else signed in cannot take it.
	other := e.browser(e.session(e.createUser("lain", ""), "Firefox"))
	// The page offers them no form; a forged post is refused.
	form := other.csrf("/company")
	u, _ := url.Parse(link)
	form.Set("token", u.Query().Get("token"))
	if _, body := other.post("/invitation", form); !strings.Contains(body, html.EscapeString(e.h.Pages.T("id", "company.invitation.sign_in_first"))) {
		t.Errorf("a forged acceptance by another account:\n%s", body)
	}
	if _, err := e.dur.Membership(t.Context(), e.org.ID, e.exporter.ID); err == nil {
		t.Fatal("another account's session accepted the invitation")
	}
	owner := e.browser(e.session(e.exporter, "Firefox"))
	form = owner.csrf(link)
	form.Set("token", u.Query().Get("token"))
	if resp, body := owner.post("/invitation", form); resp.StatusCode != http.StatusOK {
		t.Fatalf("owner accepts: %d\n%s", resp.StatusCode, body)
	}
	if m, err := e.dur.Membership(t.Context(), e.org.ID, e.exporter.ID); err != nil || m.Role != storage.MemberStaff {
		t.Errorf("membership = (%+v, %v)", m, err)
	}
	// Now in two companies: the company page lets them switch.
	if _, body := owner.get("/company"); !strings.Contains(body, e.org.Name) || !strings.Contains(body, "CV Ekspor Jaya") {
		t.Errorf("the company page does not list both companies:\n%s", body)
	}
}

// The chooser after sign-in belongs to the user who signed in: another
// account's session sees the expired page; the owner's choice is stored
// for that client and the browser goes on to the callback.
func TestChooserBelongsToTheSignedInUser(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	second := storage.Organization{ID: storage.NewID(), NIB: "9120004444444", Name: "PT Grup Dua", CreatedAt: e.clock.Now()}
	if err := e.dur.CreateOrganization(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := e.dur.AddMembership(ctx, storage.Membership{OrganizationID: second.ID, UserID: e.trader.ID,
		Role: storage.MemberStaff, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	c := e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM"})
	ar := storage.AuthRequest{ID: storage.NewID(), ClientID: c.ID, Done: true, UserID: e.trader.ID, CreatedAt: e.clock.Now()}
	if err := e.eph.CreateAuthRequest(ctx, ar, time.Hour); err != nil {
		t.Fatal(err)
	}
	to, err := e.h.OrganizationChoice(ctx, e.trader.ID, c.ID, ar.ID)
	if err != nil || to != "/organization?authRequestID="+ar.ID {
		t.Fatalf("OrganizationChoice = (%q, %v)", to, err)
	}
	if to, _ := e.h.OrganizationChoice(ctx, e.exporter.ID, c.ID, ar.ID); to != "" {
		t.Errorf("a member of one company is sent to the chooser: %q", to)
	}
	other := e.browser(e.session(e.exporter, "Firefox"))
	if resp, _ := other.get("/organization?authRequestID=" + ar.ID); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("another user's chooser: %d, want 400", resp.StatusCode)
	}
	owner := e.browser(e.session(e.trader, "Firefox"))
	resp, body := owner.get("/organization?authRequestID=" + ar.ID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "PT Grup Dua") || !strings.Contains(body, e.org.Name) {
		t.Fatalf("chooser: %d\n%s", resp.StatusCode, body)
	}
	form := owner.csrf("/organization?authRequestID=" + ar.ID)
	form.Set("authRequestID", ar.ID)
	form.Set("organization", second.ID)
	resp, _ = owner.post("/organization", form)
	wantRedirect(t, resp, "/authorize/callback?id="+ar.ID)
	if got, err := e.dur.ChosenOrganization(ctx, e.trader.ID, c.ID); err != nil || got != second.ID {
		t.Errorf("stored choice = (%q, %v)", got, err)
	}
	if to, _ := e.h.OrganizationChoice(ctx, e.trader.ID, c.ID, ar.ID); to != "" {
		t.Errorf("after choosing, still sent to the chooser: %q", to)
	}
}
