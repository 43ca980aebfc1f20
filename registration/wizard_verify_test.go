package registration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/quota"
)

// The verifikasi step (wizard_verify.go).

func TestWizardCodeIsMailedAfterContactAndVerifies(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepVerify, nil)
	page := e.get(c, "/register/verifikasi")
	wizWant(t, page, http.StatusOK, e.T("reg.code.sent_to", "siti@example.co.id"), `autocomplete="one-time-code"`,
		`value="resend"`, e.T("reg.intro.verifikasi"))
	if strings.Contains(page.Body, e.T("reg.code.none")) {
		t.Error("the page says no code was sent")
	}
	m, _ := e.lastMail("siti@example.co.id", "reg.code.mail.subject")
	code := e.code("siti@example.co.id")
	if want := e.pages.T("en", "reg.code.mail.body", code, 15); !strings.Contains(m.Body, want) {
		t.Errorf("the code mail lacks %q:\n%s", want, m.Body)
	}
	// Nothing to guess from: only the code's hash is in the draft.
	if d := e.storedDraft(c); d.Code == nil || strings.Contains(d.Code.Hash, code) || d.EmailVerified != "" {
		t.Errorf("stored code %+v", d.Code)
	}
	// The upload is closed until the code is entered.
	wizWantRedirect(t, e.get(c, "/register/dokumen"), "/register/verifikasi")

	for _, tt := range []struct{ input, key string }{
		{"12345", keyCodeFormat},
		{"abcdef", keyCodeFormat},
		{wrongCode(code), keyCodeWrong},
	} {
		res := e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {tt.input}})
		wizWant(t, res, http.StatusOK, `<p class="field-error" id="code-error">`+e.T(tt.key)+`</p>`, `aria-invalid="true"`)
	}
	// Spaces are forgiven (a code copied as "123 456").
	res := e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {" " + code[:3] + " " + code[3:] + " "}})
	wizWantRedirect(t, res, "/register/dokumen")
	if d := e.storedDraft(c); d.EmailVerified != "siti@example.co.id" || d.Code != nil {
		t.Errorf("after the code: verified %q, code %+v", d.EmailVerified, d.Code)
	}
	wizWant(t, e.get(c, "/register/dokumen"), http.StatusOK, `name="document"`)

	// Changing the email undoes the proof and sends a code to the new one.
	res = e.submitStep(c, StepContact, "next", url.Values{FieldEmail: {"baru@example.co.id"}, FieldPhone: {"081234567890"}})
	wizWantRedirect(t, res, "/register/verifikasi")
	wizWantRedirect(t, e.get(c, "/register/dokumen"), "/register/verifikasi")
	// The old address's code is no good for the new one.
	res = e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {code}})
	if e.code("baru@example.co.id") != code {
		wizWant(t, res, http.StatusOK, e.T(keyCodeWrong))
	}
	wizWantRedirect(t, e.verify(c, "baru@example.co.id"), "/register/dokumen")
}

// wrongCode is a six-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestWizardCodeExpiresAndAllowsFiveGuesses(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepVerify, nil)
	code := e.code("siti@example.co.id")

	// Five wrong guesses, then even the right code is refused: a new one
	// is needed.
	for range maxCodeAttempts {
		wizWant(t, e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {wrongCode(code)}}), http.StatusOK, e.T(keyCodeWrong))
	}
	wizWant(t, e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {code}}), http.StatusOK, e.T(keyCodeTooMany))
	wizWant(t, e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {code}}), http.StatusOK, e.T(keyCodeExpired))

	// A new code has its own guesses; it expires after 15 minutes.
	wizWant(t, e.submitStep(c, StepVerify, "resend", nil), http.StatusOK, e.T("reg.code.sent"))
	code = e.code("siti@example.co.id")
	e.clock.Advance(codeTTL)
	wizWant(t, e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {code}}), http.StatusOK, e.T(keyCodeExpired))
	wizWant(t, e.get(c, "/register/verifikasi"), http.StatusOK, e.T("reg.code.none"))
	wizWant(t, e.submitStep(c, StepVerify, "resend", nil), http.StatusOK, e.T("reg.code.sent"))
	e.clock.Advance(codeTTL - time.Second)
	wizWantRedirect(t, e.verify(c, "siti@example.co.id"), "/register/dokumen")
}

// A code is bound to its draft: one read from the mailbox of another
// draft with the same address does not verify this one.
func TestWizardCodeBelongsToItsDraft(t *testing.T) {
	e := newWizEnv(t, false)
	a, b := e.newClient(), e.newClient()
	e.fillTo(a, StepVerify, nil)
	codeA := e.code("siti@example.co.id")
	e.fillTo(b, StepVerify, nil)
	codeB := e.code("siti@example.co.id")
	if codeA == codeB {
		t.Skip("the two random codes happen to be equal")
	}
	wizWant(t, e.submitStep(b, StepVerify, "next", url.Values{fieldCode: {codeA}}), http.StatusOK, e.T(keyCodeWrong))
	wizWantRedirect(t, e.submitStep(b, StepVerify, "next", url.Values{fieldCode: {codeB}}), "/register/dokumen")
}

// Codes sent are bounded per draft, per recipient and per address, so the
// wizard cannot flood a mailbox; the page says so with a 429 and the code
// already sent still works.
func TestWizardCodeSendsAreBounded(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepVerify, nil) // code 1 of the draft
	for i := 2; i <= maxCodeSends; i++ {
		wizWant(t, e.submitStep(c, StepVerify, "resend", nil), http.StatusOK, e.T("reg.code.sent"))
		// Each code delivered before the next is asked: the outbox's
		// workers may deliver mails queued together in any order, and the
		// newest code is the one that counts.
		e.mails()
	}
	sent := len(e.mails())
	res := e.submitStep(c, StepVerify, "resend", nil)
	wizWant(t, res, http.StatusTooManyRequests, e.T("reg.code.limited"))
	if n := len(e.mails()); n != sent {
		t.Errorf("%d mails sent over the bound", n-sent)
	}
	wizWantRedirect(t, e.verify(c, "siti@example.co.id"), "/register/dokumen")

	// Per recipient: other drafts cannot send more to the same mailbox
	// within the hour.
	other := e.newClient()
	e.fillTo(other, StepVerify, nil)
	wizWant(t, e.get(other, "/register/verifikasi"), http.StatusOK, e.T("reg.code.none"))
	wizWant(t, e.submitStep(other, StepVerify, "resend", nil), http.StatusTooManyRequests, e.T("reg.code.limited"))

	// Per address, an IPv6 /64 counting as one.
	e.h.CodeLimit = quota.Limit{Name: "reg-code-test", PerAddress: 2, Window: time.Hour}
	for i := range 2 {
		c := e.clientFrom(fmt.Sprintf("2001:db8:7:7::%x", i+1))
		data := wizValid()
		data[StepContact][FieldEmail] = []string{fmt.Sprintf("v6-%d@example.co.id", i)}
		e.fillTo(c, StepDocument, data)
	}
	c3 := e.clientFrom("2001:db8:7:7:abcd::3")
	data := wizValid()
	data[StepContact][FieldEmail] = []string{"v6-3@example.co.id"}
	e.fillTo(c3, StepVerify, data)
	if _, ok := e.lastMail("v6-3@example.co.id", "reg.code.mail.subject"); ok {
		t.Error("a third address of the /64 was sent a code")
	}
	wizWant(t, e.submitStep(c3, StepVerify, "resend", nil), http.StatusTooManyRequests, e.T("reg.code.limited"))
}

// The letter is only accepted from a draft whose email was verified: a
// POST to the upload step before that stores nothing.
func TestWizardUploadNeedsAVerifiedEmail(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepVerify, nil)
	csrf := e.csrf(c, "/register/verifikasi")
	ct, body := multipartBody(t, csrf, "next", "a.pdf", wizPDF)
	wizWantRedirect(t, e.postRaw(c, "/register/dokumen", ct, body), "/register/verifikasi")
	if e.storedDocument(c) || e.storedDraft(c).Document != nil {
		t.Error("an unverified draft stored a letter")
	}
}
