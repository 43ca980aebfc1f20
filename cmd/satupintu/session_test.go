package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The pages of every UI package share one guard (package session): an
// anonymous GET of a signed-in page leads to the sign-in page and, after
// it, back to the page asked for; a page for another role is a 403.
func TestGuardedPagesReturnAfterSignIn(t *testing.T) {
	tp := newTestProvider(t)
	for _, path := range []string{"/profile", "/account/data", "/officer"} {
		b := tp.newBrowser()
		resp, page := b.get(tp.issuer + path)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" {
			t.Fatalf("anonymous GET %s ended at %d %s", path, resp.StatusCode, resp.Request.URL)
		}
		form := formFields(t, page)
		form.Set("username", tp.user.Username)
		form.Set("password", tp.password)
		resp, _ = b.post(tp.issuer+"/login", form)
		want := http.StatusOK
		if path == "/officer" {
			want = http.StatusForbidden // a trader, not an officer
		}
		if resp.Request.URL.Path != path || resp.StatusCode != want {
			t.Errorf("after signing in for %s: %d at %s; want %d at %s", path, resp.StatusCode, resp.Request.URL.Path, want, path)
		}
	}
}

// Step-up re-authentication (/reauth, served by login for session's
// RequireFreshAuth) takes the password again and returns to the page.
func TestReauthReturnsToThePage(t *testing.T) {
	tp := newTestProvider(t)
	b := tp.newBrowser()
	tp.signInHome(b, tp.user.Username, tp.password)
	resp, page := b.get(tp.issuer + "/reauth?return=%2Fsessions")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /reauth: %d", resp.StatusCode)
	}
	form := formFields(t, page)
	if !strings.Contains(page, `name="return" value="/sessions"`) {
		t.Fatalf("the page does not carry the way back:\n%s", page)
	}
	form.Set("return", "/sessions") // as the browser sends the hidden field
	form.Set("password", tp.password)
	resp, _ = b.post(tp.issuer+"/reauth", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/sessions" {
		t.Fatalf("after re-authenticating: %d at %s; want /sessions", resp.StatusCode, resp.Request.URL)
	}
	if got := tp.auditActions(t); !slices.Contains(got, "session.reauth") {
		t.Errorf("audit = %v; want session.reauth", got)
	}
}
