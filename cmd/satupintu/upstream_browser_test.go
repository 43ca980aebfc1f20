package main

import (
	"strings"
	"testing"

	"satupintu/upstream"
)

// TestBrowserUpstreamSignIn drives chromium through sign-in with an
// upstream provider (a second satupintu, "INApas") at a demo relying party:
//
//  1. first use: the upstream's password, then "Link your account", then
//     the satupintu password links the identity; the app gets pwd;
//  2. after signing out at the app: the upstream alone signs in, straight
//     through to the app, whose ID token says fed.
//
// Both providers are on 127.0.0.1, and cookies do not tell ports apart, so
// each sign-in at one replaces the other's session cookie: the second
// sign-in asks for the upstream's password again, as a separate upstream
// would after its own session ended. satupintu's is never asked again.
func TestBrowserUpstreamSignIn(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	up := newTestProvider(t)
	down := newTestProviderHash(t, cheapHash, withUpstream(t, up, upstream.Provider{}))
	app := down.startDemoApp("ebpom-test", "e-BPOM (test)")

	// 1. First use.
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", down.issuer+"/login?")
	b.wait("#upstream-inapas")
	b.clickAndLoad("#upstream-inapas", up.issuer+"/login?")
	b.submitPassword(up.user.Username, up.password, down.issuer+"/upstream/link")
	b.wait("#upstream-link-signin")
	if h1 := b.text("h1"); h1 != "Hubungkan akun" && h1 != "Link your account" {
		b.fatalf("link page heading %q", h1)
	}
	b.screenshot("upstream-link.png")
	b.clickAndLoad("#upstream-link-signin", down.issuer+"/login?")
	if notice := b.text("#upstream-linking"); !strings.Contains(notice, "INApas") {
		b.fatalf("sign-in page notice %q does not name the upstream", notice)
	}
	b.submitPassword(down.user.Username, down.password, app.ExternalURL+"/")
	b.wait("#claims")
	if claims := b.text("#claims"); strings.Contains(claims, `"fed"`) || !strings.Contains(claims, `"pwd"`) {
		b.fatalf("first sign-in claims, want amr pwd:\n%s", claims)
	}
	if l, err := down.durable.UpstreamLink(t.Context(), "inapas", up.user.ID); err != nil || l.UserID != down.user.ID {
		b.fatalf("after the password: link %+v, %v", l, err)
	}

	// 2. Signed out at the app (and so at satupintu), the upstream alone
	// signs in.
	b.open(app.ExternalURL+"/", "#signout")
	b.clickAndLoad("#signout", app.ExternalURL+"/?")
	b.wait("#signin")
	b.clickAndLoad("#signin", down.issuer+"/login?")
	b.wait("#upstream-inapas")
	b.clickAndLoad("#upstream-inapas", up.issuer+"/login?")
	b.submitPassword(up.user.Username, up.password, app.ExternalURL+"/")
	b.wait("#claims")
	if claims := b.text("#claims"); !strings.Contains(claims, `"fed"`) || strings.Contains(claims, `"pwd"`) {
		b.fatalf("straight-through claims, want amr fed:\n%s", claims)
	}
	b.checkClaims(down)
	b.screenshot("upstream-claims.png")
}
