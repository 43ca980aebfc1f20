package registration

import (
	"fmt"
	"net/http"

	"satupintu/captcha"
)

// The security check of the wizard (package captcha), asked before every
// write an anonymous script would repeat: each verification code mailed
// (Next on kontak, which sends the first, and "Send a new code" on
// verifikasi) and the submission on konfirmasi. Unless the check is switched off, each of
// them spends one solved challenge (ASVS 2.4.1, with the address's rate
// limits behind it), so a script pays for every mail and every
// submission, and the letter upload, behind the code, is paid for too.
//
// It is the proof of work the browser does by itself; without JavaScript,
// "Use an image code" and "New image" post the form back without an action
// and get the page again with an image code (postStep, postVerify,
// postConfirm). Challenges are bound to captchaPurpose, so the sign-in
// form's cannot be spent here.

// captchaPurpose is what the wizard's challenges are for.
const captchaPurpose = captcha.Registration

// stepCaptcha returns a new challenge for a wizard form, of the kind the
// request asks for, using up the image the form carried. alertKey is what
// the page says; after a wrong image code the field says so too. It is nil
// when the check is off.
func (h *Handler) stepCaptcha(r *http.Request, alertKey string) (*captcha.Challenge, error) {
	if !h.Captcha.Required(true) {
		return nil, nil
	}
	if err := h.Captcha.DiscardForm(r); err != nil {
		h.Logger.WarnContext(r.Context(), "discard captcha", "error", err)
	}
	c, err := h.Captcha.New(r.Context(), captchaPurpose, captcha.Wanted(r))
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	if alertKey == "protection.captcha.wrong" && c.IsImage() {
		c.ErrorKey = "protection.captcha.answer_new"
	}
	return c, nil
}

// unsolvedCaptcha checks the challenge of a posted wizard form and returns
// the alert to show when it is not solved, "" when it is (or the check is
// off). A solution is used up when accepted, an image code either way, so
// every write it guards needs a fresh one.
func (h *Handler) unsolvedCaptcha(r *http.Request) (string, error) {
	if !h.Captcha.Required(true) {
		return "", nil
	}
	if !captcha.Answered(r) {
		return "protection.captcha.required", nil
	}
	ok, err := h.Captcha.VerifyForm(r, captchaPurpose)
	if err != nil {
		return "", fmt.Errorf("registration: %w", err)
	}
	if !ok {
		return "protection.captcha.wrong", nil
	}
	return "", nil
}
