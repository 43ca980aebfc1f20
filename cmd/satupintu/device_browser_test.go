package main

import (
	"strings"
	"testing"
	"time"
)

// TestBrowserDeviceFlow: a command-line tool asks for a device
// authorization; the person opens verification_uri_complete in a real
// browser, signs in, sees which application asks and for what, and
// allows it; the tool's next poll gets tokens. The code is never approved
// by opening the link alone.
func TestBrowserDeviceFlow(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	tp.addDeviceClients()
	da := tp.startDevice("cli")

	// Not signed in: the link leads to the sign-in page, and back.
	b.navigate(da.VerificationURIComplete, tp.issuer+"/login")
	b.wait(`input[name="password"]`)
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/device")
	b.wait("#user_code")
	b.checkPage()
	if got := b.value("#user_code"); !strings.EqualFold(strings.ReplaceAll(got, "-", ""), strings.ReplaceAll(da.UserCode, "-", "")) {
		b.fatalf("the code field holds %q, want the link's %q", got, da.UserCode)
	}
	b.screenshot("device-code.png")
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "authorization_pending" {
		b.fatalf("poll after opening the link: %q, want authorization_pending (opening must not approve)", e)
	}

	b.clickAndLoad("#device-continue", tp.issuer+"/device")
	b.wait("#device-allow")
	b.checkPage()
	if client := b.text("#device-client"); !strings.Contains(client, "App cli") {
		b.fatalf("the confirmation names %q, want the application", client)
	}
	b.screenshot("device-confirm.png")
	b.clickAndLoad("#device-allow", tp.issuer+"/device/done")
	b.wait("#device-result")
	b.checkPage()
	b.screenshot("device-done.png")

	tp.clock.Advance(11 * time.Second) // past the polling interval
	tokens, e := tp.pollDevice("cli", da.DeviceCode)
	if e != "" || tokens == nil || tokens.AccessToken == "" || tokens.IDToken == "" {
		b.fatalf("poll after allowing: %q %+v", e, tokens)
	}
}
