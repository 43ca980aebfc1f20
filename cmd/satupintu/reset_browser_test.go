package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"satupintu/templates"
)

// TestBrowserPasswordReset is "password reset through the captured email",
// in a real (headless) chromium:
//
//  1. a second browser signs in, so the user has a session to lose;
//  2. from the sign-in page, "forgot password?", the email address, and the
//     page that says a link was sent if the address is registered;
//  3. the link from the email captured by the test SMTP server sets a new
//     password;
//  4. the new password signs in; the second browser is signed out;
//  5. the link does not work twice.
func TestBrowserPasswordReset(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()

	// 1. Another browser, signed in.
	other := b.newIsolatedSession()
	other.navigate(tp.issuer+"/login", tp.issuer+"/login")
	other.submitPassword(tp.user.Username, tp.password, tp.issuer+"/")
	other.wait(`form[action="/logout"]`)

	// 2. Forgot password.
	b.open(tp.issuer+"/login", `a[href="/password/forgot"]`)
	lang := b.lang()
	b.clickAndLoad(`a[href="/password/forgot"]`, tp.issuer+"/password/forgot")
	b.checkNoRawKeys()
	b.screenshot("reset-forgot.png")
	b.fill("#email", strings.ToUpper(tp.user.Email)) // as someone might type it
	b.clickAndLoad(`form[action="/password/forgot"] button[type="submit"]`, tp.issuer+"/password/forgot/sent")
	b.checkNoRawKeys()
	b.checkText(`main p[role="status"]`, pages.T(lang, "password.sent.body", 60))

	// 3. The link in the email.
	msg := tp.mails.WaitFor(t, tp.user.Email, time.Minute)
	link := regexp.MustCompile(regexp.QuoteMeta(tp.issuer) + `/password/reset\?token=[A-Za-z0-9_-]{43}`).FindString(msg.Body)
	if link == "" {
		t.Fatalf("no reset link in the email:\n%s", msg.Body)
	}
	if !strings.Contains(msg.Body, tp.user.Username) {
		t.Errorf("the email does not name the username %s", tp.user.Username)
	}
	b.open(link, "#password")
	b.checkNoRawKeys()
	b.screenshot("reset-form.png")
	newPassword := "Kereta pagi ke Bogor, 06.15"
	b.fill("#password", newPassword)
	b.fill("#confirm", newPassword)
	b.clickAndLoad(`form[action="/password/reset"] button[type="submit"]`, tp.issuer+"/password/reset")
	b.checkNoRawKeys()
	b.checkText("main h1", pages.T(lang, "password.reset.done_title"))
	b.screenshot("reset-done.png")

	// 4. Sign in with the new password; the other browser lost its session.
	b.clickAndLoad(`main a[href="/login"]`, tp.issuer+"/login")
	b.submitPassword(tp.user.Username, newPassword, tp.issuer+"/")
	b.wait(`form[action="/logout"]`)
	other.navigate(tp.issuer+"/", tp.issuer+"/")
	if n := other.count(`form[action="/logout"]`); n != 0 {
		other.fatalf("the other browser is still signed in after the reset")
	}

	// 5. The same link again: the form shows (opening changes nothing),
	// the submit is refused.
	b.open(link, "#password")
	b.fill("#password", "teh manis di dapur nenek")
	b.fill("#confirm", "teh manis di dapur nenek")
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/password/reset"] button[type="submit"]`)))
	if err != nil || resp == nil || resp.Status != 400 {
		b.fatalf("replayed link: %v, want a 400 page", err)
	}
	b.checkText("main h1", pages.T(lang, "password.reset.invalid_title"))

	t.Logf("password reset flow took %s", time.Since(start).Round(time.Millisecond))
}

// rawPasswordKey matches a password.* catalog key shown as text.
var rawPasswordKey = regexp.MustCompile(`\bpassword\.[a-z_]+(?:\.[a-z_]+)*\b`)

// checkNoRawKeys fails on untranslated message keys in the page.
func (b *browserSession) checkNoRawKeys() {
	b.t.Helper()
	text := b.evalString(`document.title + "\n" + document.body.innerText`)
	if keys := append(rawKey.FindAllString(text, -1), rawPasswordKey.FindAllString(text, -1)...); len(keys) > 0 {
		b.fatalf("untranslated message keys on the page: %q", keys)
	}
}
