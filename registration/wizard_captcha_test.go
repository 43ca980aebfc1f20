package registration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
	"satupintu/web/webtest"
)

// confirmForm loads the confirmation page with its text question, as a
// registrant who cannot see the image would, and returns the form that
// answers it (add the action).
func (e *wizEnv) confirmForm(c *http.Client) url.Values {
	e.t.Helper()
	page := e.get(c, "/register/konfirmasi?captcha=text")
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

	// The confirmation shows an image by default, with the way to the
	// text question after the form's own buttons.
	confirm := e.get(c, "/register/konfirmasi")
	wizWant(t, confirm, http.StatusOK, e.T("protection.captcha.legend"), `<img class="captcha-image" src="/captcha/`,
		`name="captcha" value="text"`, `value="cancel" class="secondary" formnovalidate`)
	if strings.Index(confirm.Body, `value="submit"`) > strings.Index(confirm.Body, `name="captcha" value="new"`) {
		t.Error("a CAPTCHA button comes before Yes, submit")
	}

	post := func(form url.Values) webtest.Response {
		form.Set("action", "submit")
		return e.post(c, "/register/konfirmasi", form)
	}
	form := e.confirmForm(c)
	csrf := form.Get("csrf_token")

	// No answer, a wrong one: refused before anything is counted or
	// looked up, with a new challenge.
	res := post(url.Values{"csrf_token": {csrf}})
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.required"))
	wrong := url.Values{"csrf_token": {csrf}, captcha.FieldID: form[captcha.FieldID], captcha.FieldKind: {"text"}, captcha.FieldAnswer: {"0"}}
	res = post(wrong)
	wizWant(t, res, http.StatusOK, e.T("protection.captcha.wrong"), e.T("protection.captcha.answer_new"))
	if captchatest.Kind(res.Body) != captcha.Text || captchatest.ID(res.Body) == form.Get(captcha.FieldID) {
		t.Fatalf("no new text question after a wrong answer:\n%s", res.Body)
	}
	// The wrong answer used the challenge up: the right one is too late.
	res = post(form)
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

func TestWizardCaptchaSwitch(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	page := e.get(c, "/register/konfirmasi")
	first := captchatest.ID(page.Body)
	csrf := wizCSRFField.FindStringSubmatch(page.Body)[1]
	res := e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"text"}, captcha.FieldID: {first}})
	wizWant(t, res, http.StatusOK, "PT Maju Bersama", e.T("protection.captcha.new_question"))
	if captchatest.Kind(res.Body) != captcha.Text {
		t.Fatalf("no text question:\n%s", res.Body)
	}
	if ok, _ := e.h.Captcha.Verify(t.Context(), first, "x"); ok {
		t.Error("the replaced image is still answerable")
	}
	res = e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, captcha.FieldSwitch: {"image"}})
	if captchatest.Kind(res.Body) != captcha.Image {
		t.Fatalf("no image:\n%s", res.Body)
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
