package registration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
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

func TestWizardSubmitNeedsTheCaptcha(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)

	// The confirmation carries the proof of work, done by the page's
	// script; the way to an image code without JavaScript comes after the
	// form's own buttons.
	confirm := e.get(c, "/register/konfirmasi")
	wizWant(t, confirm, http.StatusOK, e.T("protection.captcha.legend"), `<script src="/static/captcha.js?v=`,
		`name="captcha" value="image"`, `value="cancel" class="secondary" formnovalidate`)
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
