package main

import (
	"strconv"

	"satupintu/captcha/captchatest"
)

// solveCaptcha answers the page's CAPTCHA as a person using a screen
// reader would: "Text question", then the sum, typed in digits.
func (b *browserSession) solveCaptcha() {
	b.t.Helper()
	if b.count(`input[name="captcha_kind"][value="text"]`) == 0 {
		if b.count(`button[name="captcha"][value="text"]`) == 0 {
			b.fatalf("the page has no CAPTCHA to answer")
		}
		b.clickAndLoad(`button[name="captcha"][value="text"]`, "")
	}
	q := b.text(`label[for="captcha_answer"]`)
	n, err := captchatest.SolveQuestion(q)
	if err != nil {
		b.fatalf("CAPTCHA question: %v", err)
	}
	b.fill("#captcha_answer", strconv.Itoa(n))
}
