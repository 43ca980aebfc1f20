package registration

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"satupintu/storage"
	"satupintu/web"
)

// Tracking by service number (the manual's "Track Registrasi") and the
// correct-and-resubmit form of a registration an officer sent back.
//
// POST /track proves that the browser knows both the service number and
// the registration's email, then hands it a short-lived signed cookie
// naming the registration (review_grant.go) and redirects to
// /track/status, so a refresh never re-posts and the revision pages can
// find the registration without asking again.

const (
	// revisionBodyLimit caps POST /track/revisi: the largest letter plus
	// room for the other fields and the multipart framing. cmd must allow
	// this path at least as much (a nested limit cannot raise the outer).
	revisionBodyLimit = MaxDocumentSize + 64<<10
)

// trackPage is the data of the "track" page.
type trackPage struct {
	ServiceNumber, Email string
	ErrorKey             string
	ServiceNumberError   *fieldMessage
	EmailError           *fieldMessage
}

// trackStatusPage is the data of the "track_status" page.
type trackStatusPage struct {
	ServiceNumber, OrgName string
	StatusKey              string
	Status                 storage.RegistrationStatus
	History                []historyLine
	Resubmitted            bool // just came back from a resubmission
}

// revisionPage is the data of the "track_revisi" page.
type revisionPage struct {
	ServiceNumber string
	Note          string // what the officer asked for
	ErrorKey      string
	Sections      []formSection
	DocumentError *fieldMessage
	MaxDocument   int
}

// requirePages panics at start if a page is missing, rather than showing
// the generic error page for it at run time.
func (h *Handler) requirePages(names ...string) {
	for _, name := range append(names, "error") {
		if !h.Pages.Has(name) {
			panic(fmt.Sprintf("registration: template %q missing", name))
		}
	}
}

// parseSmallForm parses a form without an upload, within the default body
// limit (web.ParseForm: 413 over it, 400 when broken).
func parseSmallForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, web.DefaultBodyLimit)
	return web.ParseForm(r)
}

func (h *Handler) showTrack(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "track", trackPage{})
}

// submitTrack answers POST /track. A malformed number is reported at the
// field without a lookup or a rate-limit hit (the check character makes
// typos cheap); a well-formed one costs one try of the IP's allowance.
func (h *Handler) submitTrack(w http.ResponseWriter, r *http.Request) error {
	if err := parseSmallForm(w, r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	page := trackPage{ServiceNumber: r.PostForm.Get(FieldServiceNumber), Email: r.PostForm.Get(FieldEmail)}
	number, nerr := NormalizeServiceNumber(page.ServiceNumber)
	email, eerr := Email(page.Email)
	if nerr != nil || eerr != nil {
		var fe *FieldError
		if errors.As(nerr, &fe) {
			page.ServiceNumberError = newFieldMessage(fe)
		}
		if errors.As(eerr, &fe) {
			page.EmailError = newFieldMessage(fe)
		}
		page.ErrorKey = "track.fix_fields"
		return h.render.Render(w, r, http.StatusOK, "track", page)
	}
	page.ServiceNumber = number

	// Per address, an IPv6 /64 counting as one (TrackLimit, limits.go).
	if err := h.take(w, r, h.TrackLimit, "track.rate_limited"); err != nil {
		return err
	}
	ip := web.RemoteIP(r)

	g, err := h.Registrations.RegistrationByServiceNumber(ctx, number)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("registration: track: %w", err)
	}
	// One answer for an unknown number and a wrong email, so a number
	// alone tells nothing about whether it exists (ASVS 6.3.8). The email
	// compare is constant-time; both were lower-cased by Email and the
	// store.
	if err != nil || subtle.ConstantTimeCompare([]byte(g.Email), []byte(email)) != 1 {
		h.Logger.InfoContext(ctx, "tracking lookup did not match", "ip", ip)
		page.ErrorKey = "track.not_found"
		return h.render.Render(w, r, http.StatusOK, "track", page)
	}
	if err := h.setTrackGrant(w, g.ID); err != nil {
		return fmt.Errorf("registration: encode tracking cookie: %w", err)
	}
	redirect(w, r, "/track/status")
	return nil
}

// grantedRegistration loads the registration r's tracking cookie names.
// ok is false when there is no usable grant (none, expired, forged, or
// the registration is gone).
func (h *Handler) grantedRegistration(r *http.Request) (g storage.Registration, ok bool, err error) {
	id, ok := h.trackGrantFrom(r)
	if !ok {
		return storage.Registration{}, false, nil
	}
	g, err = h.Registrations.RegistrationByID(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Registration{}, false, nil
	}
	if err != nil {
		return storage.Registration{}, false, fmt.Errorf("registration: load tracked registration: %w", err)
	}
	return g, true, nil
}

// showTrackStatus answers GET /track/status: the tracked registration's
// status and history.
func (h *Handler) showTrackStatus(w http.ResponseWriter, r *http.Request) error {
	g, ok, err := h.grantedRegistration(r)
	if err != nil {
		return err
	}
	if !ok {
		redirect(w, r, "/track")
		return nil
	}
	events, err := h.Registrations.RegistrationEvents(r.Context(), g.ID)
	if err != nil {
		return fmt.Errorf("registration: load history: %w", err)
	}
	return h.render.Render(w, r, http.StatusOK, "track_status", trackStatusPage{
		ServiceNumber: g.ServiceNumber,
		OrgName:       g.OrgName,
		StatusKey:     statusKey(g.Status),
		Status:        g.Status,
		History:       registrantHistory(events),
		Resubmitted:   r.URL.Query().Get("done") == "resubmitted",
	})
}

// showRevision answers GET /track/revisi: every field prefilled, plus an
// optional new letter.
func (h *Handler) showRevision(w http.ResponseWriter, r *http.Request) error {
	g, ok, err := h.grantedRegistration(r)
	if err != nil {
		return err
	}
	if !ok {
		redirect(w, r, "/track")
		return nil
	}
	if !g.Status.CanBecome(storage.StatusResubmitted) {
		redirect(w, r, "/track/status")
		return nil
	}
	page, err := h.newRevisionPage(r, g, revisionFormOf(g), nil)
	if err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "track_revisi", page)
}

func (h *Handler) newRevisionPage(r *http.Request, g storage.Registration, f revisionForm, errs map[string]*FieldError) (revisionPage, error) {
	events, err := h.Registrations.RegistrationEvents(r.Context(), g.ID)
	if err != nil {
		return revisionPage{}, fmt.Errorf("registration: load history: %w", err)
	}
	page := revisionPage{
		ServiceNumber: g.ServiceNumber,
		Note:          latestNote(events, storage.StatusRevisionRequested),
		Sections:      f.sections(errs),
		DocumentError: newFieldMessage(errs[FieldDocument]),
		MaxDocument:   MaxDocumentSize,
	}
	if len(errs) > 0 {
		page.ErrorKey = "track.fix_fields"
	}
	return page, nil
}

// errRevisionClosed is the answer when the registration no longer awaits
// corrections: an officer decided meanwhile, or this is a second submit.
func errRevisionClosed(err error) error {
	return &web.Error{Status: http.StatusConflict, MessageKey: "track.revisi_not_open", Err: err}
}

// submitRevision answers POST /track/revisi: validate every field and the
// optional new letter, then store them with the status resubmitted in one
// transaction that only succeeds from revision_requested.
func (h *Handler) submitRevision(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, revisionBodyLimit)
	// Everything in memory: the body is already capped at a little over
	// 1 MiB, and nothing is written to temporary files.
	if err := r.ParseMultipartForm(revisionBodyLimit); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err // 413 page
		}
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
	}
	defer r.MultipartForm.RemoveAll()
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	g, ok, err := h.grantedRegistration(r)
	if err != nil {
		return err
	}
	if !ok {
		return &web.Error{Status: http.StatusForbidden, MessageKey: "track.expired", Err: errors.New("registration: no tracking grant")}
	}
	if !g.Status.CanBecome(storage.StatusResubmitted) {
		return errRevisionClosed(fmt.Errorf("registration %s is %s", g.ID, g.Status))
	}
	// Every post costs: it parses and checks a letter of up to 1 MiB.
	if err := h.takeRevision(w, r, g.ID); err != nil {
		return err
	}

	form := parseRevisionForm(r.PostForm)
	next := g
	errs := form.validate(&next)
	doc, err := revisionDocument(r)
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return err
		}
		errs[FieldDocument] = fe
	}
	if len(errs) > 0 {
		page, err := h.newRevisionPage(r, g, form, errs)
		if err != nil {
			return err
		}
		return h.render.Render(w, r, http.StatusOK, "track_revisi", page)
	}

	taken, err := h.revisionEmailTaken(ctx, g.ID, next.Email)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	var stored *storage.Document
	if doc != nil {
		stored = &storage.Document{
			ID: storage.NewID(), RegistrationID: g.ID, FileName: doc.FileName,
			ContentType: doc.ContentType, SHA256: doc.SHA256, Data: doc.Data, CreatedAt: now,
		}
	}
	detail := map[string]string{"service_number": g.ServiceNumber, "document_replaced": fmt.Sprint(stored != nil)}
	if stored != nil {
		detail["document_id"] = stored.ID
	}
	if taken != "" {
		detail["email_taken"] = taken
	}
	ev := storage.AuditEvent{Action: "registration.resubmit", Subject: g.ID, Detail: detail}
	err = h.Registrations.UpdateRegistration(h.audited(r, ev), g.ID, func(cur *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		// Checked again under the row lock: an officer may have acted
		// since the page was loaded.
		if !cur.Status.CanBecome(storage.StatusResubmitted) {
			return storage.RegistrationEvent{}, nil, fmt.Errorf("registration is %s: %w", cur.Status, storage.ErrConflict)
		}
		applyRegistrantFields(cur, next)
		cur.Status, cur.UpdatedAt = storage.StatusResubmitted, now
		return storage.RegistrationEvent{Status: storage.StatusResubmitted, Time: now}, stored, nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return errRevisionClosed(err)
	}
	if err != nil {
		return fmt.Errorf("registration: resubmit %s: %w", g.ID, err)
	}
	if taken != "" {
		if err := h.sendRevisionTakenMail(ctx, taken, next); err != nil {
			h.Logger.ErrorContext(ctx, "send revision email-taken mail", "error", err)
		}
	}
	h.Logger.InfoContext(ctx, "registration resubmitted", "registration_id", g.ID, "email_taken", taken)
	redirect(w, r, "/track/status?done=resubmitted")
	return nil
}

// revisionDocument reads the optional new letter: nil when none was
// chosen (browsers send an empty part with an empty file name), a
// *FieldError when it fails the upload checks.
func revisionDocument(r *http.Request) (*Document, error) {
	file, header, err := r.FormFile(FieldDocument)
	if errors.Is(err, http.ErrMissingFile) {
		return nil, nil
	}
	if err != nil {
		return nil, &FieldError{Field: FieldDocument, Key: KeyFileRead, Err: err}
	}
	defer file.Close()
	if header.Filename == "" && header.Size == 0 {
		return nil, nil
	}
	doc, err := ReadDocument(file, header.Filename)
	if err != nil {
		return nil, err
	}
	return &doc, nil
}

// revisionEmailTaken reports whether a correction's email already has an
// account ("user_exists") or another registration in progress
// ("open_registration"). The page never says so (ASVS 6.3.8): with a
// tracking grant it would answer, for any email typed, whether it is
// known. As on submission (wizard_submit.go), the correction is received
// like any other and the address learns it by mail; the officer's approval
// refuses a taken email (review_approve.go) and can ask for another
// correction.
func (h *Handler) revisionEmailTaken(ctx context.Context, id, email string) (string, error) {
	// The newest open registration may be this one and hide an older
	// other; approval's uniqueness checks are the backstop.
	other, err := h.Registrations.OpenRegistrationFor(ctx, "", email)
	switch {
	case err == nil && other.ID != id:
		return "open_registration", nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("registration: check open registrations: %w", err)
	}
	if _, err := h.Users.UserByLogin(ctx, email); err == nil {
		return "user_exists", nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("registration: check email: %w", err)
	}
	return "", nil
}
