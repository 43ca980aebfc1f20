package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// ParseForm parses the form a browser posted and turns what can go wrong
// into what the user should see, so no handler has to: a body over its limit
// is a 413 (the *Error wraps the *http.MaxBytesError), and a body that is no
// form (another content type, none, a malformed one) or whose encoding is
// broken (%zz) is a 400, never a 500. A multipart body must have been
// parsed by the handler first (the uploads read theirs by hand, with their
// own limits); its r.PostForm is then taken as it is. Calling it again is
// cheap: net/http parses once.
//
// CSRF.Verify calls it, so every state-changing form goes through it.
func ParseForm(r *http.Request) error {
	if err := checkFormType(r); err != nil {
		return &Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
	}
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, MessageKey: "error.too_large", Err: err}
	}
	return &Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
}

// checkFormType refuses a body that no form of this service sends: only
// URL-encoded forms, and multipart ones already parsed by their handler.
func checkFormType(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil // the form is the query string
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return fmt.Errorf("web: form content type %q: %w", ct, err)
	case mt == "application/x-www-form-urlencoded":
		return nil
	case mt == "multipart/form-data" && r.PostForm != nil:
		return nil
	}
	return fmt.Errorf("web: content type %q is not a form", mt)
}
