package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"satupintu/storage"
)

// localhostIssuer names the test server http://localhost:PORT: WebAuthn
// refuses an IP address as the relying party id, and a browser treats
// localhost as a secure context without TLS.
func localhostIssuer(c *Config) {
	c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
}

// TestBrowserPasskey drives chromium with a virtual authenticator (DevTools
// WebAuthn domain; a platform authenticator that verifies its user) through
// passkeys, at a demo relying party that requires a second factor:
//
//  1. signed in with the password, the Security page adds a passkey after
//     the password is entered again;
//  2. signed out, the passkey alone signs in to the application, which
//     accepts it as two factors (acr mfa; amr hwk, user, pin, mfa): from
//     the user name field's autofill, and from the button; the same answer
//     posted again, or with another browser's challenge, signs nobody in;
//  3. the password then the passkey as the second step, instead of a
//     TOTP enrolment;
//  4. a removed passkey no longer signs in, although the authenticator
//     still offers it.
func TestBrowserPasskey(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProviderHash(t, cheapHash, localhostIssuer)
	app := tp.startDemoApp("customs-test", "Portal Bea Cukai (test)")
	if err := tp.durable.UpdateClient(t.Context(), app.ClientID, func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.addAuthenticator()

	// 1. Register a passkey from the Security page.
	b.open(tp.issuer+"/login", "#username")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/")
	b.open(tp.issuer+"/mfa", "#passkeys")
	if n := b.count(".passkey-item"); n != 0 {
		b.fatalf("%d passkeys before adding one", n)
	}
	b.fill("#passkey-password", tp.password)
	b.clickAndLoad("#passkey-add", tp.issuer+"/passkeys/new")
	b.fill("#passkey-name", "Laptop uji")
	b.clickAndLoad("#passkey-create", tp.issuer+"/mfa?done=passkey_added")
	b.wait(".passkey-item")
	if name := b.text(".passkey-item .passkey-name"); name != "Laptop uji" {
		b.fatalf("passkey listed as %q", name)
	}
	b.screenshot("passkey-security.png")
	keys, err := tp.durable.PasskeysOf(t.Context(), tp.user.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored passkeys: %v, %v", keys, err)
	}

	// 2. Signed out, the passkey alone signs in to the application: the
	// browser offers it in the user name field's autofill, which this
	// authenticator accepts at once, so the page goes on by itself.
	b.signOut()
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.wait("#claims")
	b.checkClaims(tp)
	b.checkPasskeyClaims("hwk", "user", "pin", "mfa")

	// The button, with the autofill off from here on.
	b.withoutPasskeyAutofill()
	b.signOut()
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.wait("#passkey-signin")
	b.screenshot("passkey-signin.png")
	// Keep the answer instead of posting it, to replay it below.
	answer := b.holdPasskeyAnswer()
	replayer := tp.newBrowser()
	_, page := replayer.get(tp.issuer + "/login")
	fields := formFields(t, page)
	if resp, _ := replayer.post(tp.issuer+"/login/passkey/options", fields); resp.StatusCode != http.StatusOK {
		t.Fatalf("options for the replayer: %d", resp.StatusCode)
	}
	refused := func(what string, resp *http.Response, page string) {
		t.Helper()
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="form-error"`) || strings.Contains(resp.Request.URL.Path, "/mfa") {
			t.Fatalf("%s: %d at %s, want the sign-in page with an error:\n%s", what, resp.StatusCode, resp.Request.URL, page)
		}
		for _, c := range replayer.client.Jar.Cookies(resp.Request.URL) {
			if strings.Contains(c.Name, "session") {
				t.Fatalf("%s: a session cookie was set", what)
			}
		}
	}
	resp, page := replayer.post(tp.issuer+"/login/passkey", url.Values{"csrf_token": {fields.Get("csrf_token")}, "credential": {answer.credential}})
	refused("an answer to another browser's challenge", resp, page)

	b.postHeldAnswer(app.ExternalURL + "/")
	b.wait("#claims")
	b.checkClaims(tp)
	b.checkPasskeyClaims("hwk", "user", "pin", "mfa")

	// The same answer again, with the browser's own (used) challenge.
	replayer.setCookies(tp.issuer, answer.cookies)
	resp, page = replayer.post(tp.issuer+"/login/passkey", url.Values{"csrf_token": {answer.csrf}, "credential": {answer.credential}})
	refused("a replayed answer", resp, page)

	// 3. Password, then the passkey as the second step.
	b.signOut()
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/login/mfa?")
	b.wait("#passkey-signin")
	if n := b.count("#mfa-qr, input#code"); n != 0 {
		b.fatalf("a user with a passkey is asked for a TOTP code or enrolment")
	}
	b.clickAndLoad("#passkey-signin", app.ExternalURL+"/")
	b.wait("#claims")
	b.checkPasskeyClaims("pwd", "hwk", "mfa")

	// 4. A removed passkey no longer signs in.
	b.open(tp.issuer+"/mfa", "#passkeys")
	b.clickAndLoad(".passkey-delete", tp.issuer+"/mfa?done=passkey_remove")
	if n := b.count(".passkey-item"); n != 0 {
		b.fatalf("%d passkeys listed after removing the only one", n)
	}
	b.signOut()
	b.open(tp.issuer+"/login", "#passkey-signin")
	b.clickAndLoad("#passkey-signin", tp.issuer+"/login/passkey")
	b.wait("#form-error")
	if n := b.count("#claims"); n != 0 {
		b.fatalf("a removed passkey signed in")
	}
}

// addAuthenticator gives the tab a virtual platform authenticator that
// holds discoverable credentials and verifies its user at once.
func (b *browserSession) addAuthenticator() {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.fatalf("enable WebAuthn domain: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.fatalf("add virtual authenticator: %v", err)
	}
}

// withoutPasskeyAutofill makes every page from now on report that the
// browser offers no passkeys in autofill, so only the button asks for one.
func (b *browserSession) withoutPasskeyAutofill() {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = function () { return Promise.resolve(false); };`,
	})
	if err != nil {
		b.fatalf("turn passkey autofill off: %v", err)
	}
}

// signOut forgets every cookie of the browser: the next page is a stranger's.
func (b *browserSession) signOut() {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		b.fatalf("clear cookies: %v", err)
	}
}

// heldAnswer is a passkey answer the page produced but did not post, with
// what posting it takes: the browser's cookies and the form's CSRF token.
type heldAnswer struct {
	credential, csrf string
	cookies          []*http.Cookie
}

// holdPasskeyAnswer presses the passkey button with the form's submit
// replaced, so the authenticator's answer stays on the page.
func (b *browserSession) holdPasskeyAnswer() heldAnswer {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("passkey-form").submit = function () { document.body.setAttribute("data-held", this.credential.value); }`),
		chromedp.Click(chromedp.CSS("#passkey-signin")),
		chromedp.WaitReady(chromedp.CSS("body[data-held]")),
	)
	if err != nil {
		b.fatalf("hold the passkey answer: %v", err)
	}
	var a heldAnswer
	if a.credential, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.getAttribute("data-held")`)); err != nil || a.credential == "" {
		b.fatalf("read the held answer: %v", err)
	}
	if a.csrf, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#passkey-form input[name=csrf_token]").value`)); err != nil {
		b.fatalf("read the CSRF token: %v", err)
	}
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		a.cookies = append(a.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return a
}

// postHeldAnswer posts the held answer as the page would have.
func (b *browserSession) postHeldAnswer(want string) {
	b.t.Helper()
	b.load("post the held passkey answer", want,
		chromedp.Evaluate[chromedp.Void](`HTMLFormElement.prototype.submit.call(document.getElementById("passkey-form"))`))
}

// checkPasskeyClaims checks the demo app's ID token for a second factor
// and each amr value in want.
func (b *browserSession) checkPasskeyClaims(want ...string) {
	b.t.Helper()
	if acr := b.text("#claim-acr td"); acr != storage.ACRMFA {
		b.fatalf("acr %q, want %s", acr, storage.ACRMFA)
	}
	amr := strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ", `"`, " ").Replace(b.text("#claim-amr td")))
	for _, w := range want {
		found := false
		for _, v := range amr {
			found = found || v == w
		}
		if !found {
			b.fatalf("amr %q lacks %q", amr, w)
		}
	}
}

// setCookies puts cookies into the user agent's jar for rawURL.
func (b *browser) setCookies(rawURL string, cookies []*http.Cookie) {
	u, _ := url.Parse(rawURL)
	b.client.Jar.SetCookies(u, cookies)
}
