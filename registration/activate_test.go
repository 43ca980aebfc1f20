package registration

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/web/webtest"
)

// approved runs a registration through review and approval in the officer
// UI and returns it as stored afterwards.
func (e *reviewEnv) approved(oc *http.Client, g storage.Registration) storage.Registration {
	e.t.Helper()
	detail := "/officer/registrations/" + g.ID
	reviewWantRedirect(e.t, e.decide(oc, g.ID, "review", nil), detail+"?notice=decided")
	reviewWantRedirect(e.t, e.decide(oc, g.ID, "approve", nil), detail+"?notice=approved")
	return e.registration(g.ID)
}

// activationLink waits for the next activation email to addr and returns
// the link in it, checking that it points at this server.
func (e *reviewEnv) activationLink(addr string) (string, mailtest.Received) {
	e.t.Helper()
	m := e.smtp.WaitFor(e.t, addr, 60*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(e.srv.URL) + `/activate\?token=[A-Za-z0-9_-]+`).FindString(m.Body)
	if link == "" {
		e.t.Fatalf("no activation link in:\n%s", m.Body)
	}
	return strings.TrimPrefix(link, e.srv.URL), m
}

// activate opens link and sets pw with confirmation confirm.
func (e *reviewEnv) activate(c *http.Client, link, pw, confirm string) webtest.Response {
	e.t.Helper()
	page := e.get(c, link)
	reviewWant(e.t, page, http.StatusOK, `name="token"`)
	u, _ := url.Parse(link)
	return e.post(c, "/activate", url.Values{
		"csrf_token": {reviewCSRFField.FindStringSubmatch(page.Body)[1]},
		"token":      {u.Query().Get("token")}, "password": {pw}, "confirm": {confirm},
	})
}

// postActivate posts link's token with pw twice, with a CSRF token from
// another page of c (the link's own page no longer offers the form).
func (e *reviewEnv) postActivate(c *http.Client, link, pw string) webtest.Response {
	e.t.Helper()
	page := e.get(c, "/track")
	u, _ := url.Parse(link)
	return e.post(c, "/activate", url.Values{
		"csrf_token": {reviewCSRFField.FindStringSubmatch(page.Body)[1]},
		"token":      {u.Query().Get("token")}, "password": {pw}, "confirm": {pw},
	})
}

const reviewPassword = "pelabuhan tanjung priok pagi"

func TestApprovalCreatesAccountAndActivationWorks(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("andi.pratama")
	g := e.seed(func(g *storage.Registration, _ *storage.Document) { g.Email = "Siti.Rahayu+PPJK@SinarSamudra.example" })
	g = e.approved(oc, g)

	if g.Status != storage.StatusApproved || g.OrganizationID == "" || g.UserID == "" {
		t.Fatalf("registration after approval: %+v", g)
	}
	org, err := e.dur.OrganizationByNIB(t.Context(), g.NIB)
	if err != nil {
		t.Fatal(err)
	}
	wantOrg := storage.Organization{ID: g.OrganizationID, NIB: g.NIB, NPWP: g.NPWP, Name: g.OrgName,
		TraderType: g.TraderType, BusinessType: g.BusinessType, Address: g.Address}
	if diff := cmp.Diff(wantOrg, org, cmpopts.IgnoreFields(storage.Organization{}, "CreatedAt", "UpdatedAt")); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}
	u, err := e.dur.UserByID(t.Context(), g.UserID)
	if err != nil {
		t.Fatal(err)
	}
	wantUser := storage.User{ID: g.UserID, Username: "siti.rahayuppjk", Email: "siti.rahayu+ppjk@sinarsamudra.example",
		Name: g.FullName, Phone: g.Phone, Position: g.Position, OrganizationID: org.ID}
	if diff := cmp.Diff(wantUser, u, cmpopts.IgnoreFields(storage.User{}, "CreatedAt", "UpdatedAt"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if a := e.audits("registration.approve"); len(a) != 1 || a[0].ActorID != officer.ID || a[0].Subject != g.ID || a[0].Detail["activation_mail"] != "queued" {
		t.Errorf("audit %+v", a)
	}

	// The real message, as it crossed SMTP.
	link, m := e.activationLink(u.Email)
	if !strings.Contains(m.Subject, "Aktivasi akun satupintu") || !strings.Contains(m.Subject, "Activate your satupintu account") {
		t.Errorf("subject %q", m.Subject)
	}
	id, en := strings.Index(m.Body, "Nama pengguna Anda: siti.rahayuppjk"), strings.Index(m.Body, "Your username: siti.rahayuppjk")
	if id < 0 || en < 0 || id > en {
		t.Errorf("body is not Indonesian then English with the username:\n%s", m.Body)
	}
	if !strings.Contains(m.Body, g.ServiceNumber) || !strings.Contains(m.Body, "2025-03-04 09:00 WIB") {
		t.Errorf("body lacks the service number or the expiry:\n%s", m.Body)
	}

	// The officer sees the account but never the link.
	token := strings.TrimPrefix(link, "/activate?token=")
	page := e.get(oc, "/officer/registrations/"+g.ID+"?notice=approved")
	reviewWant(t, page, http.StatusOK, e.T("officer.approved", u.Email), "siti.rahayuppjk", e.T("officer.not_activated"), e.T("officer.resend"))
	if strings.Contains(page.Body, token) || strings.Contains(page.Body, activationTokenID(token)) {
		t.Error("the officer page shows the activation token")
	}

	// Opening the link twice (a mail scanner, then the user) consumes nothing.
	c := e.client()
	e.get(c, link)
	res := e.activate(c, link, reviewPassword, reviewPassword)
	reviewWant(t, res, http.StatusOK, e.T("activate.done", "siti.rahayuppjk"), `href="/login"`)
	u, err = e.dur.UserByID(t.Context(), g.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.EmailVerified || password.Verify(reviewPassword, u.PasswordHash) != nil {
		t.Errorf("after activation: verified=%v, password set=%v", u.EmailVerified, u.PasswordHash != "")
	}
	if a := e.audits("user.activate"); len(a) != 1 || a[0].ActorID != u.ID {
		t.Errorf("audit %+v", a)
	}
	reviewWant(t, e.get(oc, "/officer/registrations/"+g.ID), http.StatusOK, e.T("officer.activated"))

	// Replay: the same link again, from the same or another browser: the
	// page says at once that it is used, and a POST is refused too.
	hash := u.PasswordHash
	for _, c := range []*http.Client{c, e.client()} {
		reviewWant(t, e.get(c, link), http.StatusBadRequest, e.T("activate.invalid"))
		res := e.postActivate(c, link, "kata sandi penyerang")
		reviewWant(t, res, http.StatusBadRequest, e.T("activate.invalid"))
	}
	if u, _ := e.dur.UserByID(t.Context(), g.UserID); u.PasswordHash != hash {
		t.Error("a replayed link changed the password")
	}
	// Nor can the officer send a new link to an active account.
	reviewWant(t, e.decide(oc, g.ID, "resend-activation", nil), http.StatusConflict, e.T("officer.already_active"))
}

func TestActivationLinkExpires(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.approved(oc, e.seed(nil))
	link, _ := e.activationLink(g.Email)
	c := e.client()
	page := e.get(c, link)
	e.clock.Advance(ActivationTTL)
	u, _ := url.Parse(link)
	res := e.post(c, "/activate", url.Values{"csrf_token": {reviewCSRFField.FindStringSubmatch(page.Body)[1]},
		"token": {u.Query().Get("token")}, "password": {reviewPassword}, "confirm": {reviewPassword}})
	reviewWant(t, res, http.StatusBadRequest, e.T("activate.invalid"))
	if u, _ := e.dur.UserByID(t.Context(), g.UserID); u.PasswordHash != "" || u.EmailVerified {
		t.Error("an expired link activated the account")
	}
}

func TestActivationForm(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.approved(oc, e.seed(nil))
	link, _ := e.activationLink(g.Email)
	c := e.client()

	for _, tc := range []struct {
		name, pw, confirm, want string
	}{
		{"empty", "", "", e.T(password.KeyRequired)},
		{"seven characters", "1234567", "1234567", e.T(password.KeyTooShort, MinPasswordLength)},
		{"eight bytes but four characters", "éééé", "éééé", e.T(password.KeyTooShort, MinPasswordLength)},
		{"over the hashing limit", strings.Repeat("a", password.MaxLength+1), strings.Repeat("a", password.MaxLength+1), e.T(password.KeyTooLong, password.MaxLength)},
		{"a common password", "Password123!", "Password123!", e.T(password.KeyCommon)},
		{"confirmation differs", reviewPassword, reviewPassword + " ", e.T("activate.confirm_mismatch")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.activate(c, link, tc.pw, tc.confirm)
			reviewWant(t, res, http.StatusOK, tc.want, `name="token"`)
			if strings.Contains(res.Body, "value=\""+tc.pw) && tc.pw != "" {
				t.Error("the password is echoed back")
			}
		})
	}
	// None of that used the link up.
	reviewWant(t, e.activate(c, link, "pelabuhan sunda kelapa", "pelabuhan sunda kelapa"), http.StatusOK, e.T("activate.done_title"))

	// Malformed links never reach the store.
	for _, bad := range []string{"/activate", "/activate?token=abc", "/activate?token=" + strings.Repeat("*", activationSecretLen)} {
		reviewWant(t, e.get(c, bad), http.StatusBadRequest, e.T("activate.invalid"))
	}
	// An unknown but well-formed token: the same page, and the same answer
	// to a POST.
	secret, _ := newActivationToken("nobody", e.clock.Now())
	reviewWant(t, e.get(c, "/activate?token="+secret), http.StatusBadRequest, e.T("activate.invalid"))
	reviewWant(t, e.postActivate(c, "/activate?token="+secret, reviewPassword), http.StatusBadRequest, e.T("activate.invalid"))
	// And CSRF is required.
	e.get(c, "/activate?token="+secret)
	reviewWant(t, e.post(c, "/activate", url.Values{"token": {secret}, "password": {reviewPassword}, "confirm": {reviewPassword}}),
		http.StatusForbidden, e.T("error.csrf"))
}

func TestApprovalRefusedWhenAccountExists(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")

	for _, tc := range []struct {
		name  string
		setup func(g storage.Registration)
	}{
		{"email has an account", func(g storage.Registration) {
			u := e.createUser("lama")
			e.dur.UpdateUser(t.Context(), u.ID, func(u *storage.User) error { u.Email = g.Email; return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := e.seed(nil)
			e.setStatus(g.ID, storage.StatusInReview, "o", "")
			tc.setup(g)
			orgsBefore := e.countOrganizations(g.NIB)
			res := e.decide(oc, g.ID, "approve", nil)
			reviewWant(t, res, http.StatusConflict, e.T("officer.exists"))
			if got := e.registration(g.ID); got.Status != storage.StatusInReview || got.UserID != "" || got.OrganizationID != "" {
				t.Errorf("registration after refusal: %+v", got)
			}
			if e.countOrganizations(g.NIB) != orgsBefore {
				t.Error("an organization was created")
			}
			if u, err := e.dur.UserByLogin(t.Context(), usernameBase(g.Email)); err == nil {
				t.Errorf("a user was created: %+v", u)
			}
		})
	}
	e.outbox.Settle(t)
	if n := len(e.smtp.Messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

// countOrganizations is 1 if an organization holds nib, else 0 (NIBs are
// unique).
func (e *reviewEnv) countOrganizations(nib string) int {
	if _, err := e.dur.OrganizationByNIB(e.t.Context(), nib); err == nil {
		return 1
	}
	return 0
}

func TestApprovalPicksAFreeUsername(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	e.createUser("siti") // takes the plain name; a different email
	g := e.approved(oc, e.seed(func(g *storage.Registration, _ *storage.Document) { g.Email = "siti@sinarsamudra.example" }))
	u, err := e.dur.UserByID(t.Context(), g.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^siti-[a-z2-7]{4}$`).MatchString(u.Username) {
		t.Errorf("username %q", u.Username)
	}
}

func TestUsernameBase(t *testing.T) {
	for email, want := range map[string]string{
		"budi@example.co.id":                 "budi",
		"Budi.Santoso+ppjk@example.co.id":    "budi.santosoppjk",
		"o'brien@example.com":                "obrien",
		"_-.x@example.com":                   "x",
		"+++@example.com":                    "user",
		strings.Repeat("a", 64) + "@e.co.id": strings.Repeat("a", maxUsernameBase),
	} {
		if got := usernameBase(email); got != want {
			t.Errorf("usernameBase(%q) = %q, want %q", email, got, want)
		}
	}
}

// The activation mail is queued with the approval: a mail server that is
// down delays it, and it arrives once the server is back.
func TestActivationMailWaitsForTheMailServer(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("petugas")
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	broken, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, From: "noreply@satupintu.example"})
	if err != nil {
		t.Fatal(err)
	}
	working := *e.mailer.to.Load()
	e.mailer.set(broken)

	g := e.seed(nil)
	detail := "/officer/registrations/" + g.ID
	reviewWantRedirect(t, e.decide(oc, g.ID, "review", nil), detail+"?notice=decided")
	reviewWantRedirect(t, e.decide(oc, g.ID, "approve", nil), detail+"?notice=approved")
	if got := e.registration(g.ID); got.Status != storage.StatusApproved || got.UserID == "" {
		t.Fatalf("approval did not stand: %+v", got)
	}
	if a := e.audits("registration.approve"); len(a) != 1 || a[0].ActorID != officer.ID || a[0].Detail["activation_mail"] != "queued" {
		t.Errorf("audit %+v", a)
	}

	e.mailer.set(working)
	link, _ := e.activationLink(g.Email)
	reviewWant(t, e.activate(e.client(), link, reviewPassword, reviewPassword), http.StatusOK, e.T("activate.done_title"))
	if got := e.smtp.Messages(); len(got) != 1 {
		t.Errorf("%d mails arrived, want the one activation mail", len(got))
	}
}

func TestEarlierLinkDiesWithActivation(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.approved(oc, e.seed(nil))
	first, _ := e.activationLink(g.Email)
	reviewWantRedirect(t, e.decide(oc, g.ID, "resend-activation", nil), "/officer/registrations/"+g.ID+"?notice=mail_sent")
	second, _ := e.activationLink(g.Email)
	if first == second {
		t.Fatal("the resent link is the same")
	}
	reviewWant(t, e.activate(e.client(), second, reviewPassword, reviewPassword), http.StatusOK, e.T("activate.done_title"))
	// The first link is still unexpired and unused, but the account has a
	// password now: it must not work as a password reset, and says so
	// before asking for a password; so does the used link.
	for _, link := range []string{first, second} {
		reviewWant(t, e.get(e.client(), link), http.StatusBadRequest, e.T("activate.invalid"))
	}
	u, _ := e.dur.UserByID(t.Context(), g.UserID)
	if password.Verify(reviewPassword, u.PasswordHash) != nil {
		t.Error("the first link changed the password")
	}
}

func TestActivationTokenShape(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	secret, tok := newActivationToken("u1", now)
	other, _ := newActivationToken("u1", now)
	if !wellFormedSecret(secret) || secret == other {
		t.Errorf("secret %q", secret)
	}
	if tok.ID != activationTokenID(secret) || len(tok.ID) != 64 || strings.Contains(tok.ID, secret) {
		t.Errorf("stored id %q", tok.ID)
	}
	if tok.Purpose != storage.TokenActivation || tok.UserID != "u1" || !tok.ExpiresAt.Equal(now.Add(72*time.Hour)) {
		t.Errorf("token %+v", tok)
	}
}
