package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"satupintu/captcha"
	"satupintu/templates"
)

// TestBrowserCaptchaProofOfWork: with the check on every form, a real
// chromium does the proof of work by itself (static/captcha.js, in Web
// Workers, under the pages' CSP): the hidden field gets a solution for the
// sign-in form, the status line says it is done, and a press of the
// button right away signs in. Without JavaScript the same form offers the
// image code instead.
func TestBrowserCaptchaProofOfWork(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the server's shutdown
	tp := newTestProviderHash(t, cheapHash, func(c *Config) { c.Captcha = captcha.Always })
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}

	// 1. The form, typed into and sent at once: the press waits for the
	// work if it is still running, then goes through.
	b.open(tp.issuer+"/login", `input[name="username"]`)
	if b.count(`fieldset.captcha[data-challenge] .captcha-status[role="status"]`) != 1 {
		b.fatalf("no proof-of-work check with a status line on the form")
	}
	b.fill(`input[name="username"]`, tp.user.Username)
	b.fill(`input[name="password"]`, tp.password)
	b.clickAndLoad(`form:has(input[name="password"]) button[type="submit"]:not([name="captcha"])`, tp.issuer+"/")
	if b.count(`input[name="password"]`) != 0 {
		b.fatalf("still on the sign-in form")
	}

	// 2. The check as a screen reader meets it (another browser, not
	// signed in): the status line says it is done, in the page's
	// language, and the field holds a solution bound to the sign-in form.
	sr := b.newIsolatedSession()
	sr.open(tp.issuer+"/login", `input[name="username"]`)
	sr.solveCaptcha()
	if got, want := sr.text(`fieldset.captcha .captcha-status`), pages.T(sr.lang(), "protection.captcha.done"); got != want {
		sr.fatalf("status line says %q, want %q", got, want)
	}
	raw, err := base64.StdEncoding.DecodeString(sr.value(`input[name="captcha_proof"]`))
	if err != nil {
		sr.fatalf("the solution is not base64: %v", err)
	}
	var sol captcha.Solution
	if err := json.Unmarshal(raw, &sol); err != nil || sol.Algorithm != captcha.Algorithm || !strings.Contains(sol.Salt, "purpose=login&") {
		sr.fatalf("solution %s: %v", raw, err)
	}
	t.Logf("proof of work: number %d found in %s ms", sol.Number, sr.evalString(`document.querySelector('fieldset.captcha').dataset.tookMs`))
	if solver := sr.evalString(`document.querySelector('fieldset.captcha').dataset.solver`); solver != "workers" {
		sr.fatalf("the work ran %q, not in Web Workers (does the CSP let them start?)", solver)
	}
	sr.screenshot("captcha-proof.png")

	// 3. Without JavaScript: the image code, on request.
	nojs := b.newIsolatedSession()
	ctx, cancel := nojs.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("switch JavaScript off: %v", err)
	}
	nojs.open(tp.issuer+"/login", `input[name="username"]`)
	nojs.fill(`input[name="username"]`, tp.user.Username)
	nojs.clickAndLoad(`button[name="captcha"][value="image"]:not([hidden])`, tp.issuer+"/login")
	nojs.wait("img.captcha-image")
	if !nojs.imageLoaded("img.captcha-image") {
		nojs.fatalf("the image code did not render (CSP, route or PNG)")
	}
	if got := nojs.value(`input[name="username"]`); got != tp.user.Username {
		nojs.fatalf("the switch lost the username: %q", got)
	}
	nojs.wait("#captcha_answer")
	nojs.screenshot("captcha-image.png")
}

// solveCaptcha waits, as a person would (doing nothing), until the page's
// script has done the proof of work of its security check: the status line
// says so and the hidden field holds the solution. It waits on that
// condition, with the step's generous time limit, never for a fixed time.
func (b *browserSession) solveCaptcha() {
	b.t.Helper()
	if b.count(`fieldset.captcha[data-challenge]`) == 0 {
		b.fatalf("the page has no proof-of-work check")
	}
	ctx, cancel := b.step()
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const f = document.querySelector('fieldset.captcha[data-challenge]');
		const done = f.dataset.state === 'done' && f.querySelector('input[name="captcha_proof"]').value !== '';
		return done || f.dataset.state === 'failed' ? f.dataset.state : '';
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		b.fatalf("wait for the security check: %v", err)
	}
	if state != "done" {
		b.fatalf("the security check ended %q", state)
	}
}
