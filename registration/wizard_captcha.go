package registration

import (
	"fmt"
	"net/http"

	"satupintu/captcha"
)

// The CAPTCHA of the confirmation page (package captcha): every submission
// answers one unless CAPTCHAs are switched off (ASVS 2.4.1, with the
// address's rate limit behind it). "New image" and "Text question" post
// the confirmation form back without an action and get the page again with
// a fresh challenge of that kind (postConfirm).

// confirmCaptcha returns a new challenge for the confirmation page, of the
// kind the request asks for, using up the one the form carried. alertKey
// is what the page says; after a wrong answer the field says so too.
func (h *Handler) confirmCaptcha(r *http.Request, alertKey string) (*captcha.Challenge, error) {
	if !h.Captcha.Required(true) {
		return nil, nil
	}
	if err := h.Captcha.DiscardForm(r); err != nil {
		h.Logger.WarnContext(r.Context(), "discard captcha", "error", err)
	}
	c, err := h.Captcha.New(r.Context(), captcha.Wanted(r))
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	if alertKey == "protection.captcha.wrong" {
		c.ErrorKey = "protection.captcha.answer_new"
	}
	return c, nil
}

// unsolvedCaptcha checks the challenge of a posted confirmation and returns
// the alert to show when it is not solved, "" when it is (or CAPTCHAs are
// off). The challenge is used up either way.
func (h *Handler) unsolvedCaptcha(r *http.Request) (string, error) {
	if !h.Captcha.Required(true) {
		return "", nil
	}
	if r.PostForm.Get(captcha.FieldID) == "" {
		return "protection.captcha.required", nil
	}
	ok, err := h.Captcha.VerifyForm(r)
	if err != nil {
		return "", fmt.Errorf("registration: %w", err)
	}
	if !ok {
		return "protection.captcha.wrong", nil
	}
	return "", nil
}
