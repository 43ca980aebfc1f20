package registration

import (
	"fmt"
	"net/http"

	"satupintu/captcha"
)

// The security check of the confirmation page (package captcha): every
// submission passes one unless the check is switched off (ASVS 2.4.1, with
// the address's rate limit behind it). It is the proof of work the browser
// does by itself; without JavaScript, "Use an image code" and "New image"
// post the confirmation form back without an action and get the page again
// with an image code (postConfirm). Challenges are bound to
// captchaPurpose, so the sign-in form's cannot be spent here.

// captchaPurpose is what the confirmation page's challenges are for.
const captchaPurpose = captcha.Registration

// confirmCaptcha returns a new challenge for the confirmation page, of the
// kind the request asks for, using up the image the form carried. alertKey
// is what the page says; after a wrong image code the field says so too.
func (h *Handler) confirmCaptcha(r *http.Request, alertKey string) (*captcha.Challenge, error) {
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

// unsolvedCaptcha checks the challenge of a posted confirmation and returns
// the alert to show when it is not solved, "" when it is (or the check is
// off). A solution is used up when accepted, an image code either way.
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
