package registration

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
	"satupintu/quota"
	"satupintu/web/webtest"
)

// confirmForm loads the confirmation page and returns the form that
// passes its check, solved as the page's script would (add the action).
func (e *wizEnv) confirmForm(c *http.Client) url.Values {
	e.t.Helper()
	page := e.get(c, "/register/konfirmasi")
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /register/konfirmasi: %d (Location %q)", page.StatusCode, page.Header.Get("Location"))
	}
	form := captchatest.Form(e.t, page.Body)
	m := wizCSRFField.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("no csrf_token\n%s", page.Body)
	}
	form.Set("csrf_token", m[1])
	return form
}

// stepForm loads the step's page and returns its CSRF token and action,
// and the solution of the page's proof of work when action is one the
// check guards: Next on kontak (which mails a code), "Send a new code" on
// verifikasi and the submission. A page without a challenge (the check
// off) gets no solution.
func (e *wizEnv) stepForm(c *http.Client, slug, action string) url.Values {
	e.t.Helper()
	path := "/register/" + slug
	page := e.get(c, path)
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d (Location %q)\n%s", path, page.StatusCode, page.Header.Get("Location"), page.Body)
	}
	m := wizCSRFField.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("GET %s: no csrf_token\n%s", path, page.Body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}, "action": {action}}
	guarded := slug == StepContact && action == "next" || slug == StepVerify && action == "resend" ||
		slug == StepConfirm && action == "submit"
	if guarded && captchatest.Kind(page.Body) == captcha.Proof {
		form.Set(captcha.FieldProof, captchatest.Proof(e.t, page.Body))
	}
	return form
}

func TestWizardSubmitNeedsTheCaptcha(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)

	// The confirmation carries the proof of work, done by the page's
	// script; the way to an image code without JavaScript comes after the
	// form's own buttons.
	confirm := e.get(c, "/register/konfirmasi")
	wizWant(t, confirm, http.StatusOK, e.T("protection.captcha.legend"), `<script src="/static/captcha.js?v=`,
		`name="captcha" value="image"`, `value="back" class="secondary" formnovalidate`)
	if captchatest.Kind(confirm.Body) != captcha.Proof {
		t.Fatalf("no proof-of-work challenge:\n%s", confirm.Body)
	}
	if strings.Index(confirm.Body, `value="submit"`) > strings.Index(confirm.Body, `name="captcha" value="image"`) {
		t.Error("a CAPTCHA button comes before Yes, submit")
	}

	post := func(form url.Values) webtest.Response {
		form.Set("action", "submit")
		return e.post(c, "/register/konfirmasi", form)
	}
	form := e.confirmForm(c)
	csrf := form.Get("csrf_token")

	// No solution, a wrong number, the sign-in form's challenge: refused
	// before anything is counted or looked up, with a new challenge.
	res := post(url.Values{"csrf_token": {csrf}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.required"))
	wrong, err := captchatest.Solve(captchatest.Challenge(t, res.Body))
	if err != nil {
		t.Fatal(err)
	}
	wrong.Number++
	res = post(url.Values{"csrf_token": {csrf}, captcha.FieldProof: {wrong.Encode()}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"))
	if captchatest.Kind(res.Body) != captcha.Proof || captchatest.Challenge(t, res.Body).Challenge == wrong.Challenge {
		t.Fatalf("no new challenge after a wrong number:\n%s", res.Body)
	}
	signIn, err := e.h.Captcha.New(t.Context(), captcha.SignIn, captcha.Proof)
	if err != nil {
		t.Fatal(err)
	}
	var pc captcha.ProofChallenge
	if err := json.Unmarshal([]byte(signIn.Proof), &pc); err != nil {
		t.Fatal(err)
	}
	other, err := captchatest.Solve(pc)
	if err != nil {
		t.Fatal(err)
	}
	res = post(url.Values{"csrf_token": {csrf}, captcha.FieldProof: {other.Encode()}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"))
	if n := len(e.registrations()); n != 0 {
		t.Fatalf("%d registrations stored without a solved CAPTCHA", n)
	}
	if n, _ := e.eph.Count(t.Context(), "reg-submit:127.0.0.1"); n != 0 {
		t.Errorf("unsolved CAPTCHAs counted against the rate limit: %d", n)
	}
	if got := strings.Join(e.auditActions(), ","); strings.Count(got, "registration.submit_refused") != 3 {
		t.Errorf("audit %v", got)
	}

	// Solved from the page the last answer brought: submitted.
	next := captchatest.Form(t, res.Body)
	next.Set("csrf_token", csrf)
	e.serviceNumber(c, post(next))
}

// A wrong or missing answer to the submission's challenge costs the sender
// nothing: a flood of them writes at most quota.DefaultAuditPerWindow rows
// a minute, and the next minute's first refusal writes the rest as one
// count, so every refusal is accounted for.
func TestWizardSubmitFloodKeepsTheAuditLogBounded(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	csrf := e.confirmForm(c).Get("csrf_token")
	post := func() {
		t.Helper()
		res := e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, "action": {"submit"}})
		wizWant(t, res, http.StatusOK, e.T("protection.captcha.required"))
	}
	const attempts = 150
	for range attempts {
		post()
	}
	count := func() (rows, total int) {
		t.Helper()
		events, err := e.dur.ListAudit(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			switch {
			case ev.Action == "registration.submit_refused" && ev.Detail["reason"] == "captcha":
				rows++
				total++
			case ev.Action == "registration.refusals" && ev.Detail["reason"] == "captcha":
				n, err := strconv.Atoi(ev.Detail["count"])
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
		}
		return rows, total
	}
	if rows, _ := count(); rows != quota.DefaultAuditPerWindow {
		t.Errorf("%d rows in the flood's minute, want %d", rows, quota.DefaultAuditPerWindow)
	}
	e.clock.Advance(quota.DefaultAuditWindow)
	post()
	if _, total := count(); total != attempts+1 {
		t.Errorf("the rows account for %d refusals, want %d", total, attempts+1)
	}
	if n := len(e.registrations()); n != 0 {
		t.Fatalf("%d registrations stored without a solved CAPTCHA", n)
	}
}

// Without JavaScript the registrant asks for an image code; "New image"
// draws another and uses the old one up. Nothing is submitted.
func TestWizardCaptchaSwitch(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	page := e.get(c, "/register/konfirmasi")
	csrf := wizCSRFField.FindStringSubmatch(page.Body)[1]
	res := e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"image"}})
	wizWant(t, res, http.StatusOK, "PT Maju Bersama", e.T("protection.captcha.new_image"), `<img class="captcha-image" src="/captcha/`)
	first := captchatest.ID(res.Body)
	if captchatest.Kind(res.Body) != captcha.Image || first == "" {
		t.Fatalf("no image code:\n%s", res.Body)
	}
	res = e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"new"},
		captcha.FieldKind: {"image"}, captcha.FieldID: {first}})
	if captchatest.Kind(res.Body) != captcha.Image || captchatest.ID(res.Body) == first {
		t.Fatalf("no other image:\n%s", res.Body)
	}
	if ok, _ := e.h.Captcha.Verify(t.Context(), captcha.Registration, captcha.Answer{ID: first, Code: "ACDEF"}); ok {
		t.Error("the replaced image is still answerable")
	}
	if n := len(e.registrations()); n != 0 {
		t.Fatalf("a switch submitted: %d registrations", n)
	}
}

func TestWizardCaptchaOff(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.Captcha.Mode = captcha.Off
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	page := e.get(c, "/register/konfirmasi")
	if captchatest.Has(page.Body) {
		t.Fatal("CAPTCHA on the confirmation although off")
	}
	csrf := wizCSRFField.FindStringSubmatch(page.Body)[1]
	e.serviceNumber(c, e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, "action": {"submit"}}))
}

// mailsTo counts the verification codes mailed to the address.
func (e *wizEnv) mailsTo(to string) int {
	e.t.Helper()
	var n int
	for _, m := range e.mails() {
		if strings.HasPrefix(m.Subject, e.pages.T("id", "reg.code.mail.subject")) && strings.EqualFold(strings.Join(m.To, ","), to) {
			n++
		}
	}
	return n
}

// Every verification code mailed costs a solved check: Next on kontak
// and "Send a new code" alike, each with a fresh solution.
func TestWizardCodeNeedsTheCaptcha(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepContact, nil)
	const to = "siti@example.co.id"

	page := e.get(c, "/register/kontak")
	wizWant(t, page, http.StatusOK, e.T("protection.captcha.legend"), `<script src="/static/captcha.js?v=`, `name="captcha" value="image"`)
	if captchatest.Kind(page.Body) != captcha.Proof {
		t.Fatalf("no proof-of-work challenge on kontak:\n%s", page.Body)
	}
	if strings.Index(page.Body, `value="next"`) > strings.Index(page.Body, `name="captcha" value="image"`) {
		t.Error("a CAPTCHA button comes before Next")
	}
	contact := func(form url.Values, email string) webtest.Response {
		form.Set("action", "next")
		form.Set(FieldEmail, email)
		form.Set(FieldPhone, "0812-3456-7890")
		return e.post(c, "/register/kontak", form)
	}
	csrf := wizCSRFField.FindStringSubmatch(page.Body)[1]

	// No solution, then a wrong number: the step again, nothing mailed.
	res := contact(url.Values{"csrf_token": {csrf}}, "Siti@Example.co.id")
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.required"), `value="Siti@Example.co.id"`, e.T("reg.step.kontak"))
	wrong, err := captchatest.Solve(captchatest.Challenge(t, res.Body))
	if err != nil {
		t.Fatal(err)
	}
	wrong.Number++
	res = contact(url.Values{"csrf_token": {csrf}, captcha.FieldProof: {wrong.Encode()}}, "Siti@Example.co.id")
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"))
	if n := e.mailsTo(to); n != 0 {
		t.Fatalf("%d codes mailed without a solved check", n)
	}
	if n, _ := e.eph.Count(t.Context(), "reg-code:127.0.0.1"); n != 0 {
		t.Errorf("unsolved checks counted against the code limit: %d", n)
	}

	// Solved: the code is mailed and verifikasi comes next.
	solved := captchatest.Form(t, res.Body)
	solved.Set("csrf_token", csrf)
	wizWantRedirect(t, contact(solved, "Siti@Example.co.id"), "/register/verifikasi")
	if n := e.mailsTo(to); n != 1 {
		t.Fatalf("%d codes mailed after a solved check, want 1", n)
	}
	e.code(to)

	// The same solution again, for another address: refused, nothing sent.
	replay := url.Values{"csrf_token": {csrf}, captcha.FieldProof: {solved.Get(captcha.FieldProof)}}
	wizWant(t, contact(replay, "lain@example.co.id"), http.StatusOK, e.T("protection.captcha.wrong"))
	if n := e.mailsTo("lain@example.co.id"); n != 0 {
		t.Fatalf("a replayed solution mailed %d codes", n)
	}
	wizWantRedirect(t, e.submitStep(c, StepContact, "next", url.Values{FieldEmail: {"Siti@Example.co.id"}, FieldPhone: {"0812-3456-7890"}}),
		"/register/verifikasi")
	if n := e.mailsTo(to); n != 1 {
		t.Errorf("Next on kontak with a live code mailed another (%d)", n)
	}

	// On verifikasi the check belongs to the resend form only: the code
	// itself is entered without one.
	page = e.get(c, "/register/verifikasi")
	if captchatest.Kind(page.Body) != captcha.Proof {
		t.Fatalf("no proof-of-work challenge on verifikasi:\n%s", page.Body)
	}
	resendForm, box := strings.Index(page.Body, `class="card reg-resend"`), strings.Index(page.Body, `<fieldset class="field captcha"`)
	if resendForm < 0 || box < resendForm || strings.Index(page.Body, `value="next"`) > resendForm {
		t.Errorf("the check is not in the resend form (form at %d, check at %d)", resendForm, box)
	}
	resend := func(form url.Values) webtest.Response {
		form.Set("csrf_token", csrf)
		form.Set("action", "resend")
		return e.post(c, "/register/verifikasi", form)
	}
	res = resend(url.Values{})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.required"))
	if n := e.mailsTo(to); n != 1 {
		t.Fatalf("resend without a solution mailed a code (%d)", n)
	}
	fresh := captchatest.Form(t, res.Body)
	wizWant(t, resend(fresh), http.StatusOK, e.T("reg.code.sent"))
	if n := e.mailsTo(to); n != 2 {
		t.Fatalf("%d codes after a solved resend, want 2", n)
	}
	res = resend(url.Values{captcha.FieldProof: {fresh.Get(captcha.FieldProof)}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"))
	if n := e.mailsTo(to); n != 2 {
		t.Fatalf("a replayed solution resent a code (%d)", n)
	}
	wizWant(t, resend(captchatest.Form(t, res.Body)), http.StatusOK, e.T("reg.code.sent"))
	if n := e.mailsTo(to); n != 3 {
		t.Fatalf("%d codes after a fresh solution, want 3", n)
	}
	wizWantRedirect(t, e.verify(c, to), "/register/dokumen")
}

// Without JavaScript, kontak and the resend form switch to an image code;
// what was typed stays and nothing is mailed.
func TestWizardCodeCaptchaSwitch(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepContact, nil)
	csrf := e.csrf(c, "/register/kontak")
	res := e.post(c, "/register/kontak", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"image"},
		FieldEmail: {"siti@example.co.id"}, FieldPhone: {"0812"}})
	wizWant(t, res, http.StatusOK, `value="siti@example.co.id"`, `value="0812"`, e.T("protection.captcha.new_image"))
	if captchatest.Kind(res.Body) != captcha.Image {
		t.Fatalf("no image code on kontak:\n%s", res.Body)
	}
	if strings.Contains(res.Body, `class="field-error"`) {
		t.Error("a switch validated the fields")
	}
	// A wrong image code: a new image, nothing mailed.
	res = e.post(c, "/register/kontak", url.Values{"csrf_token": {csrf}, "action": {"next"}, captcha.FieldKind: {"image"},
		captcha.FieldID: {captchatest.ID(res.Body)}, captcha.FieldAnswer: {"XXXXX"},
		FieldEmail: {"siti@example.co.id"}, FieldPhone: {"0812-3456-7890"}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"), e.T("protection.captcha.answer_new"))
	if captchatest.Kind(res.Body) != captcha.Image {
		t.Fatalf("no new image after a wrong code:\n%s", res.Body)
	}
	if n := e.mailsTo("siti@example.co.id"); n != 0 {
		t.Fatalf("%d codes mailed", n)
	}

	// The same on the verifikasi page's resend form.
	wizWantRedirect(t, e.submitStep(c, StepContact, "next", wizValid()[StepContact]), "/register/verifikasi")
	res = e.post(c, "/register/verifikasi", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"image"}})
	wizWant(t, res, http.StatusOK, e.T("reg.code.sent_to", "siti@example.co.id"), e.T("protection.captcha.new_image"))
	if captchatest.Kind(res.Body) != captcha.Image || strings.Contains(res.Body, `id="code-error"`) {
		t.Fatalf("no image code on verifikasi, or a code error:\n%s", res.Body)
	}
	if n := e.mailsTo("siti@example.co.id"); n != 1 {
		t.Fatalf("%d codes mailed, want 1", n)
	}
}

// With SATUPINTU_CAPTCHA=off no check is asked before a code either.
func TestWizardCodeCaptchaOff(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.Captcha.Mode = captcha.Off
	c := e.client
	e.fillTo(c, StepContact, nil)
	page := e.get(c, "/register/kontak")
	if captchatest.Has(page.Body) {
		t.Fatal("CAPTCHA on kontak although off")
	}
	csrf := wizCSRFField.FindStringSubmatch(page.Body)[1]
	form := url.Values{"csrf_token": {csrf}, "action": {"next"}}
	for k, v := range wizValid()[StepContact] {
		form[k] = v
	}
	wizWantRedirect(t, e.post(c, "/register/kontak", form), "/register/verifikasi")
	page = e.get(c, "/register/verifikasi")
	if captchatest.Has(page.Body) {
		t.Fatal("CAPTCHA on verifikasi although off")
	}
	wizWant(t, e.post(c, "/register/verifikasi", url.Values{"csrf_token": {csrf}, "action": {"resend"}}), http.StatusOK, e.T("reg.code.sent"))
	if n := e.mailsTo("siti@example.co.id"); n != 2 {
		t.Fatalf("%d codes mailed, want 2", n)
	}
}
