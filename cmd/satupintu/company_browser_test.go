package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"satupintu/demorp"
	"satupintu/templates"
)

// registrant is one person registering in the wizard.
type registrant struct {
	name, email, nik string
}

// TestBrowserCompanyMembers drives chromium through a company of many
// people:
//
//  1. two people register the same NIB in their own browsers; the second is
//     told only that the registration will be checked against the
//     company's record;
//  2. the officer approves the first, then sees the second join the existing
//     organization side by side with its record, and approves it too;
//  3. both activate, sign in at the demo app and see the same organization
//     id and NIB;
//  4. the first, the company's administrator, invites a third person, who
//     accepts from the mailed link and signs in at the demo app too;
//  5. the administrator removes the second person: their access token is
//     inactive at introspection at once, and their session is gone.
func TestBrowserCompanyMembers(t *testing.T) {
	first := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	app := tp.startDemoApp("insw-company-test", "Portal INSW (test)")
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	officerPassword := "petugas-rahasia-123"
	officer := tp.createOfficer("andi.petugas", officerPassword)
	letter := writeMinimalPDF(t)
	const nib, orgName = "8120309876543", "PT Grup Contoh Sejahtera"
	a := registrant{name: "Dewi Anggraini", email: "dewi@grup-contoh.co.id", nik: "3171012345678901"}
	b := registrant{name: "Bayu Pratama", email: "bayu@grup-contoh.co.id", nik: "3171012345678902"}

	// 1 and 2: the first registration creates the company.
	snA := first.register(tp, nib, orgName, a, letter, false)
	off := first.newIsolatedSession()
	off.open(tp.issuer+"/login", `input[name="password"]`)
	off.submitPassword(officer.Username, officerPassword, tp.issuer+"/")
	off.approve(tp, snA, "")

	second := first.newIsolatedSession()
	snB := second.register(tp, "8120 3098 76543", orgName+" (cabang)", b, letter, true)
	off.approve(tp, snB, orgName)

	// 3. Both activate and sign in at the demo app.
	const pw = "Grup-Contoh-Sejahtera-2026!"
	userA := first.activateFromMail(tp, a.email, pw)
	userB := second.activateFromMail(tp, b.email, pw)
	idA := first.demoOrganization(app, userA, pw, nib)
	idB := second.demoOrganization(app, userB, pw, nib)
	if idA == "" || idA != idB {
		t.Fatalf("organization ids %q and %q, want one and the same", idA, idB)
	}

	// 4. The administrator invites a third person.
	const invitee = "citra@grup-contoh.co.id"
	first.open(tp.issuer+"/company", "#invite-email")
	first.checkCompanyPage()
	first.checkText("#company-id", idA)
	first.fill("#invite-email", invitee)
	first.clickAndLoad(`form[action$="/invitations"] button[type="submit"]`, tp.issuer+"/company?org="+idA)
	first.wait(`li.invitation[data-email="` + invitee + `"]`)
	first.screenshot("company-admin.png")
	first.screenshotWidth("company-admin-390.png", 390)
	msg := tp.mails.WaitFor(t, invitee, 30*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(tp.issuer) + `/invitation\?token=[A-Za-z0-9_-]{43}`).FindString(msg.Body)
	if link == "" {
		t.Fatalf("no invitation link in:\n%s", msg.Body)
	}
	third := first.newIsolatedSession()
	third.open(link, "#name")
	third.checkCompanyPage()
	third.fill("#name", "Citra Lestari")
	third.fill("#password", pw)
	third.fill("#confirm", pw)
	third.click("#terms")
	third.clickAndLoad(`form[action="/invitation"] button[type="submit"]`, tp.issuer+"/invitation")
	third.checkCompanyPage()
	third.checkText(`main p[role="status"]`, pages.T(third.lang(), "company.invitation.done", orgName, "citra"))
	if idC := third.demoOrganization(app, "citra", pw, nib); idC != idA {
		t.Fatalf("the invited member's organization id %q, want %q", idC, idA)
	}

	// 5. Removal: the second person's access token (from a code flow of
	// its own) dies with the membership.
	token := tp.accessTokenFor(userB, pw)
	if !tp.introspect("app-one", token) {
		t.Fatal("the member's fresh access token is inactive")
	}
	first.open(tp.issuer+"/company", "#invite-email")
	first.clickAndLoad(`li.member[data-user="`+userB+`"] button.member-remove`, tp.issuer+"/company?org="+idA)
	first.checkText(`main p.notice[role="status"]`, pages.T(first.lang(), "company.notice.removed"))
	if first.count(`li.member[data-user="`+userB+`"]`) != 0 {
		first.fatalf("the removed member is still listed")
	}
	if tp.introspect("app-one", token) {
		t.Error("the removed member's access token is still active")
	}
	// Their single sign-on session ended too: the provider asks to sign in.
	second.navigate(tp.issuer+"/apps", tp.issuer+"/login")
}

// companyKey matches a key of the company catalog shown as text, which is
// what the catalog renders for a key it does not have.
var companyKey = regexp.MustCompile(`\bcompany\.[a-z0-9_]+(?:\.[a-z0-9_]+)*\b`)

// checkCompanyPage is checkPage for pages with the company catalog's texts.
func (b *browserSession) checkCompanyPage() {
	b.t.Helper()
	b.checkPage()
	if keys := companyKey.FindAllString(b.evalString(`document.title + "\n" + document.body.innerText`), -1); len(keys) > 0 {
		b.fatalf("untranslated message keys on the page: %q", keys)
	}
}

// register completes the wizard as p for a company with nib and returns
// the service number mailed. join says the NIB is registered: the step
// after the NIB must say so, and nothing about the company.
func (b *browserSession) register(tp *testProvider, nib, org string, p registrant, letter string, join bool) string {
	b.t.Helper()
	next := func(step string) {
		b.t.Helper()
		b.clickAndLoad(`button[name="action"][value="next"]`, tp.issuer+"/register/"+step)
		b.checkPage()
	}
	b.open(tp.issuer+"/register/tujuan", "#purpose-transaksi")
	b.click("#purpose-transaksi")
	next("trader")
	b.click("#trader_type-importir")
	next("nib")
	b.click("#nib_type-oss")
	b.fill("#nib", nib)
	next("npwp")
	// No page tells whether the NIB is registered (no enumeration); only
	// the mail with the service number does.
	if text := b.text("main"); strings.Contains(text, "Dewi") || strings.Contains(text, "dewi@") ||
		strings.Contains(text, tp.mustT(templates.LangID, "company.join.notice")) {
		b.fatalf("the step after the NIB tells about the registered company")
	}
	b.click("#npwp_type-15")
	b.fill("#npwp", "01.234.567.8-901.000")
	next("organisasi")
	b.fill("#org_name", org)
	b.click("#business_type-pt")
	next("alamat")
	b.fill("#street", "Jl. Pelabuhan Raya No. 12")
	b.fill("#city", "Jakarta Utara")
	b.fill("#province", "DKI Jakarta")
	b.fill("#postal_code", "14310")
	next("penanggung-jawab")
	b.fill("#full_name", p.name)
	b.fill("#position", "Manajer")
	b.click("#identity_type-nik")
	b.fill("#identity_number", p.nik)
	next("kontak")
	b.fill("#email", p.email)
	b.fill("#phone", "0812-3456-7890")
	b.solveCaptcha()
	next("verifikasi")
	codeMail := tp.mails.WaitFor(b.t, p.email, 30*time.Second)
	code := regexp.MustCompile(`(?m)^\s+(\d{6})$`).FindStringSubmatch(codeMail.Body)
	if code == nil {
		b.t.Fatalf("no verification code in:\n%s", codeMail.Body)
	}
	b.fill("#code", code[1])
	next("dokumen")
	b.upload("#document", letter)
	next("persetujuan")
	b.click("#terms")
	next("konfirmasi")
	b.wait(`button[name="action"][value="submit"]`)
	b.solveCaptcha()
	b.clickAndLoad(`button[name="action"][value="submit"]`, tp.issuer+"/register/selesai")
	received := tp.mails.WaitFor(b.t, p.email, 30*time.Second)
	sn := regexp.MustCompile(`SP-\d{8}-[0-9A-Z]+`).FindString(received.Body)
	if sn == "" {
		b.t.Fatalf("no service number in:\n%s", received.Body)
	}
	if told := strings.Contains(received.Body, tp.mustT(templates.LangID, "company.join.notice")); told != join {
		b.t.Fatalf("the mail tells of joining a registered company: %v, want %v:\n%s", told, join, received.Body)
	}
	return sn
}

// approve finds the registration in the officer's queue, starts the review
// and approves it. joins names the organization it must be shown to join
// ("" for a new company).
func (b *browserSession) approve(tp *testProvider, serviceNumber, joins string) {
	b.t.Helper()
	b.open(tp.issuer+"/officer", "main table")
	href := b.evalString(`[...document.querySelectorAll('main table a')]
		.filter(a => a.textContent.trim() === ` + jsString(serviceNumber) + `)
		.map(a => a.getAttribute('href')).join(' ')`)
	if !regexp.MustCompile(`^/officer/registrations/[a-z0-9]+$`).MatchString(href) {
		b.fatalf("no single queue link for %s: %q", serviceNumber, href)
	}
	b.open(tp.issuer+href, "main h1")
	b.checkPage()
	if got := b.count("#join-existing"); (got == 1) != (joins != "") {
		b.fatalf("join comparison shown %d times, want it for %q", got, joins)
	}
	if joins != "" {
		b.checkCompanyPage()
		b.checkText("#join-existing", joins)
		b.screenshot("officer-join.png")
		b.screenshotWidth("officer-join-390.png", 390)
	}
	b.clickAndLoad(`form[action$="/review"] button[type="submit"]`, tp.issuer+"/officer/registrations/")
	b.clickAndLoad(`form[action$="/approve"] button[type="submit"]`, tp.issuer+"/officer/registrations/")
	b.checkText("main .card dd strong", tp.mustT(b.lang(), "review.status.approved"))
}

// mustT is the catalog's text for key in lang.
func (tp *testProvider) mustT(lang, key string, args ...any) string {
	tp.t.Helper()
	pages, err := templates.New()
	if err != nil {
		tp.t.Fatal(err)
	}
	return pages.T(lang, key, args...)
}

// activateFromMail opens the activation link mailed to email, sets pw and
// returns the username the mail names.
func (b *browserSession) activateFromMail(tp *testProvider, email, pw string) string {
	b.t.Helper()
	msg := tp.mails.WaitFor(b.t, email, 30*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(tp.issuer) + `/activate\?token=[A-Za-z0-9_-]{43}`).FindString(msg.Body)
	m := regexp.MustCompile(`(?m)^(?:Nama pengguna Anda|Your username): (\S+)$`).FindStringSubmatch(msg.Body)
	if link == "" || m == nil {
		b.t.Fatalf("no activation link or username in:\n%s", msg.Body)
	}
	b.open(link, "#password")
	b.fill("#password", pw)
	b.fill("#confirm", pw)
	b.clickAndLoad(`form[action="/activate"] button[type="submit"]`, tp.issuer+"/activate")
	return m[1]
}

// demoOrganization signs username in at the demo app and returns the
// organization id it shows, checking the NIB.
func (b *browserSession) demoOrganization(app demorp.App, username, pw, nib string) string {
	b.t.Helper()
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", "")
	b.wait(`input[name="password"]`)
	b.submitPassword(username, pw, app.ExternalURL+"/")
	b.wait("#claims")
	if got := b.text("#org-nib"); got != nib {
		b.fatalf("#org-nib = %q, want %q", got, nib)
	}
	return b.text("#org-id")
}

// accessTokenFor runs a code flow for app-one as username over HTTP and
// returns the access token.
func (tp *testProvider) accessTokenFor(username, pw string) string {
	tp.t.Helper()
	hb := tp.newBrowser()
	f := newFlow()
	resp, page := hb.get(tp.authURL("app-one", f))
	if resp.StatusCode != http.StatusOK {
		tp.t.Fatalf("authorize: %d", resp.StatusCode)
	}
	form := formFields(tp.t, page)
	form.Set("username", username)
	form.Set("password", pw)
	resp, _ = hb.post(tp.issuer+"/login", form)
	q := tp.redirectParams(resp, "app-one")
	return tp.exchange("app-one", f, url.Values(q)).AccessToken
}
