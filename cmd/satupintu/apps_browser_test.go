package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"satupintu/demorp"
	"satupintu/password"
	"satupintu/storage"
)

// TestBrowserYourApps drives a headless chromium through the signed-in home
// of the 2023 manual and the "Create SSO" of the 2011 manual:
//
//  1. sign in at the provider itself, go from the home page to Your Apps;
//  2. open the second demo app from Your Apps: it signs the user in without
//     a password;
//  3. link the account the user has in e-BPOM (a wrong password first),
//     and see it marked "SSO terdaftar";
//  4. open e-BPOM: its claims page shows the app's own username, and the
//     other app's does not.
//
// Screenshots of Your Apps, the link form and the profile, at phone and
// desktop widths, go to $SATUPINTU_SCREENSHOTS if set.
func TestBrowserYourApps(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	ebpom := tp.startListedDemoApp("ebpom-test", "e-BPOM (test)", demorp.Account{Username: "ebpom.budi", Password: "sandi-ebpom-uji"})
	insw := tp.startListedDemoApp("insw-test", "Portal INSW (test)")

	// 1. Sign in at the provider; the home page leads to Your Apps.
	b.open(tp.issuer+"/login?lang=id", `input[name="password"]`) // the texts below are Indonesian
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/")
	b.clickAndLoad("#your-apps", tp.issuer+"/apps")
	b.checkAccountPage()
	for _, name := range []string{ebpom.Name, insw.Name} {
		b.checkText("ul.apps", name)
	}
	b.checkText(`li[data-client="ebpom-test"] .app-sso`, "SSO belum terdaftar")
	if n := b.count(`li[data-client="insw-test"] .app-sso`); n != 0 {
		b.fatalf("an app without an account-link endpoint shows an SSO mark")
	}
	b.screenshotWidth("apps-phone.png", 390)
	b.screenshot("apps-desktop.png")

	// 2. Open the second app: "Open" goes to its third-party login
	// endpoint (OIDC Core §4), which starts the sign-in; the provider's
	// session answers it, so the user lands in the app signed in, with no
	// click and no provider page shown on the way.
	b.nav.reset()
	b.clickAndLoad(`li[data-client="insw-test"] a.app-open`, insw.ExternalURL+"/")
	b.wait("#claims")
	shown, requested := b.nav.reset()
	for _, u := range shown {
		if sameOrigin(u, tp.issuer) {
			b.fatalf("opening the app showed a provider page %s (shown: %q)", u, shown)
		}
	}
	if !hasRequest(requested, tp.issuer, "/authorize") {
		b.fatalf("the app did not sign in through the provider: %q", requested)
	}
	b.checkClaims(tp)
	if got := b.text("#app-username"); !strings.Contains(got, "not linked") {
		b.fatalf("the second app shows an app account %q before any link", got)
	}

	// 3. Link the e-BPOM account: a wrong password is refused kindly.
	b.open(tp.issuer+"/apps", "ul.apps")
	b.clickAndLoad(`li[data-client="ebpom-test"] a.app-link`, tp.issuer+"/apps/ebpom-test/link")
	b.checkAccountPage()
	b.screenshotWidth("link-phone.png", 390)
	b.fill("#username", "ebpom.budi")
	b.fill("#password", "salah")
	b.click(`main form.card button[type="submit"]`)
	b.checkText("#form-error", "Aplikasi tidak menerima username dan kata sandi ini")
	if got := b.value("#username"); got != "ebpom.budi" {
		b.fatalf("the username typed is gone: %q", got)
	}
	if got := b.value("#password"); got != "" {
		b.fatalf("the password is echoed back")
	}
	b.fill("#password", "sandi-ebpom-uji")
	b.clickAndLoad(`main form.card button[type="submit"]`, tp.issuer+"/apps?done=linked")
	b.checkText(`li[data-client="ebpom-test"] .app-linked`, "SSO terdaftar")
	b.checkText(`li[data-client="ebpom-test"] .app-linked`, "ebpom.budi")

	// 4. e-BPOM receives its own username for the user.
	b.clickAndLoad(`li[data-client="ebpom-test"] a.app-open`, ebpom.ExternalURL+"/")
	b.wait("#claims")
	if got := b.text("#app-username"); got != "ebpom.budi" {
		b.fatalf("e-BPOM shows app account %q, want ebpom.budi", got)
	}
	if got := b.text("#claim-app_username td"); got != "ebpom.budi" {
		b.fatalf("e-BPOM's ID token app_username = %q", got)
	}

	// The profile, in English this time.
	b.open(tp.issuer+"/profile?lang=en", "#company-npwp")
	b.checkAccountPage()
	if got := b.text("#company-npwp"); got != "01.234.567.8-901.000" {
		b.fatalf("NPWP printed as %q", got)
	}
	b.screenshotWidth("profile-phone.png", 390)
	b.screenshot("profile-desktop.png")
}

// accountKey matches a catalog key of the account pages shown as text: the
// catalog renders a key it does not have as the key itself.
var accountKey = regexp.MustCompile(`\b(?:account|help|contact|reg)\.[a-z0-9_]+(?:\.[a-z0-9_]+)*\b`)

// checkAccountPage fails on untranslated keys and checks the account menu.
func (b *browserSession) checkAccountPage() {
	b.t.Helper()
	text := b.evalString(`document.title + "\n" + document.body.innerText`)
	if keys := accountKey.FindAllString(text, -1); len(keys) > 0 {
		b.fatalf("untranslated message keys on the page: %q", keys)
	}
	if n := b.count(`nav.account-nav a[href="/apps"]`); n != 1 {
		b.fatalf("no account menu")
	}
}

// startListedDemoApp serves a demorp app on loopback with accounts of its
// own, and registers it listed in Your Apps, offering account linking when
// it has accounts, the way the demo data does.
func (tp *testProvider) startListedDemoApp(clientID, name string, accounts ...demorp.Account) demorp.App {
	t := tp.t
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	app := demorp.App{
		Name: name, ClientID: clientID, ClientSecret: password.GenerateSecret(),
		ExternalURL: "http://" + srv.Listener.Addr().String(), Accounts: accounts,
	}
	now := tp.clock.Now()
	c := storage.Client{
		ID: app.ClientID, Name: app.Name, SecretHash: password.HashSecret(app.ClientSecret),
		RedirectURIs:           []string{app.RedirectURI()},
		PostLogoutRedirectURIs: []string{app.PostLogoutRedirectURI()},
		GrantTypes:             []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		AccessTokenFormat:      "opaque", CreatedAt: now, UpdatedAt: now,
		Listed: true, Description: name + ": aplikasi uji", LaunchURL: app.ExternalURL,
		InitiateLoginURI: app.ExternalURL + demorp.InitiateLoginPath,
	}
	if len(accounts) > 0 {
		c.AccountLinkURL = app.ExternalURL + demorp.AccountLinkPath
	}
	if err := tp.durable.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := demorp.NewHandler(t.Context(), tp.issuer, app, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return app
}
