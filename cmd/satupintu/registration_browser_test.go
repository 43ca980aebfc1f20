package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"satupintu/password"
	"satupintu/registration/letterpdf"
	"satupintu/storage"
	"satupintu/templates"
)

// TestBrowserRegistrationJourney drives a real (headless) chromium through
// the whole life of a new trader, in two browsers that share no cookies:
//
//  1. trader: from the sign-in page to the requirements, through every step
//     of the wizard (one deliberate mistake first), the email code read
//     from the mail, a real PDF upload, the confirmation, and the service
//     number by mail;
//  2. trader: tracking shows the registration as submitted;
//  3. officer: signs in, finds it in the queue, opens it, starts the review
//     and approves;
//  4. trader: the activation link from the email sets a password;
//  5. trader: signs in at a demo relying party, which shows the new
//     organization's NIB and NPWP and the person's name;
//  6. trader: tracking now shows it approved.
//
// The trader uses the provider in Indonesian, the officer in the browser's
// own language (English in headless chromium). Every provider page is
// checked for untranslated catalog keys. Screenshots
// (1280 px wide, and 390 px for a few pages) go to $SATUPINTU_SCREENSHOTS if
// set, else to a temporary directory.
func TestBrowserRegistrationJourney(t *testing.T) {
	trader := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	app := tp.startDemoApp("insw-reg-test", "Portal INSW (test)")
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	officerPassword := "petugas-rahasia-123"
	officer := tp.createOfficer("andi.petugas", officerPassword)
	start := time.Now()

	want := struct {
		nib, npwpPrinted, npwp, org, street, city, province, postal string
		fullName, position, nik, email, phone, phoneE164            string
	}{
		nib: "9120009876543", npwpPrinted: "01.234.567.8-901.234", npwp: "012345678901234",
		org:    "PT Kopi Sumbawa Ékspor Nusantara",
		street: "Jl. Jend. Sudirman Kav. 52–53, RT 005/RW 003, Senayan, Kebayoran Baru",
		city:   "Jakarta Selatan", province: "DKI Jakarta", postal: "12190",
		fullName: "Dewi Anggraini Siregar", position: "Direktur Utama",
		nik: "3171012345678901", email: "pendaftar@contoh-baru.co.id",
		phone: "0812-3456-7890", phoneE164: "+6281234567890",
	}
	letter := writeMinimalPDF(t)

	// 1. The sign-in page leads to the requirements. The trader reads the
	// provider in Indonesian, whatever the browser's own language.
	trader.open(tp.issuer+"/login", `a[href="/register"]`)
	if trader.lang() != "id" {
		trader.clickAndLoad(`nav.lang a[hreflang="id"]`, tp.issuer+"/login")
	}
	if got := trader.lang(); got != "id" {
		trader.fatalf("page language %q after choosing Bahasa Indonesia", got)
	}
	trader.checkPage()
	trader.clickAndLoad(`a[href="/register"]`, tp.issuer+"/register")
	trader.wait(`a.button[href="/register/tujuan"]`)
	trader.checkPage()
	trader.checkText("section.reg-overview", pages.T("id", "reg.requirement.letter"))
	trader.screenshot("register-requirements.png")
	trader.clickAndLoad(`a.button[href="/register/tujuan"]`, tp.issuer+"/register/tujuan")

	// The wizard, one step a page.
	next := func(step string) {
		t.Helper()
		trader.clickAndLoad(`button[name="action"][value="next"]`, tp.issuer+"/register/"+step)
		trader.checkPage()
		if step != "konfirmasi" {
			trader.wait(`button[name="action"][value="next"]`)
		}
	}
	trader.checkPage()
	trader.click("#purpose-transaksi")
	next("trader")
	trader.click("#trader_type-importir_eksportir")
	next("nib")

	// A deliberate mistake: 12 digits. The page comes back with the error
	// next to the field, the choice kept and the field marked invalid.
	trader.click("#nib_type-oss")
	trader.fill("#nib", want.nib[:12])
	next("nib")
	trader.wait("#nib-error")
	if got, msg := trader.text("#nib-error"), pages.T("id", "reg.error.nib_digits"); got != msg {
		trader.fatalf("#nib-error = %q, want %q", got, msg)
	}
	if !trader.eval(`(() => {
		const f = document.querySelector('#nib'), e = document.querySelector('#nib-error');
		return f.closest('.field') === e.closest('.field') && f.getAttribute('aria-invalid') === 'true' &&
			f.getAttribute('aria-describedby').split(' ').includes('nib-error') &&
			document.querySelector('#nib_type-oss').checked && f.value === ` + jsString(want.nib[:12]) + `;
	})()`) {
		trader.fatalf("the NIB error is not tied to its field, or the typed values were lost")
	}
	trader.checkText("#form-error", pages.T("id", "reg.fix_fields"))
	trader.screenshot("register-nib-error.png")
	trader.screenshotWidth("register-nib-error-390.png", 390)
	trader.fill("#nib", want.nib)
	next("npwp")

	trader.click("#npwp_type-15")
	trader.fill("#npwp", want.npwpPrinted)
	next("organisasi")
	trader.fill("#org_name", want.org)
	trader.click("#business_type-pt")
	next("alamat")
	trader.fill("#street", want.street)
	trader.fill("#city", want.city)
	trader.fill("#province", want.province)
	trader.fill("#postal_code", want.postal)
	if got := trader.value("#country"); got != "ID" {
		trader.fatalf("#country prefilled with %q, want ID", got)
	}
	next("penanggung-jawab")
	trader.fill("#full_name", want.fullName)
	trader.fill("#position", want.position)
	trader.click("#identity_type-nik")
	trader.fill("#identity_number", want.nik)
	next("kontak")
	trader.fill("#email", want.email)
	trader.fill("#phone", want.phone)
	// Leaving kontak mails a code, so it costs the security check: the
	// page's script does the proof of work; Next once it is done.
	trader.solveCaptcha() // captcha_browser_test.go
	next("verifikasi")

	// The email is proven before the letter may be uploaded: the code
	// mailed on leaving kontak, read from the SMTP capture.
	trader.checkText(".reg-code-sent-to", want.email)
	codeMail := tp.mails.WaitFor(t, want.email, 30*time.Second)
	code := regexp.MustCompile(`(?m)^\s+(\d{6})$`).FindStringSubmatch(codeMail.Body)
	if code == nil {
		t.Fatalf("no verification code in the email:\n%s", codeMail.Body)
	}
	trader.screenshot("register-verify.png")
	trader.fill("#code", code[1])
	next("dokumen")
	trader.upload("#document", letter)
	trader.screenshot("register-document.png")
	next("persetujuan")
	trader.click("#terms")
	next("konfirmasi")

	// The confirmation shows what was typed, in normal form.
	trader.wait(`button[name="action"][value="submit"]`)
	summary := trader.text("main")
	for _, s := range []string{want.nib, want.npwpPrinted, want.org, want.street, want.postal,
		want.fullName, want.nik, want.email, want.phoneE164, "surat-kuasa.pdf",
		pages.T("id", "reg.trader.importir_eksportir"), pages.T("id", "reg.business.pt")} {
		if !strings.Contains(summary, s) {
			trader.fatalf("the confirmation page does not show %q", s)
		}
	}
	trader.screenshot("register-confirmation.png")
	trader.screenshotWidth("register-confirmation-390.png", 390)
	trader.solveCaptcha() // captcha_browser_test.go
	trader.clickAndLoad(`button[name="action"][value="submit"]`, tp.issuer+"/register/selesai")
	trader.checkPage()
	// The page says where the outcome went, the same for every outcome;
	// the service number comes by mail.
	trader.checkText(".reg-done-sent", want.email)
	received := tp.mails.WaitFor(t, want.email, 30*time.Second)
	serviceNumber := regexp.MustCompile(`SP-\d{8}-[0-9A-Z]+`).FindString(received.Body)
	if serviceNumber == "" {
		t.Fatalf("no service number in the email:\n%s", received.Body)
	}
	if body := trader.text("main"); strings.Contains(body, serviceNumber) {
		trader.fatalf("the success page shows the service number")
	}
	t.Logf("service number: %s", serviceNumber)
	trader.screenshot("register-done.png")

	// 2. Tracking: submitted.
	trader.track(tp.issuer, serviceNumber, want.email, pages, "review.status.submitted")
	trader.screenshot("track-submitted.png")
	trader.screenshotWidth("track-submitted-390.png", 390)

	// 3. The officer, in a browser context of its own.
	off := trader.newIsolatedSession()
	// No cookie of the trader's: the tracking grant is not there either.
	off.navigate(tp.issuer+"/track/status", tp.issuer+"/track")
	if loc := off.evalString(`location.href`); loc != tp.issuer+"/track" {
		off.fatalf("the officer's browser sees the trader's tracking grant: at %s", loc)
	}
	off.open(tp.issuer+"/login", `input[name="password"]`)
	off.submitPassword(officer.Username, officerPassword, tp.issuer+"/")
	off.open(tp.issuer+"/officer", "main table")
	off.checkPage()
	lang := off.lang()
	href := off.evalString(`[...document.querySelectorAll('main table a')]
		.filter(a => a.textContent.trim() === ` + jsString(serviceNumber) + `)
		.map(a => a.getAttribute('href')).join(' ')`)
	if !regexp.MustCompile(`^/officer/registrations/[a-z0-9]+$`).MatchString(href) {
		off.fatalf("the queue links %s to %q, want one /officer/registrations/{id}", serviceNumber, href)
	}
	link := `main table a[href="` + href + `"]`
	rowText := off.evalString(`document.querySelector(` + jsString(link) + `).closest('tr').innerText`)
	for _, s := range []string{want.org, want.nib, pages.T(lang, "review.status.submitted")} {
		if !strings.Contains(rowText, s) {
			off.fatalf("the queue row of %s does not show %q: %q", serviceNumber, s, rowText)
		}
	}
	off.screenshot("officer-queue.png")
	off.screenshotWidth("officer-queue-390.png", 390)
	off.clickAndLoad(link, tp.issuer+href)
	off.checkPage()
	detail := off.text("main")
	for _, s := range []string{want.org, want.nib, want.npwpPrinted, want.fullName, want.nik, want.email, "surat-kuasa.pdf"} {
		if !strings.Contains(detail, s) {
			off.fatalf("the officer's page does not show %q", s)
		}
	}
	if n := off.count(`main a[href^="/officer/documents/"][download]`); n != 1 {
		off.fatalf("%d download links for the letter, want 1", n)
	}
	off.screenshot("officer-detail.png")
	off.screenshotWidth("officer-detail-390.png", 390)
	off.clickAndLoad(`form[action$="/review"] button[type="submit"]`, tp.issuer+"/officer/registrations/")
	off.checkPage()
	off.checkText("main .card dd strong", pages.T(lang, "review.status.in_review"))
	off.clickAndLoad(`form[action$="/approve"] button[type="submit"]`, tp.issuer+"/officer/registrations/")
	off.checkPage()
	off.checkText(`main p[role="status"]`, pages.T(lang, "officer.approved", want.email))
	off.checkText("main .card dd strong", pages.T(lang, "review.status.approved"))
	off.screenshot("officer-approved.png")

	// 4. The activation email, and the link in it, in the trader's browser.
	msg := tp.mails.WaitFor(t, want.email, 30*time.Second)
	activation := regexp.MustCompile(regexp.QuoteMeta(tp.issuer) + `/activate\?token=[A-Za-z0-9_-]{43}`).FindString(msg.Body)
	m := regexp.MustCompile(`(?m)^(?:Nama pengguna Anda|Your username): (\S+)$`).FindStringSubmatch(msg.Body)
	if activation == "" || m == nil {
		t.Fatalf("no activation link or username in the email:\n%s", msg.Body)
	}
	username := m[1]
	if !strings.Contains(msg.Body, serviceNumber) {
		t.Errorf("the activation email does not name the service number %s", serviceNumber)
	}
	newPassword := "Kopi-Sumbawa-2026!"
	trader.open(activation, "#password")
	trader.checkPage()
	trader.screenshot("activate-form.png")
	trader.fill("#password", newPassword)
	trader.fill("#confirm", newPassword)
	trader.clickAndLoad(`form[action="/activate"] button[type="submit"]`, tp.issuer+"/activate")
	trader.checkPage()
	trader.checkText(`main p[role="status"]`, pages.T("id", "activate.done", username))
	trader.screenshot("activate-done.png")

	// 5. The demo app: sign in with the new account.
	trader.open(app.ExternalURL+"/", "#signin")
	trader.clickAndLoad("#signin", tp.issuer+"/login?")
	trader.wait(`input[name="password"]`)
	trader.submitPassword(username, newPassword, app.ExternalURL+"/")
	trader.wait("#claims")
	for _, c := range []struct{ id, want string }{
		{"user-name", want.fullName},
		{"org-nib", want.nib},
		{"org-npwp", want.npwp},
	} {
		if got := trader.text("#" + c.id); got != c.want {
			trader.fatalf("#%s = %q, want %q", c.id, got, c.want)
		}
	}
	if info := trader.text("#userinfo"); !strings.Contains(info, want.email) {
		trader.fatalf("#userinfo does not contain the email %q:\n%s", want.email, info)
	}
	trader.screenshot("demo-claims.png")

	// 6. Tracking again: approved.
	trader.track(tp.issuer, serviceNumber, want.email, pages, "review.status.approved")
	trader.screenshot("track-approved.png")

	t.Logf("registration journey took %s", time.Since(start).Round(time.Millisecond))
}

// createOfficer adds a user with the officer role and a password.
func (tp *testProvider) createOfficer(username, secret string) storage.User {
	tp.t.Helper()
	hash, err := password.Hash(secret, cheapHash)
	if err != nil {
		tp.t.Fatal(err)
	}
	now := tp.clock.Now()
	u := storage.User{ID: storage.NewID(), Username: username, Email: username + "@insw.example",
		EmailVerified: true, Name: "Andi Petugas", PasswordHash: hash, Roles: []string{storage.RoleOfficer},
		CreatedAt: now, UpdatedAt: now}
	if err := tp.durable.CreateUser(tp.t.Context(), u); err != nil {
		tp.t.Fatal(err)
	}
	return u
}

// writeMinimalPDF writes a real one-page PDF (header, objects, a
// cross-reference table with true offsets, trailer, startxref, %%EOF) to
// surat-kuasa.pdf in a temporary directory and returns its path. It names
// nothing the upload check refuses (no /JS, /JavaScript, /Launch, embedded
// files or markup).
func writeMinimalPDF(t *testing.T) string {
	t.Helper()
	pdf := letterpdf.File("", letterpdf.Objects("", "", "BT /F1 18 Tf 72 770 Td (Surat Kuasa) Tj ET")...)
	path := filepath.Join(t.TempDir(), "surat-kuasa.pdf")
	if err := os.WriteFile(path, []byte(pdf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newIsolatedSession opens a tab in a new browser context of b's browser:
// it shares no cookies, storage or cache with b.
func (b *browserSession) newIsolatedSession() *browserSession {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel) // runs before the browser's own cleanup
	o := &browserSession{t: b.t, ctx: ctx, nav: &navRecorder{}, screenshots: b.screenshots}
	// The tab lives as long as the context of its first Run: not a step's
	// context, but ctx, which b's time limit bounds.
	if err := chromedp.Do(ctx); err != nil { // open the tab now
		b.t.Fatalf("open a tab in a new browser context: %v", err)
	}
	if err := chromedp.Listen(ctx, o.nav.record); err != nil {
		b.t.Fatal(err)
	}
	return o
}

// lang returns the language of the page shown.
func (b *browserSession) lang() string {
	b.t.Helper()
	return b.evalString(`document.documentElement.lang`)
}

func (b *browserSession) evalString(js string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return s
}

func (b *browserSession) eval(js string) bool {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return ok
}

// rawKey matches a message catalog key shown as text, which is what the
// catalog renders for a key it does not have.
var rawKey = regexp.MustCompile(`\b(?:account|activate|app|contact|error|help|home|lang|layout|logged_out|login|logout|mfa|officer|password|protection|reg|review|track)\.[a-z0-9_]+(?:[.-][a-z0-9_]+)*\b`)

// checkPage fails on message keys in the page's text, title or labels (the
// catalog renders a key it does not have as the key itself), and logs (without failing) a page wider than the window.
func (b *browserSession) checkPage() {
	b.t.Helper()
	text := b.evalString(`[document.title, document.body.innerText,
		...[...document.querySelectorAll('[aria-label],[placeholder],[title]')].map(e =>
			[e.getAttribute('aria-label'), e.getAttribute('placeholder'), e.getAttribute('title')].join(' '))].join('\n')`)
	if keys := rawKey.FindAllString(text, -1); len(keys) > 0 {
		b.fatalf("untranslated message keys on the page: %q", keys)
	}
	if b.eval(`document.documentElement.scrollWidth > document.documentElement.clientWidth`) {
		loc := b.evalString(`location.pathname`)
		b.t.Logf("layout: %s scrolls sideways at %s px", loc, b.evalString(`String(document.documentElement.clientWidth)`))
	}
}

// checkText fails unless the element's text contains want.
func (b *browserSession) checkText(sel, want string) {
	b.t.Helper()
	b.wait(sel)
	if got := b.text(sel); !strings.Contains(got, want) {
		b.fatalf("%s shows %q, want it to contain %q", sel, got, want)
	}
}

func (b *browserSession) click(sel string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fatalf("click %s: %v", sel, err)
	}
}

// fill replaces the value of an input or textarea by typing value, and
// checks the field then holds exactly that.
func (b *browserSession) fill(sel, value string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(sel)+`).value = ''`),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	); err != nil {
		b.fatalf("type into %s: %v", sel, err)
	}
	if got := b.value(sel); got != value {
		b.fatalf("%s holds %q after typing %q", sel, got, value)
	}
}

func (b *browserSession) value(sel string) string {
	b.t.Helper()
	return b.evalString(`document.querySelector(` + jsString(sel) + `).value`)
}

// upload chooses a file in a file input, as the file picker would.
func (b *browserSession) upload(sel, path string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{path})); err != nil {
		b.fatalf("choose %s in %s: %v", path, sel, err)
	}
	if n := b.evalString(`String(document.querySelector(` + jsString(sel) + `).files.length)`); n != "1" {
		b.fatalf("%s holds %s files after choosing one", sel, n)
	}
}

// track looks a registration up at /track and checks its current status
// and the last line of its history show statusKey.
func (b *browserSession) track(issuer, serviceNumber, email string, pages *templates.Pages, statusKey string) {
	b.t.Helper()
	b.open(issuer+"/track", "#service_number")
	b.checkPage()
	b.fill("#service_number", serviceNumber)
	b.fill("#email", email)
	b.clickAndLoad(`form[action="/track"] button[type="submit"]`, issuer+"/track/status")
	b.checkPage()
	label := pages.T(b.lang(), statusKey)
	b.checkText("main .card dd strong", label)
	b.checkText("main", serviceNumber)
	if last := b.text("main table tbody tr:last-child td:nth-child(2)"); last != label {
		b.fatalf("the last line of the history says %q, want %q", last, label)
	}
}

// screenshotWidth saves the whole page as it looks in a window width px
// wide (a phone at 390), then restores the window.
func (b *browserSession) screenshotWidth(name string, width int64) {
	b.t.Helper()
	// Each action has its own step deadline: a full-page screenshot on a
	// loaded machine must not eat into the time of the emulation around it.
	run := func(what string, action chromedp.Action[chromedp.Void]) {
		b.t.Helper()
		ctx, cancel := b.step()
		defer cancel()
		if err := chromedp.Do(ctx, action); err != nil {
			b.fatalf("%s: %v", what, err)
		}
	}
	run("narrow the window", chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)))
	if b.eval(`document.documentElement.scrollWidth > document.documentElement.clientWidth`) {
		b.t.Logf("layout: %s scrolls sideways at %d px", b.evalString(`location.pathname`), width)
	}
	b.screenshot(name)
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		b.fatalf("restore the window: %v", err)
	}
}
