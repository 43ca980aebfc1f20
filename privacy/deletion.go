package privacy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"satupintu/storage"
	"satupintu/web"
)

const (
	// maxReason bounds the person's reason and the officer's note.
	maxReason = 500
	// queueSize is how many pending requests the officer page lists.
	queueSize = 200
)

// dataPage is the data of the "privacy_data" page.
type dataPage struct {
	Pending     *storage.DeletionRequest
	PendingDate string
	NoticeKey   string
	ErrorKey    string
	Reason      string
}

// showData answers GET /account/data: the download and the deletion
// request, or the pending request's state.
func (h *Handler) showData(w http.ResponseWriter, r *http.Request, u storage.User) error {
	page := dataPage{}
	if r.URL.Query().Get("done") == "requested" {
		page.NoticeKey = "privacy.delete.requested"
	}
	return h.renderData(w, r, u, page)
}

func (h *Handler) renderData(w http.ResponseWriter, r *http.Request, u storage.User, page dataPage) error {
	d, err := h.Store.PendingDeletionRequest(r.Context(), u.ID)
	switch {
	case err == nil:
		page.Pending, page.PendingDate = &d, d.RequestedAt.Format(time.DateOnly)
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("privacy: pending deletion request: %w", err)
	}
	return h.render.Render(w, r, http.StatusOK, "privacy_data", page)
}

// cleanText trims s and refuses it when too long or not plain text.
func cleanText(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxReason {
		return "", false
	}
	for _, c := range s {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return "", false
		}
	}
	return s, true
}

// requestDeletion answers POST /account/data/delete: with the password
// (a left-open browser must not erase its owner), a request goes to the
// officers. The account works as before until one approves it.
func (h *Handler) requestDeletion(w http.ResponseWriter, r *http.Request, u storage.User) (web.Done, error) {
	ctx := r.Context()
	reason, ok := cleanText(r.PostForm.Get("reason"))
	if !ok {
		return web.Done{}, h.renderData(w, r, u, dataPage{ErrorKey: "privacy.delete.reason_invalid"})
	}
	pw, err := h.CheckPassword(ctx, u, r.PostForm.Get("password"))
	if err != nil {
		return web.Done{}, err
	}
	if !pw {
		h.audit(r, storage.AuditEvent{Action: "privacy.deletion_request.failure", ActorID: u.ID, Subject: u.ID,
			Detail: map[string]string{"reason": "password_wrong"}})
		return web.Done{}, h.renderData(w, r, u, dataPage{ErrorKey: "privacy.delete.password_wrong", Reason: reason})
	}
	d := storage.DeletionRequest{ID: storage.NewID(), UserID: u.ID, Status: storage.RequestPending, Reason: reason, RequestedAt: h.Now()}
	ev := storage.AuditEvent{Action: "privacy.deletion_request", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"request": d.ID}}
	err = h.Store.CreateDeletionRequest(h.forms.Audited(r, ev), d)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return web.Redirect("/account/data", nil), nil // one is pending already; the page shows it
	}
	if err != nil {
		return web.Done{}, fmt.Errorf("privacy: create deletion request: %w", err)
	}
	h.Logger.InfoContext(ctx, "deletion requested", "user_id", u.ID, "request", d.ID)
	return web.Redirect("/account/data?done=requested", nil), nil
}

// queueRow is one pending request on the officer page.
type queueRow struct {
	ID, Username, Name, Email, Requested, Reason string
}

type queuePage struct {
	Rows      []queueRow
	NoticeKey string
	ErrorKey  string
}

// showQueue answers GET /officer/deletions: pending requests, oldest first.
func (h *Handler) showQueue(w http.ResponseWriter, r *http.Request, _ storage.User) error {
	return h.renderQueue(w, r, queuePage{NoticeKey: doneNotice(r, "privacy.officer.")})
}

// doneNotice is the notice key (prefix + "approved" or "rejected") after an
// officer's decision redirected to a queue with ?done=; "" otherwise.
func doneNotice(r *http.Request, prefix string) string {
	switch d := r.URL.Query().Get("done"); d {
	case "approved", "rejected":
		return prefix + d
	}
	return ""
}

func (h *Handler) renderQueue(w http.ResponseWriter, r *http.Request, page queuePage) error {
	ctx := r.Context()
	ds, err := h.Store.ListDeletionRequests(ctx, storage.RequestPending, queueSize)
	if err != nil {
		return fmt.Errorf("privacy: list deletion requests: %w", err)
	}
	for _, d := range ds {
		row := queueRow{ID: d.ID, Requested: d.RequestedAt.Format("2006-01-02 15:04"), Reason: d.Reason}
		if u, err := h.Store.UserByID(ctx, d.UserID); err == nil {
			row.Username, row.Name, row.Email = u.Username, u.Name, u.Email
		}
		page.Rows = append(page.Rows, row)
	}
	return h.render.Render(w, r, http.StatusOK, "privacy_officer", page)
}

// decide answers POST /officer/deletions/{id}: approve (with the
// confirmation ticked) or reject. Approval anonymizes the account in the
// same transaction (storage.Privacy) and then ends its sessions, so the
// person is signed out everywhere at once.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, officer storage.User) (web.Done, error) {
	ctx := r.Context()
	note, ok := cleanText(r.PostForm.Get("note"))
	if !ok {
		return web.Done{}, h.renderQueue(w, r, queuePage{ErrorKey: "privacy.officer.note_invalid"})
	}
	decision := r.PostForm.Get("decision")
	approve := decision == "approve"
	switch {
	case decision != "approve" && decision != "reject":
		return web.Done{}, &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: errors.New("privacy: unknown decision")}
	case approve && r.PostForm.Get("confirm") != "yes":
		return web.Done{}, h.renderQueue(w, r, queuePage{ErrorKey: "privacy.officer.confirm_needed"})
	case !approve && note == "":
		return web.Done{}, h.renderQueue(w, r, queuePage{ErrorKey: "privacy.officer.note_needed"})
	}
	action, done := "privacy.deletion_rejected", "rejected"
	if approve {
		action, done = "privacy.deletion_approved", "approved"
	}
	// Read first for whom the event names (a request's user never
	// changes); the decision below checks its status again.
	d, err := h.Store.DeletionRequestByID(ctx, r.PathValue("id"))
	if err == nil {
		ev := storage.AuditEvent{Action: action, ActorID: officer.ID, Subject: d.UserID, Detail: map[string]string{"request": d.ID}}
		d, err = h.Store.DecideDeletionRequest(h.forms.Audited(r, ev), d.ID, approve, officer.ID, note, h.Now())
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		return web.Done{}, h.renderQueue(w, r, queuePage{ErrorKey: "privacy.officer.already_decided"})
	}
	if err != nil {
		return web.Done{}, fmt.Errorf("privacy: decide deletion request: %w", err)
	}
	if approve {
		ended, err := h.Sessions.UserSessions(ctx, d.UserID)
		if err != nil {
			h.Logger.ErrorContext(ctx, "list sessions of a deleted account", "user_id", d.UserID, "error", err)
		}
		if err := h.Sessions.DeleteUserSessions(ctx, d.UserID); err != nil {
			// The account cannot sign in any more (disabled, no password);
			// its open sessions end at the next page load (login checks the
			// user) or their expiry.
			h.Logger.ErrorContext(ctx, "end sessions of a deleted account", "user_id", d.UserID, "error", err)
		} else if h.OnSessionEnd != nil {
			// Its applications are told too (back-channel logout).
			for _, s := range ended {
				h.OnSessionEnd(ctx, s)
			}
		}
	}
	h.Logger.InfoContext(ctx, "deletion request decided", "request", d.ID, "decision", done, "officer", officer.ID)
	return web.Redirect("/officer/deletions?done="+done, nil), nil
}
