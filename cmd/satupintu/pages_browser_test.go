package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"satupintu/storage"
)

// TestBrowserMainPagesAtPhoneAndDesktopWidths opens the main pages in both
// languages at a phone width (390 px) and a desktop width (1280 px), takes a
// screenshot of each, and fails on untranslated message keys or a page that
// scrolls sideways.
func TestBrowserMainPagesAtPhoneAndDesktopWidths(t *testing.T) {
	b := newBrowserSession(t)
	tp := newTestProvider(t)
	public := []string{"/login", "/register", "/track", "/password/forgot", "/help", "/contact"}
	private := []string{"/", "/apps", "/profile", "/sessions", "/mfa", "/password/change"}

	visit := func(paths []string) {
		for _, width := range []int64{390, 1280} {
			ctx, cancel := b.step()
			err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900))
			cancel()
			if err != nil {
				t.Fatalf("viewport %d: %v", width, err)
			}
			for _, lang := range []string{"id", "en"} {
				for _, path := range paths {
					b.navigate(tp.issuer+path+"?lang="+lang, tp.issuer+path)
					b.wait("main")
					b.checkPage()
					if b.eval(`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`) {
						b.fatalf("%s (%s) scrolls sideways at %d px", path, lang, width)
					}
					name := strings.Trim(strings.ReplaceAll(path, "/", "-"), "-")
					if name == "" {
						name = "home"
					}
					b.screenshot(fmt.Sprintf("page-%s-%s-%d.png", name, lang, width))
				}
			}
		}
	}
	visit(public) // signed out: /login would send a signed-in user home
	b.navigate(tp.issuer+"/login", tp.issuer+"/login")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/")
	visit(private)
}

// TestBrowserExpiredAccountRefused: an account past its expiry date cannot
// sign in, and says why once the password is right.
func TestBrowserExpiredAccountRefused(t *testing.T) {
	b := newBrowserSession(t)
	tp := newTestProvider(t)
	app := tp.startDemoApp("ebpom-test", "e-BPOM (test)")
	if err := tp.durable.UpdateUser(t.Context(), tp.user.ID, func(u *storage.User) error {
		u.ExpiresAt = tp.clock.Now().Add(-24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.navigate(tp.issuer+"/login?lang=id", tp.issuer+"/login") // Indonesian text for the check below
	b.open(app.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.submitPassword(tp.user.Username, tp.password, tp.issuer+"/login")
	b.wait("#form-error")
	if msg := b.text("#form-error"); !strings.Contains(msg, "kedaluwarsa") {
		b.fatalf("expired account message = %q", msg)
	}
	b.screenshot("expired-account.png")
	if n := b.count("#claims"); n != 0 {
		b.fatalf("the app shows claims for an expired account")
	}
}
