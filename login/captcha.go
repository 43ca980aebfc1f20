package login

import (
	"fmt"
	"net/http"

	"satupintu/captcha"
	"satupintu/web"
)

// The security check on the sign-in form (package captcha; policy in
// throttle.go): shown when the mode is "always", or in "adaptive" mode
// once the login name or the address has failed a few times. It is the
// proof of work the browser does by itself; without JavaScript the person
// presses "Use an image code" (a submit button that comes back here,
// switchCaptcha) and types the code. Its challenges are bound to
// captchaPurpose, so registration's cannot be spent here.

// captchaPurpose is what the sign-in form's challenges are for.
const captchaPurpose = captcha.SignIn

// captchaNeeded reports whether a sign-in form for login (possibly empty)
// from r's address should carry a challenge.
func (h *Handler) captchaNeeded(r *http.Request, login string) (bool, error) {
	switch {
	case h.Captcha.Required(false):
		return true, nil // always
	case !h.Captcha.Required(true):
		return false, nil // off
	}
	return h.throttle.NeedsCaptcha(r.Context(), login, web.RemoteIP(r))
}

// verifyCaptcha checks the challenge answered in the posted sign-in form.
func (h *Handler) verifyCaptcha(r *http.Request) (bool, error) {
	return h.Captcha.VerifyForm(r, captchaPurpose)
}

// addCaptcha puts a new challenge of the kind r asks for on page, using
// up the image the form carried, if any.
func (h *Handler) addCaptcha(r *http.Request, page *loginPage, errorKey string) error {
	if err := h.Captcha.DiscardForm(r); err != nil {
		h.Logger.WarnContext(r.Context(), "discard captcha", "error", err)
	}
	c, err := h.Captcha.New(r.Context(), captchaPurpose, captcha.Wanted(r))
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.ErrorKey = errorKey
	page.Captcha = c
	return nil
}

// renderLogin renders the sign-in form with a challenge when one is
// needed.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, page loginPage) error {
	if page.Captcha == nil {
		need, err := h.captchaNeeded(r, page.Username)
		if err != nil {
			return err
		}
		if need {
			if err := h.addCaptcha(r, &page, ""); err != nil {
				return err
			}
		}
	}
	return h.render.Render(w, r, status, "login", page)
}

// switchCaptcha answers "Use an image code" and "New image": the form
// again with a fresh challenge of that kind, the login name kept, nothing
// checked and nothing counted.
func (h *Handler) switchCaptcha(w http.ResponseWriter, r *http.Request, page loginPage) error {
	if err := h.addCaptcha(r, &page, ""); err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "login", page)
}
