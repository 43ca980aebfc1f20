package registration

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"satupintu/web"
)

// MaxUploadBody is the request body limit of the two upload forms, POST
// /register/dokumen and POST /track/revisi: the letter plus room for the
// multipart framing and the few small fields (CSRF token, button). Every
// other request keeps web.DefaultBodyLimit, so cmd/satupintu must raise the
// limit for exactly these paths (web.LimitBodyWith): an outer
// http.MaxBytesReader cannot be widened by an inner one. The handlers wrap
// their own MaxBytesReader with this limit as well.
const MaxUploadBody = MaxDocumentSize + 64<<10

// Bounds on the non-file parts of an upload form: a handful of short
// fields. Anything beyond is not a form our page sent.
const (
	maxUploadParts = 16
	maxUploadField = 4 << 10
)

// upload is the file part of an upload form.
type upload struct {
	chosen bool        // the registrant picked a file
	doc    Document    // the accepted file, when err is nil
	err    *FieldError // why the chosen file is refused (type, content, empty)
}

// errBrokenForm is a multipart body our page could not have sent.
var errBrokenForm = errors.New("registration: malformed upload form")

// readUploadForm streams a multipart form: small fields into values, the
// document part through ReadDocument, which reads at most MaxDocumentSize+1
// bytes of it, so nothing larger is ever buffered and no temporary file is
// written (ASVS 5.2.1), unlike ParseMultipartForm. An error means the body
// itself is unusable: not multipart, broken off, over the limit, or shaped
// unlike our form; a refused file is not an error but upload.err, so Back
// still works with a bad file chosen.
func readUploadForm(r *http.Request) (url.Values, upload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, upload{}, err
	}
	values := url.Values{}
	var (
		up       upload
		seenFile bool
	)
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		// Only a bare io.EOF is the closing boundary: NextPart wraps the
		// io.EOF of a body that ends without one, which is a broken form.
		if err == io.EOF {
			return values, up, nil
		}
		if err != nil {
			return nil, upload{}, err
		}
		if n >= maxUploadParts {
			return nil, upload{}, fmt.Errorf("%w: more than %d parts", errBrokenForm, maxUploadParts)
		}
		if p.FormName() == FieldDocument {
			if seenFile {
				return nil, upload{}, fmt.Errorf("%w: two document parts", errBrokenForm)
			}
			seenFile = true
			if up, err = readUploadedFile(p); err != nil {
				return nil, upload{}, err
			}
			continue
		}
		if p.FileName() != "" {
			return nil, upload{}, fmt.Errorf("%w: a file in field %q", errBrokenForm, p.FormName())
		}
		b, err := io.ReadAll(io.LimitReader(p, maxUploadField+1))
		if err != nil {
			return nil, upload{}, err
		}
		if len(b) > maxUploadField {
			return nil, upload{}, fmt.Errorf("%w: field %q too long", errBrokenForm, p.FormName())
		}
		values.Add(p.FormName(), string(b))
	}
}

// readUploadedFile reads the document part. A file over the limit or a
// body that broke off mid-file ends the whole form (the rest is not read);
// a file refused for what it is does not.
func readUploadedFile(p *multipart.Part) (upload, error) {
	doc, err := ReadDocument(p, p.FileName())
	var fe *FieldError
	switch {
	case err == nil:
		return upload{chosen: true, doc: doc}, nil
	case !errors.As(err, &fe):
		return upload{}, err
	case fe.Key == KeyFileEmpty && p.FileName() == "":
		return upload{}, nil // the file input was left empty
	case fe.Key == KeyFileRead, fe.Key == KeyFileTooLarge:
		return upload{}, err
	}
	return upload{chosen: true, err: fe}, nil
}

// uploadError is what the registrant is told about an unusable upload
// body. A body over the request limit is "file too large" too: that is
// what made it large.
func uploadError(err error) (*FieldError, int) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &FieldError{Field: FieldDocument, Key: KeyFileTooLarge, Err: err}, http.StatusRequestEntityTooLarge
	}
	var fe *FieldError
	if errors.As(err, &fe) && fe.Key == KeyFileTooLarge {
		return fe, http.StatusRequestEntityTooLarge
	}
	if errors.As(err, &fe) {
		return fe, http.StatusBadRequest
	}
	return &FieldError{Field: FieldDocument, Key: KeyFileRead, Err: err}, http.StatusBadRequest
}

// postDocument answers POST /register/dokumen (multipart): store an
// accepted letter, keep the stored one, or show why the chosen one is
// refused. Nothing is stored unless the whole form was read, the CSRF
// token matched and the file passed every check.
func (h *Handler) postDocument(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBody)
	ctx := r.Context()
	i := stepIndex(StepDocument)
	// The draft and the step gate come first: a request that may not be
	// here is turned away before its body is read.
	id, d, err := h.loadDraft(ctx, r)
	if errors.Is(err, errDraftExpired) {
		return h.showExpired(w, r)
	}
	if err != nil {
		return err
	}
	if d == nil {
		redirect(w, r, stepURL(steps[0].slug))
		return nil
	}
	if first := firstIncomplete(d); i > first {
		redirect(w, r, stepURL(steps[first].slug))
		return nil
	}

	form, up, err := readUploadForm(r)
	if err != nil {
		fe, status := uploadError(err)
		h.Logger.InfoContext(ctx, "registration upload refused", "reason", fe.Key, "error", err)
		return h.renderStep(w, r, status, i, d, []*FieldError{fe})
	}
	if err := singleValuedForm(form); err != nil {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
	}
	// The form was read by hand, so hand it to CSRF.Verify as ParseForm
	// would have.
	r.PostForm, r.Form = form, form
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}

	if form.Get("action") == "back" {
		// Back keeps an acceptable file and quietly drops a refused one.
		if up.chosen && up.err == nil {
			if err := h.keepDocument(w, r, id, d, up.doc); err != nil {
				return err
			}
		}
		if _, err := h.saveDraft(w, r, id, d); err != nil {
			return err
		}
		redirect(w, r, backURL(i))
		return nil
	}
	switch {
	case up.err != nil:
		h.Logger.InfoContext(ctx, "registration document refused", "reason", up.err.Key)
		return h.renderStep(w, r, http.StatusOK, i, d, []*FieldError{up.err})
	case up.chosen:
		if err := h.keepDocument(w, r, id, d, up.doc); err != nil {
			return err
		}
	case d.Document == nil:
		return h.renderStep(w, r, http.StatusOK, i, d, []*FieldError{fieldErr(FieldDocument, KeyRequired)})
	}
	if _, err := h.saveDraft(w, r, id, d); err != nil {
		return err
	}
	redirect(w, r, stepURL(steps[i+1].slug))
	return nil
}

// keepDocument stores doc as draft id's letter and records it in d (which
// the caller saves). Each stored letter takes a unit of UploadLimit: the
// writes one address can make to the database are bounded, besides the
// one-letter-per-draft and PendingLetters bounds of the store.
func (h *Handler) keepDocument(w http.ResponseWriter, r *http.Request, id string, d *draft, doc Document) error {
	if err := h.take(w, r, h.UploadLimit, "reg.busy"); err != nil {
		return err
	}
	meta, err := h.saveDocument(r.Context(), id, d, doc)
	if err != nil {
		return err
	}
	d.Document, d.DocumentLost = meta, false
	h.Logger.InfoContext(r.Context(), "registration document uploaded", "content_type", doc.ContentType, "size", len(doc.Data))
	return nil
}
