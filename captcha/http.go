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
	// FieldProof carries the proof-of-work solution; captcha.js fills it.
	FieldProof = "captcha_proof"
	// FieldID, FieldAnswer and FieldKind are the image code's.
	FieldID     = "captcha_id"
	FieldAnswer = "captcha_answer"
	FieldKind   = "captcha_kind"
	// FieldSwitch is the name of the buttons that ask for another
	// challenge: "image" (an image code instead of the proof of work) or
	// "new" (another image). They are submit buttons of the form they sit
	// in, so they work without JavaScript and keep what was typed in the
	// other fields.
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

// Wanted is the kind of challenge the request asks for: Image when the
// "image" switch was pressed, ?captcha=image was asked on a GET, or the
// form carried an image ("New image", or a wrong code: a browser without
// JavaScript keeps getting images); else Proof. Call it after the form is
// parsed.
func Wanted(r *http.Request) Kind {
	sw := r.PostForm.Get(FieldSwitch)
	if sw == "" {
		sw = r.URL.Query().Get(FieldSwitch)
	}
	if sw == string(Image) || Kind(r.PostForm.Get(FieldKind)) == Image {
		return Image
	}
	return Proof
}

// FormAnswer is the answer the posted form carries.
func FormAnswer(r *http.Request) Answer {
	return Answer{
		Proof: r.PostForm.Get(FieldProof),
		ID:    r.PostForm.Get(FieldID),
		Code:  r.PostForm.Get(FieldAnswer),
	}
}

// Answered reports whether the posted form carries an answer at all (one
// that may still be wrong). A form without one is told a check is needed,
// and nothing is counted against it.
func Answered(r *http.Request) bool { return !FormAnswer(r).Empty() }

// VerifyForm verifies the answer of the posted form for purpose.
func (s *Service) VerifyForm(r *http.Request, purpose Purpose) (bool, error) {
	return s.Verify(r.Context(), purpose, FormAnswer(r))
}

// DiscardForm uses up the image challenge of the posted form, if any, when
// it is replaced by a new one without being answered.
func (s *Service) DiscardForm(r *http.Request) error {
	return s.Discard(r.Context(), r.PostForm.Get(FieldID))
}
