package captcha

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"satupintu/storage"
)

// Form fields of a challenge, as the "captcha" template writes them.
const (
	FieldID     = "captcha_id"
	FieldAnswer = "captcha_answer"
	FieldKind   = "captcha_kind"
	// FieldSwitch is the name of the buttons that ask for another
	// challenge: "new" (same kind), "text" or "image". They are submit
	// buttons of the form they sit in, so they work without JavaScript and
	// keep what was typed in the other fields.
	FieldSwitch = "captcha"
)

// Mount registers GET /captcha/{id}.png on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /captcha/{file}", s.serveImage)
}

// serveImage draws the image of a challenge, once: the code is taken from
// the store, so the same challenge cannot be fetched again and again to
// average its random distortions away. Never cached.
func (s *Service) serveImage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok || !validID(id) {
		http.NotFound(w, r)
		return
	}
	code, err := s.Store.TakeOnce(r.Context(), imageKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.logger().ErrorContext(r.Context(), "captcha image: take code", "error", err)
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	b, err := Render(string(code))
	if err != nil {
		s.logger().ErrorContext(r.Context(), "captcha image: render", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b) // the client went away; nothing else to do
}

// Switching reports whether the posted form is a request for another
// challenge (a FieldSwitch button) rather than a submission.
func Switching(r *http.Request) bool { return r.PostForm.Get(FieldSwitch) != "" }

// Wanted is the kind of challenge the request asks for: the switch button
// pressed, else the kind the form had, else ?captcha=text on a GET, else
// Image. Call it after the form is parsed.
func Wanted(r *http.Request) Kind {
	sw := r.PostForm.Get(FieldSwitch)
	if sw == "" {
		sw = r.URL.Query().Get(FieldSwitch)
	}
	switch sw {
	case string(Text):
		return Text
	case string(Image):
		return Image
	}
	if Kind(r.PostForm.Get(FieldKind)) == Text {
		return Text
	}
	return Image
}

// VerifyForm verifies the challenge answered in the posted form.
func (s *Service) VerifyForm(r *http.Request) (bool, error) {
	return s.Verify(r.Context(), r.PostForm.Get(FieldID), r.PostForm.Get(FieldAnswer))
}

// DiscardForm uses up the challenge of the posted form, if any, when it is
// replaced by a new one without being answered.
func (s *Service) DiscardForm(r *http.Request) error {
	return s.Discard(r.Context(), r.PostForm.Get(FieldID))
}
