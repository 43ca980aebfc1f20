package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/storage"
)

// signInHome signs b in to satupintu itself (no application) and fails the
// test unless it lands on the home page.
func (tp *testProvider) signInHome(b *browser, username, secret string) {
	tp.t.Helper()
	_, page := b.get(tp.issuer + "/login")
	form := formFields(tp.t, page)
	form.Set("username", username)
	form.Set("password", secret)
	resp, body := b.post(tp.issuer+"/login", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		tp.t.Fatalf("sign-in of %s ended at %d %s:\n%s", username, resp.StatusCode, resp.Request.URL, body)
	}
}

// TestDataExport: "Download my data" gives the signed-in person one JSON
// file with their profile, company, sessions, registration history with
// its letter, and the audit events about them, and no secret.
func TestDataExport(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	g := storage.Registration{ID: storage.NewID(), ServiceNumber: "SP-EXPORT-1", Status: storage.StatusSubmitted,
		NIB: tp.org.NIB, OrgName: tp.org.Name, FullName: tp.user.Name, Email: tp.user.Email, Phone: tp.user.Phone,
		SubmittedAt: tp.clock.Now(), UpdatedAt: tp.clock.Now()}
	letter := []byte("%PDF-1.7 surat kuasa\x00\xff")
	doc := storage.Document{ID: storage.NewID(), RegistrationID: g.ID, FileName: "surat-kuasa.pdf", ContentType: "application/pdf",
		SHA256: "00", Data: letter, CreatedAt: tp.clock.Now()}
	g.DocumentID = doc.ID
	if err := tp.durable.CreateRegistration(ctx, g, doc); err != nil {
		t.Fatal(err)
	}

	now := tp.clock.Now()
	if err := tp.durable.CreateRefreshToken(ctx, storage.RefreshToken{ID: storage.NewID(), FamilyID: storage.NewID(), ClientID: "app-one",
		UserID: tp.user.ID, Scopes: []string{"openid", "offline_access"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), AuthTime: now}); err != nil {
		t.Fatal(err)
	}
	anonymous := tp.newBrowser()
	// The notice is public and states the configured periods.
	if resp, page := anonymous.get(tp.issuer + "/privacy"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "180") || !strings.Contains(page, `href="/account/data"`) {
		t.Fatalf("privacy notice: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := anonymous.get(tp.issuer + "/account/data/export"); resp.Request.URL.Path != "/login" {
		t.Fatalf("export without a session ended at %d %s, want the sign-in page", resp.StatusCode, resp.Request.URL)
	}

	b := tp.newBrowser()
	tp.signInHome(b, tp.user.Username, tp.password)
	resp, body := b.get(tp.issuer + "/account/data/export")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("export: %d, disposition %q, cache %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), resp.Header.Get("Cache-Control"))
	}
	var x struct {
		Format  string `json:"format"`
		Profile struct {
			ID, Email, Name string
		} `json:"profile"`
		Organization *struct{ ID, NIB string } `json:"organization"`
		Memberships  []struct {
			Organization struct{ ID string } `json:"organization"`
			Role         string              `json:"role"`
		} `json:"memberships"`
		Sessions []struct {
			AMR []string `json:"amr"`
		} `json:"sessions"`
		Registrations []struct {
			Registration struct{ ServiceNumber string }
			Document     *struct {
				Data []byte `json:"data_base64"`
			} `json:"document"`
			History []json.RawMessage `json:"history"`
		} `json:"registrations"`
		Consents []struct {
			ClientID string   `json:"client_id"`
			Scopes   []string `json:"scopes"`
		} `json:"consents"`
		AuditEvents []struct {
			Action string `json:"action"`
		} `json:"audit_events"`
	}
	if err := json.Unmarshal([]byte(body), &x); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, body)
	}
	if x.Format != "satupintu-personal-data/1" || x.Profile.ID != tp.user.ID || x.Profile.Email != tp.user.Email || x.Profile.Name != tp.user.Name {
		t.Errorf("profile: %+v (format %q)", x.Profile, x.Format)
	}
	if x.Organization == nil || x.Organization.NIB != tp.org.NIB || x.Organization.ID != tp.org.ID {
		t.Errorf("organization: %+v", x.Organization)
	}
	if len(x.Memberships) != 1 || x.Memberships[0].Organization.ID != tp.org.ID || x.Memberships[0].Role == "" {
		t.Errorf("memberships: %+v", x.Memberships)
	}
	if len(x.Sessions) != 1 || len(x.Sessions[0].AMR) == 0 {
		t.Errorf("sessions: %+v", x.Sessions)
	}
	if len(x.Registrations) != 1 || x.Registrations[0].Registration.ServiceNumber != "SP-EXPORT-1" ||
		x.Registrations[0].Document == nil || string(x.Registrations[0].Document.Data) != string(letter) || len(x.Registrations[0].History) == 0 {
		t.Errorf("registrations: %+v", x.Registrations)
	}
	if len(x.Consents) != 1 || x.Consents[0].ClientID != "app-one" || len(x.Consents[0].Scopes) != 2 {
		t.Errorf("consents: %+v, want the one grant to app-one", x.Consents)
	}
	var signedIn bool
	for _, e := range x.AuditEvents {
		signedIn = signedIn || e.Action == "login.success"
	}
	if !signedIn {
		t.Errorf("audit events lack the sign-in: %+v", x.AuditEvents)
	}
	for _, secret := range []string{"$argon2id", "password_hash", "PasswordHash", "totp_secret", "TOTPSecret", "RecoveryCodes"} {
		if strings.Contains(body, secret) {
			t.Errorf("the export carries %q", secret)
		}
	}
}

// TestDeletionRequest: the person asks with the password; an officer
// decides; approval leaves an account that names nobody, signs nobody in
// and has no session left; the audit log records both steps.
func TestDeletionRequest(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	person := tp.newBrowser()
	tp.signInHome(person, tp.user.Username, tp.password)
	_, page := person.get(tp.issuer + "/account/data")
	token := formFields(t, page).Get("csrf_token")

	resp, page := person.post(tp.issuer+"/account/data/delete", url.Values{"csrf_token": {token}, "password": {"salah sekali"}, "reason": {"tutup usaha"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="form-error"`) {
		t.Fatalf("wrong password: %d\n%s", resp.StatusCode, page)
	}
	if _, err := tp.durable.PendingDeletionRequest(ctx, tp.user.ID); err == nil {
		t.Fatal("a request was stored without the password")
	}
	resp, page = person.post(tp.issuer+"/account/data/delete", url.Values{"csrf_token": {token}, "password": {tp.password}, "reason": {"tutup usaha"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="deletion-pending"`) {
		t.Fatalf("request: %d\n%s", resp.StatusCode, page)
	}
	// A second one while the first is pending is refused by the store:
	// nothing stored, nothing audited (counted below).
	if resp, page := person.post(tp.issuer+"/account/data/delete", url.Values{"csrf_token": {token}, "password": {tp.password}, "reason": {"lagi"}}); !strings.Contains(page, `id="deletion-pending"`) {
		t.Fatalf("second request: %d\n%s", resp.StatusCode, page)
	}

	// Not an officer: 403. An officer sees it.
	if resp, _ := person.get(tp.issuer + "/officer/deletions"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a trader opened the deletion queue: %d", resp.StatusCode)
	}
	tp.createOfficer("andi", "kata sandi petugas")
	officer := tp.newBrowser()
	tp.signInHome(officer, "andi", "kata sandi petugas")
	_, page = officer.get(tp.issuer + "/officer/deletions")
	d, err := tp.durable.PendingDeletionRequest(ctx, tp.user.ID)
	if err != nil || !strings.Contains(page, `data-request="`+d.ID+`"`) || !strings.Contains(page, "tutup usaha") {
		t.Fatalf("officer queue lacks the request (%v):\n%s", err, page)
	}
	decide := func(fields url.Values) string {
		t.Helper()
		fields.Set("csrf_token", formFields(t, page).Get("csrf_token"))
		_, body := officer.post(tp.issuer+"/officer/deletions/"+d.ID, fields)
		return body
	}
	if body := decide(url.Values{"decision": {"approve"}}); !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("approval without the confirmation went through:\n%s", body)
	}
	if body := decide(url.Values{"decision": {"reject"}}); !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("rejection without a note went through:\n%s", body)
	}
	if u, _ := tp.durable.UserByID(ctx, tp.user.ID); u.Name != tp.user.Name {
		t.Fatal("the account changed before a decision")
	}
	decide(url.Values{"decision": {"approve"}, "confirm": {"yes"}})
	// Decided is final: a second decision writes nothing.
	if body := decide(url.Values{"decision": {"reject"}, "note": {"terlambat"}}); !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("a second decision went through:\n%s", body)
	}

	u, err := tp.durable.UserByID(ctx, tp.user.ID)
	if err != nil || u.Name != "" || u.Email != "" || u.Phone != "" || !u.Disabled || u.PasswordHash != "" {
		t.Fatalf("after approval the account still holds data: %+v (%v)", u, err)
	}
	if resp, _ := person.get(tp.issuer + "/account/data"); resp.Request.URL.Path != "/login" {
		t.Fatalf("the deleted account's session still opens pages: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if sessions, _ := tp.ephemeral.UserSessions(ctx, tp.user.ID); len(sessions) != 0 {
		t.Fatalf("%d sessions left", len(sessions))
	}
	again := tp.newBrowser()
	_, page = again.get(tp.issuer + "/login")
	form := formFields(t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	if resp, _ := again.post(tp.issuer+"/login", form); resp.Request.URL.Path == "/" && resp.StatusCode == http.StatusOK {
		t.Fatal("the deleted account signed in")
	}
	// Each stored with its change (storage.WithAudit): exactly one each.
	events, _ := tp.durable.AuditAbout(ctx, tp.user.ID, 100)
	var requested, approved, rejected int
	officerID := ""
	for _, e := range events {
		switch e.Action {
		case "privacy.deletion_request":
			requested++
			if e.ActorID != tp.user.ID || e.Subject != tp.user.ID || e.Detail["request"] != d.ID {
				t.Errorf("request event %+v", e)
			}
		case "privacy.deletion_approved":
			approved++
			officerID = e.ActorID
			if e.Subject != tp.user.ID || e.Detail["request"] != d.ID {
				t.Errorf("approval event %+v", e)
			}
		case "privacy.deletion_rejected":
			rejected++
		}
	}
	if requested != 1 || approved != 1 || rejected != 0 {
		t.Fatalf("audit: requested %d, approved %d, rejected %d", requested, approved, rejected)
	}
	if o, err := tp.durable.UserByLogin(ctx, "andi"); err != nil || o.ID != officerID {
		t.Errorf("approval by %q, want the officer (%v)", officerID, err)
	}
}

// TestCompanyCorrection: the company's administrator asks for its name and
// address to be corrected; a member who is not its administrator cannot;
// an officer sees current and asked side by side and applies it, and the
// relying party's organization claim carries the corrected data.
func TestCompanyCorrection(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	admin := tp.newBrowser()
	tp.signInHome(admin, tp.user.Username, tp.password)
	path := tp.issuer + "/account/company-correction?org=" + tp.org.ID
	resp, page := admin.get(path)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="`+tp.org.Name+`"`) {
		t.Fatalf("correction form: %d\n%s", resp.StatusCode, page)
	}
	form := formFields(t, page)
	form.Set("org", tp.org.ID)
	form.Set("name", "PT Uji Coba Sejahtera")
	form.Set("street", "Jl. Uji 2")
	form.Set("city", "Jakarta Utara")
	form.Set("postal_code", "1431") // four digits
	if resp, body := admin.post(tp.issuer+"/account/company-correction", form); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("a bad postal code: %d", resp.StatusCode)
	}
	form.Set("postal_code", "14310")
	if resp, body := admin.post(tp.issuer+"/account/company-correction", form); !strings.Contains(body, `id="correction-pending"`) {
		t.Fatalf("request: %d\n%s", resp.StatusCode, body)
	}

	// A staff member of the same company, and someone of no company, get
	// the same 404 as for a company that does not exist.
	hash, _ := password.Hash("kata sandi staf", cheapHash)
	staff := storage.User{ID: storage.NewID(), Username: "staf", Email: "staf@contoh.co.id", Name: "Staf", PasswordHash: hash,
		OrganizationID: tp.org.ID, CreatedAt: tp.clock.Now(), UpdatedAt: tp.clock.Now()}
	if err := tp.durable.CreateUser(ctx, staff); err != nil {
		t.Fatal(err)
	}
	b := tp.newBrowser()
	tp.signInHome(b, "staf", "kata sandi staf")
	if resp, _ := b.get(path); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a staff member opened the correction form: %d", resp.StatusCode)
	}

	tp.createOfficer("andi", "kata sandi petugas")
	officer := tp.newBrowser()
	tp.signInHome(officer, "andi", "kata sandi petugas")
	_, page = officer.get(tp.issuer + "/officer/corrections")
	c, err := tp.durable.PendingCorrectionRequest(ctx, tp.org.ID)
	if err != nil || !strings.Contains(page, `data-request="`+c.ID+`"`) || !strings.Contains(page, tp.org.Name) || !strings.Contains(page, "PT Uji Coba Sejahtera") {
		t.Fatalf("officer page lacks the request (%v):\n%s", err, page)
	}
	decision := url.Values{"csrf_token": {formFields(t, page).Get("csrf_token")}, "decision": {"approve"}}
	officer.post(tp.issuer+"/officer/corrections/"+c.ID, decision)
	// Decided is final: a second decision writes nothing.
	if _, body := officer.post(tp.issuer+"/officer/corrections/"+c.ID, decision); !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("a second decision went through:\n%s", body)
	}
	o, err := tp.durable.OrganizationByID(ctx, tp.org.ID)
	if err != nil || o.Name != "PT Uji Coba Sejahtera" || o.Address.Street != "Jl. Uji 2" || o.Address.PostalCode != "14310" || o.NIB != tp.org.NIB {
		t.Fatalf("organization after approval: %+v (%v)", o, err)
	}
	events, _ := tp.durable.ListAudit(ctx, 0, 50)
	var asked, applied int
	for _, e := range events {
		switch {
		case e.Action == "company.correction_request" && e.Subject == tp.org.ID && e.ActorID == tp.user.ID && e.Detail["request"] == c.ID:
			asked++
		case e.Action == "company.correction_approved" && e.Subject == tp.org.ID && e.Detail["request"] == c.ID:
			applied++
		}
	}
	if asked != 1 || applied != 1 {
		t.Fatalf("audit: asked %d, applied %d", asked, applied)
	}
}

// TestPromptCreateOpensRegistration: prompt=create (Initiating User
// Registration via OpenID Connect 1.0) leads to the registration wizard,
// even with a session that would otherwise sign in silently; discovery
// says the value is supported.
func TestPromptCreateOpensRegistration(t *testing.T) {
	tp := newTestProvider(t)
	b := tp.newBrowser()
	tp.signInHome(b, tp.user.Username, tp.password) // a session that single sign-on would use
	resp, page := b.get(tp.authURL("app-one", newFlow(), "prompt", "create"))
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/register" {
		t.Fatalf("prompt=create ended at %d %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	_, doc := b.get(tp.issuer + "/.well-known/openid-configuration")
	var d struct {
		Prompts []string `json:"prompt_values_supported"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || !slices.Contains(d.Prompts, "create") {
		t.Fatalf("discovery prompt values %v (%v)", d.Prompts, err)
	}
	// Without prompt=create the same session still signs in silently.
	if resp, _ := b.get(tp.authURL("app-one", newFlow())); resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("single sign-on after prompt=create: %d at %s", resp.StatusCode, resp.Request.URL)
	}
}
