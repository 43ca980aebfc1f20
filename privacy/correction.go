package privacy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"satupintu/storage"
	"satupintu/web"
)

// Correcting company data (UU 27/2022's right to correction, for the data
// that was verified at registration): the company's administrator asks,
// an officer compares it with the documents and applies it or says why
// not. The NIB and NPWP name the company and are not corrected here.

// Bounds of the corrected fields, as the registration wizard's.
const (
	maxOrgName    = 200
	maxStreet     = 200
	maxPlace      = 100
	postalCodeLen = 5
)

// correctionForm is what the administrator proposes.
type correctionForm struct {
	Name, Street, City, Province, PostalCode, Reason string
}

// correctionPage is the data of the "privacy_correction" page.
type correctionPage struct {
	OrgID, NIB string
	Current    storage.Organization
	Form       correctionForm
	Pending    *storage.CorrectionRequest
	NoticeKey  string
	ErrorKey   string
}

// adminOf returns organization orgID if u administers it (ErrNotFound
// otherwise, without saying whether it exists).
func (h *Handler) adminOf(r *http.Request, u storage.User, orgID string) (storage.Organization, error) {
	ctx := r.Context()
	m, err := h.Store.Membership(ctx, orgID, u.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && m.Role != storage.MemberAdmin) {
		return storage.Organization{}, &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: storage.ErrNotFound}
	}
	if err != nil {
		return storage.Organization{}, fmt.Errorf("privacy: membership: %w", err)
	}
	o, err := h.Store.OrganizationByID(ctx, orgID)
	if err != nil {
		return storage.Organization{}, fmt.Errorf("privacy: organization: %w", err)
	}
	return o, nil
}

func (h *Handler) renderCorrection(w http.ResponseWriter, r *http.Request, o storage.Organization, page correctionPage) error {
	page.OrgID, page.NIB, page.Current = o.ID, o.NIB, o
	if page.Form == (correctionForm{}) {
		page.Form = correctionForm{Name: o.Name, Street: o.Address.Street, City: o.Address.City,
			Province: o.Address.Province, PostalCode: o.Address.PostalCode}
	}
	c, err := h.Store.PendingCorrectionRequest(r.Context(), o.ID)
	switch {
	case err == nil:
		page.Pending = &c
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("privacy: pending correction: %w", err)
	}
	status := http.StatusOK
	if page.ErrorKey != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.render.Render(w, r, status, "privacy_correction", page)
}

// showCorrection answers GET /account/company-correction?org=ID.
func (h *Handler) showCorrection(w http.ResponseWriter, r *http.Request, u storage.User) error {
	o, err := h.adminOf(r, u, r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	page := correctionPage{}
	if r.URL.Query().Get("done") == "requested" {
		page.NoticeKey = "privacy.correction.requested"
	}
	return h.renderCorrection(w, r, o, page)
}

// field trims s and reports whether it is plain text of at most max runes
// (required fields must not be empty).
func field(s string, max int, required bool) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max || (required && s == "") {
		return "", false
	}
	for _, c := range s {
		if c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) {
			return "", false
		}
	}
	return s, true
}

// parseCorrection reads and checks the posted form.
func parseCorrection(r *http.Request) (correctionForm, bool) {
	f := correctionForm{Name: r.PostForm.Get("name"), Street: r.PostForm.Get("street"), City: r.PostForm.Get("city"),
		Province: r.PostForm.Get("province"), PostalCode: r.PostForm.Get("postal_code"), Reason: r.PostForm.Get("reason")}
	var ok [6]bool
	f.Name, ok[0] = field(f.Name, maxOrgName, true)
	f.Street, ok[1] = field(f.Street, maxStreet, true)
	f.City, ok[2] = field(f.City, maxPlace, true)
	f.Province, ok[3] = field(f.Province, maxPlace, false)
	f.PostalCode, ok[4] = field(f.PostalCode, postalCodeLen, false)
	f.Reason, ok[5] = cleanText(f.Reason)
	if f.PostalCode != "" && (len(f.PostalCode) != postalCodeLen || strings.Trim(f.PostalCode, "0123456789") != "") {
		ok[4] = false
	}
	return f, ok == [6]bool{true, true, true, true, true, true}
}

// requestCorrection answers POST /account/company-correction.
func (h *Handler) requestCorrection(w http.ResponseWriter, r *http.Request, u storage.User) (web.Done, error) {
	o, err := h.adminOf(r, u, r.PostForm.Get("org"))
	if err != nil {
		return web.Done{}, err
	}
	f, ok := parseCorrection(r)
	if !ok {
		return web.Done{}, h.renderCorrection(w, r, o, correctionPage{Form: f, ErrorKey: "privacy.correction.invalid"})
	}
	address := o.Address
	address.Street, address.City, address.Province, address.PostalCode = f.Street, f.City, f.Province, f.PostalCode
	if f.Name == o.Name && address == o.Address {
		return web.Done{}, h.renderCorrection(w, r, o, correctionPage{Form: f, ErrorKey: "privacy.correction.unchanged"})
	}
	c := storage.CorrectionRequest{ID: storage.NewID(), OrganizationID: o.ID, UserID: u.ID, Status: storage.RequestPending,
		Name: f.Name, Address: address, Reason: f.Reason, RequestedAt: h.Now()}
	ev := storage.AuditEvent{Action: "company.correction_request", ActorID: u.ID, Subject: o.ID, Detail: map[string]string{"request": c.ID}}
	err = h.Store.CreateCorrectionRequest(h.forms.Audited(r, ev), c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return web.Done{}, h.renderCorrection(w, r, o, correctionPage{}) // one is pending; the page shows it
	}
	if err != nil {
		return web.Done{}, fmt.Errorf("privacy: create correction request: %w", err)
	}
	return web.Redirect("/account/company-correction?org="+o.ID+"&done=requested", nil), nil
}

// correctionRow is one pending correction on the officer page: what the
// company has and what its administrator asks.
type correctionRow struct {
	ID, NIB, Requested, Reason, By string
	Current, Proposed              storage.Organization
}

type correctionsPage struct {
	Rows      []correctionRow
	NoticeKey string
	ErrorKey  string
}

// showCorrections answers GET /officer/corrections.
func (h *Handler) showCorrections(w http.ResponseWriter, r *http.Request, _ storage.User) error {
	return h.renderCorrections(w, r, correctionsPage{NoticeKey: doneNotice(r, "privacy.corrections.")})
}

func (h *Handler) renderCorrections(w http.ResponseWriter, r *http.Request, page correctionsPage) error {
	ctx := r.Context()
	cs, err := h.Store.ListCorrectionRequests(ctx, storage.RequestPending, queueSize)
	if err != nil {
		return fmt.Errorf("privacy: list corrections: %w", err)
	}
	for _, c := range cs {
		o, err := h.Store.OrganizationByID(ctx, c.OrganizationID)
		if err != nil {
			continue // deleted meanwhile: nothing to correct
		}
		row := correctionRow{ID: c.ID, NIB: o.NIB, Requested: c.RequestedAt.Format("2006-01-02 15:04"), Reason: c.Reason,
			Current: o, Proposed: o}
		row.Proposed.Name, row.Proposed.Address = c.Name, c.Address
		if by, err := h.Store.UserByID(ctx, c.UserID); err == nil {
			row.By = by.Name
		}
		page.Rows = append(page.Rows, row)
	}
	return h.render.Render(w, r, http.StatusOK, "privacy_corrections", page)
}

// decideCorrection answers POST /officer/corrections/{id}.
func (h *Handler) decideCorrection(w http.ResponseWriter, r *http.Request, officer storage.User) (web.Done, error) {
	note, ok := cleanText(r.PostForm.Get("note"))
	if !ok {
		return web.Done{}, h.renderCorrections(w, r, correctionsPage{ErrorKey: "privacy.officer.note_invalid"})
	}
	decision := r.PostForm.Get("decision")
	switch {
	case decision != "approve" && decision != "reject":
		return web.Done{}, &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: errors.New("privacy: unknown decision")}
	case decision == "reject" && note == "":
		return web.Done{}, h.renderCorrections(w, r, correctionsPage{ErrorKey: "privacy.officer.note_needed"})
	}
	done := "rejected"
	if decision == "approve" {
		done = "approved"
	}
	// Read first for the organization the event names (a request's never
	// changes); the decision below checks its status again.
	c, err := h.Store.CorrectionRequestByID(r.Context(), r.PathValue("id"))
	if err == nil {
		ev := storage.AuditEvent{Action: "company.correction_" + done, ActorID: officer.ID, Subject: c.OrganizationID,
			Detail: map[string]string{"request": c.ID}}
		c, err = h.Store.DecideCorrectionRequest(h.forms.Audited(r, ev), c.ID, decision == "approve", officer.ID, note, h.Now())
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		return web.Done{}, h.renderCorrections(w, r, correctionsPage{ErrorKey: "privacy.officer.already_decided"})
	}
	if err != nil {
		return web.Done{}, fmt.Errorf("privacy: decide correction: %w", err)
	}
	return web.Redirect("/officer/corrections?done="+done, nil), nil
}
