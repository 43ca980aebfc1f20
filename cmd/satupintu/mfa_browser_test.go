package main

import (
	"encoding/base32"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"satupintu/storage"
	"satupintu/totp"
)

// TestBrowserMFA drives chromium through two-step verification at a demo
// relying party that requires it:
//
//  1. the password, then the enrolment page the client's policy leads to:
//     a QR code and the key as text; the code computed from that key, as an
//     authenticator app would, confirms it;
//  2. the recovery codes, shown once, and "I saved them" continues to the
//     application, whose ID token carries acr urn:satupintu:acr:mfa and amr
//     with otp;
//  3. after signing out, signing in again asks for the password and then a
//     code, and no enrolment.
func TestBrowserMFA(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	app := tp.startDemoApp("customs-test", "Portal Bea Cukai (test)")
	if err := tp.durable.UpdateClient(t.Context(), app.ClientID, func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// 1. Password, then enrolment.
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/login/mfa?")
	b.wait("#mfa-qr")
	b.wait("#mfa-required")
	if n := b.count(`img#mfa-qr[src^="data:image/png;base64,"]`); n != 1 {
		b.fatalf("no QR code image")
	}
	// On a phone the QR code cannot be scanned from its own screen: the
	// same otpauth:// URI is a link that opens the authenticator app.
	if n := b.count(`a#mfa-link[href^="otpauth://totp/satupintu:"][href*="secret="]`); n != 1 {
		b.fatalf("no tappable otpauth:// link next to the QR code")
	}
	if ok := b.imageLoaded("#mfa-qr"); !ok {
		b.fatalf("the QR code image did not render (CSP or encoding)")
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(b.text("#mfa-secret"), " ", ""))
	if err != nil || len(secret) != totp.SecretSize {
		b.fatalf("key on the page: %v", err)
	}
	b.screenshot("mfa-enrol.png")
	b.submitCode(totp.Code(secret, tp.clock.Now()), tp.issuer+"/login/mfa")

	// 2. Recovery codes, then the application.
	b.wait("#recovery-codes")
	if n := b.count("#recovery-codes li"); n != totp.RecoveryCodeCount {
		b.fatalf("%d recovery codes shown", n)
	}
	b.screenshot("mfa-recovery-codes.png")
	b.clickAndLoad("#recovery-saved", app.ExternalURL+"/")
	b.wait("#claims")
	b.checkClaims(tp)
	b.checkMFAClaims()

	// 3. Sign out, sign in again: password, then a code.
	b.clickAndLoad("#signout", app.ExternalURL+"/?")
	b.wait("#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/login/mfa?")
	b.wait("input#code")
	if n := b.count("#mfa-qr"); n != 0 {
		b.fatalf("an enrolled user is asked to enrol again")
	}
	b.screenshot("mfa-signin.png")
	tp.clock.Advance(totp.Period) // the enrolment used this step's code (single use)
	b.submitCode(totp.Code(secret, tp.clock.Now()), app.ExternalURL+"/")
	b.wait("#claims")
	b.checkMFAClaims()
}

// submitCode types code into the second step's field and submits its
// form; the browser must end up at want.
func (b *browserSession) submitCode(code, want string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input#code`), code)); err != nil {
		b.fatalf("type the code: %v", err)
	}
	b.clickAndLoad(`form:has(input#code) button[type="submit"]`, want)
}

// imageLoaded reports whether the image sel was decoded and has a size.
func (b *browserSession) imageLoaded(sel string) bool {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector(`+jsString(sel)+`); return !!i && i.complete && i.naturalWidth > 0; })()`))
	if err != nil {
		b.fatalf("image %s: %v", sel, err)
	}
	return ok
}

// checkMFAClaims checks the demo app's ID token table for the second factor.
func (b *browserSession) checkMFAClaims() {
	b.t.Helper()
	if acr := b.text("#claim-acr td"); acr != storage.ACRMFA {
		b.fatalf("acr %q, want %s", acr, storage.ACRMFA)
	}
	if amr := b.text("#claim-amr td"); !strings.Contains(amr, "otp") || !strings.Contains(amr, "mfa") {
		b.fatalf("amr %q lacks otp and mfa", amr)
	}
}
