package main

import (
	"encoding/base32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"satupintu/demorp"
	"satupintu/storage"
	"satupintu/totp"
)

// TestBrowserConsoleRegistersClient: an admin signs in with a second
// factor, registers a client application in the console and copies its
// secret; the demo relying party configured with them completes a
// sign-in. The admin rotates the secret: the old one stops working, the
// new one works.
func TestBrowserConsoleRegistersClient(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	ctx := t.Context()
	if err := tp.durable.UpdateUser(ctx, tp.user.ID, func(u *storage.User) error {
		u.Roles = append(u.Roles, storage.RoleAdmin)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// An application requiring a second factor leads the admin through
	// enrolment, so the session holds one.
	strict := tp.startDemoApp("strict-test", "Portal Bea Cukai (test)")
	if err := tp.durable.UpdateClient(ctx, strict.ClientID, func(c *storage.Client) error { c.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b.open(strict.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/login/mfa?")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(b.text("#mfa-secret"), " ", ""))
	if err != nil {
		b.fatalf("key on the page: %v", err)
	}
	b.submitCode(totp.Code(secret, tp.clock.Now()), tp.issuer+"/login/mfa")
	b.clickAndLoad("#recovery-saved", strict.ExternalURL+"/")
	b.wait("#claims")

	// The new application's address is known before it is registered.
	srv := httptest.NewUnstartedServer(nil)
	var handler atomic.Pointer[http.Handler]
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) })
	app := demorp.App{Name: "e-BPOM (konsol)", ExternalURL: "http://" + srv.Listener.Addr().String()}
	serve := func(clientSecret string) {
		app.ClientSecret = clientSecret
		h, err := demorp.NewHandler(ctx, tp.issuer, app, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		handler.Store(&h)
	}

	// Register it in the console.
	b.open(tp.issuer+"/admin", "#signin-chart")
	b.screenshot("console-dashboard.png")
	b.clickAndLoad(`a[href="/admin/clients"]`, tp.issuer+"/admin/clients")
	b.clickAndLoad("#new-client", tp.issuer+"/admin/clients/new")
	fill(b, "#name", app.Name)
	fill(b, "#redirect_uris", app.RedirectURI())
	fill(b, "#post_logout_redirect_uris", app.PostLogoutRedirectURI())
	b.clickAndLoad("#save-client", tp.issuer+"/admin/clients")
	b.wait("#client-secret")
	app.ClientID = b.text("#client-id")
	first := b.text("#client-secret")
	b.screenshot("console-secret.png")
	serve(first)
	srv.Start()
	t.Cleanup(srv.Close)

	// The demo application signs the admin in with it (single sign-on).
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", app.ExternalURL+"/")
	b.wait("#claims")
	b.checkClaims(tp)

	// Rotate: the page shows a new secret once.
	b.open(tp.issuer+"/admin/clients/"+app.ClientID, "#rotate-secret")
	b.clickAndLoad("#rotate-secret", tp.issuer+"/admin/clients/"+app.ClientID+"/secret")
	second := b.text("#client-secret")
	if second == "" || second == first {
		b.fatalf("rotation showed %q", second)
	}

	// The application still configured with the old secret fails its
	// next code exchange.
	b.clickAndLoad(`a[href="/admin/clients"]`, tp.issuer+"/admin/clients")
	{
		sctx, cancel := b.step()
		resp, err := chromedp.RunResponse(sctx, chromedp.Navigate(app.ExternalURL+"/login"))
		cancel()
		if err != nil || resp == nil || resp.Status != http.StatusBadRequest || b.count("#error") != 1 {
			b.fatalf("sign-in with the old secret: %v %+v", err, resp)
		}
	}
	// With the new one it signs in again.
	serve(second)
	b.navigate(app.ExternalURL+"/login", app.ExternalURL+"/")
	b.wait("#claims")
	b.checkClaims(tp)
}

// fill types s into the field sel.
func fill(b *browserSession, sel, s string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), s)); err != nil {
		b.fatalf("type into %s: %v", sel, err)
	}
}
