package main

import (
	"testing"
	"time"

	"satupintu/demorp"
	"satupintu/storage"
)

// TestBrowserBackchannelLogout: signed in to both demo apps by single
// sign-on, the user signs out of app 1; the provider tells app 2 over the
// back channel, so app 2 shows "not signed in" on a later page load. The
// logout is delivered by the job queue, so app 2's page is reloaded until
// it says so, within a generous bound.
func TestBrowserBackchannelLogout(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	tp.clock.UseRealTime() // the demo apps check a logout token's iat against their clock
	app1 := tp.startDemoApp("ebpom-bcl", "e-BPOM (test)")
	app2 := tp.startDemoApp("insw-bcl", "Portal INSW (test)")
	for _, app := range []demorp.App{app1, app2} {
		if err := tp.durable.UpdateClient(t.Context(), app.ClientID, func(c *storage.Client) error {
			c.BackchannelLogoutURI = app.ExternalURL + demorp.BackchannelLogoutPath
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// Signed in to app 1 with the password, to app 2 by single sign-on.
	b.open(app1.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.wait(`input[name="password"]`)
	b.submitPassword(tp.user.Username, tp.password, app1.ExternalURL+"/")
	b.wait("#claims")
	b.open(app2.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", app2.ExternalURL+"/")
	b.wait("#claims")

	// Sign out of app 1 (RP-initiated logout at the provider).
	b.open(app1.ExternalURL+"/", "#signout")
	b.clickAndLoad("#signout", app1.ExternalURL+"/?")
	b.wait("#signed-out")

	// App 2 learns it over the back channel: poll its page.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b.open(app2.ExternalURL+"/", "#signin, #signout")
		if b.count("#signin") == 1 && b.count("#claims") == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.fatalf("app 2 still signed in two minutes after signing out of app 1")
		}
		time.Sleep(200 * time.Millisecond) // between page loads, not a wait for the result
	}
}
