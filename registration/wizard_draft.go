package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// Where a draft lives and for how long. The draft is rewritten on every
// step, so its lifetime runs from the last save: two hours of inactivity
// end it; and it never outlives DraftLimit.Window from its creation, which
// is what bounds the number of live drafts (limits.go). The letter (up to
// 1 MiB) is in durable storage under the draft's id, written once per
// upload; it lives documentTTL and its expiry is pushed on by the first
// save after it is documentRefresh old (saveDraft), so it always outlives
// the draft that points to it.
const (
	DraftTTL        = 2 * time.Hour
	documentTTL     = DraftTTL + time.Hour
	documentRefresh = time.Hour
	doneTTL         = time.Hour // how long the success page can be reloaded
	draftKeyPrefix  = "reg-draft:"
	// doneKeyPrefix marks a draft that was submitted, with the address its
	// mail went to, so a second click on "Yes, submit" finds the first
	// one's result instead of an expired draft or a second submission.
	doneKeyPrefix = "reg-done:"
	// maxDraftBytes bounds one encoded draft. A complete draft is about
	// 1.5 KiB; values typed at the longest the browser allows stay far
	// below. Only a hand-made request gets near it, and is refused.
	maxDraftBytes = 16 << 10
	// defaultDraftMaxAge is a draft's longest life when DraftLimit has no
	// window.
	defaultDraftMaxAge = 24 * time.Hour
)

// draftMaxAge is how long a draft may live from its creation at most: the
// window of DraftLimit, so that drafts created in one window are gone by
// the end of the next.
func (h *Handler) draftMaxAge() time.Duration {
	if h.DraftLimit.Window > 0 {
		return h.DraftLimit.Window
	}
	return defaultDraftMaxAge
}

// draftEnd is when d must be gone, whatever its saves.
func (h *Handler) draftEnd(d *draft) time.Time {
	return d.CreatedAt.Add(h.draftMaxAge())
}

// errDraftExpired means r carries an authentic draft cookie whose draft is
// gone: its TTL ran out, or it was submitted or discarded elsewhere.
var errDraftExpired = errors.New("registration: draft expired")

// draftCookie and doneCookie are the wizard's cookie names. Under https
// they carry the __Host- prefix, which requires Secure, Path=/ and no
// Domain, so no sibling subdomain can plant or shadow them (ASVS 3.3.3);
// over plain http (development) they are scoped to /register instead.
func (h *Handler) draftCookie() string {
	if h.Secure {
		return "__Host-satupintu_reg"
	}
	return "satupintu_reg"
}

func (h *Handler) doneCookie() string {
	if h.Secure {
		return "__Host-satupintu_reg_done"
	}
	return "satupintu_reg_done"
}

func (h *Handler) cookiePath() string {
	if h.Secure {
		return "/" // required by the __Host- prefix
	}
	return "/register"
}

// setCookie writes an encoded (signed and encrypted) cookie; maxAge < 0
// deletes it.
func (h *Handler) setCookie(w http.ResponseWriter, name string, value any, maxAge time.Duration) error {
	c := &http.Cookie{
		Name:     name,
		Path:     h.cookiePath(),
		Secure:   h.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		v, err := h.Cookies.Encode(name, value)
		if err != nil {
			return fmt.Errorf("registration: encode cookie %s: %w", name, err)
		}
		c.Value, c.MaxAge = v, int(maxAge/time.Second)
	}
	http.SetCookie(w, c)
	return nil
}

// readCookie decodes cookie name of r into dst, reporting whether it was
// there and authentic.
func (h *Handler) readCookie(r *http.Request, name string, dst any) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	return h.Cookies.Decode(name, c.Value, dst) == nil
}

// draftID returns the draft id in r's cookie, if any. The cookie only
// references the draft; what it holds is decided by the store.
func (h *Handler) draftID(r *http.Request) (string, bool) {
	var id string
	if !h.readCookie(r, h.draftCookie(), &id) || id == "" || len(id) > 64 {
		return "", false
	}
	return id, true
}

// loadDraft returns the draft of r: ("", nil, nil) when r has none,
// errDraftExpired when its cookie outlived it.
func (h *Handler) loadDraft(ctx context.Context, r *http.Request) (string, *draft, error) {
	id, ok := h.draftID(r)
	if !ok {
		return "", nil, nil
	}
	b, err := h.Drafts.Draft(ctx, draftKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return id, nil, errDraftExpired
	}
	if err != nil {
		return "", nil, fmt.Errorf("registration: load draft: %w", err)
	}
	d := &draft{}
	if err := json.Unmarshal(b, d); err != nil || d.Version != draftVersion {
		// Written by another version, or damaged: the registrant starts
		// over, as after an expiry, rather than seeing half a form.
		h.Logger.WarnContext(ctx, "unreadable registration draft", "version", d.Version, "error", err)
		return id, nil, errDraftExpired
	}
	if !h.Now().Before(h.draftEnd(d)) {
		return id, nil, errDraftExpired
	}
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	return id, d, nil
}

// saveDraft stores d under id for DraftTTL from now (less if its maximum
// age comes first) and (re)sets the cookie. A new draft gets a new random
// id (160 bits, storage.NewID): the id is the only thing that ties a
// browser to its draft; creating one takes a unit of DraftLimit.
func (h *Handler) saveDraft(w http.ResponseWriter, r *http.Request, id string, d *draft) (string, error) {
	ctx := r.Context()
	now := h.Now().UTC()
	if id == "" {
		if err := h.take(w, r, h.DraftLimit, "reg.busy"); err != nil {
			return "", err
		}
		id = storage.NewID()
	}
	// A draft past its end is not loaded (loadDraft); one that reaches it
	// between load and save gets a last second.
	ttl := max(min(DraftTTL, h.draftEnd(d).Sub(now)), time.Second)
	if d.Document != nil && now.Sub(d.Document.SavedAt) >= documentRefresh {
		if err := h.refreshDocument(ctx, id, d, now); err != nil {
			return "", err
		}
	}
	d.UpdatedAt = now
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("registration: encode draft: %w", err)
	}
	if len(b) > maxDraftBytes {
		// Only a hand-made request types this much (every field is cut at
		// maxStoredValue and the browser's maxlength is far lower).
		return "", &web.Error{Status: http.StatusRequestEntityTooLarge, MessageKey: "error.bad_request",
			Err: fmt.Errorf("registration: draft of %d bytes, more than %d", len(b), maxDraftBytes)}
	}
	if err := h.Drafts.SaveDraft(ctx, draftKeyPrefix+id, b, ttl); err != nil {
		return "", fmt.Errorf("registration: save draft: %w", err)
	}
	return id, h.setCookie(w, h.draftCookie(), id, ttl)
}

// documentExpiry is when a letter saved or refreshed at now expires: the
// draft's end if that comes first.
func (h *Handler) documentExpiry(d *draft, now time.Time) time.Time {
	end := now.Add(documentTTL)
	if de := h.draftEnd(d); de.Before(end) {
		end = de
	}
	return end
}

// refreshDocument pushes the letter's expiry on so it outlives the draft
// again, or notes that it is gone.
func (h *Handler) refreshDocument(ctx context.Context, id string, d *draft, now time.Time) error {
	err := h.DraftDocuments.ExtendDraftDocument(ctx, id, h.documentExpiry(d, now), now)
	if errors.Is(err, storage.ErrNotFound) {
		d.Document, d.DocumentLost = nil, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("registration: refresh document: %w", err)
	}
	d.Document.SavedAt = now
	return nil
}

// saveDocument stores the accepted letter of draft id in durable storage,
// replacing the draft's previous one. The caller records its description
// in the draft afterwards, so a failure in between leaves a stored file no
// draft points to (harmless, it expires) rather than a draft pointing to
// nothing. storage.ErrLimitReached (too many letters pending) is a friendly
// 503: the registrant can try again later, and sign-ins are unaffected.
func (h *Handler) saveDocument(ctx context.Context, id string, d *draft, doc Document) (*draftDocument, error) {
	now := h.Now().UTC()
	err := h.DraftDocuments.PutDraftDocument(ctx, storage.DraftDocument{
		DraftID:     id,
		FileName:    doc.FileName,
		ContentType: doc.ContentType,
		SHA256:      doc.SHA256,
		Data:        doc.Data,
		CreatedAt:   now,
		ExpiresAt:   h.documentExpiry(d, now),
	}, now, h.PendingLetters)
	if errors.Is(err, storage.ErrLimitReached) {
		return nil, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "reg.busy", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("registration: save document: %w", err)
	}
	return &draftDocument{
		FileName:    doc.FileName,
		ContentType: doc.ContentType,
		Size:        len(doc.Data),
		SHA256:      doc.SHA256,
		SavedAt:     now,
	}, nil
}

// documentStored reports whether the letter d describes is still stored
// for draft id (not expired, not replaced by an upload whose draft save
// failed).
func (h *Handler) documentStored(ctx context.Context, id string, d *draft) (bool, error) {
	if d.Document == nil {
		return false, nil
	}
	stored, err := h.DraftDocuments.DraftDocument(ctx, id, h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("registration: load document: %w", err)
	}
	if stored.SHA256 != d.Document.SHA256 || len(stored.Data) != d.Document.Size {
		h.Logger.WarnContext(ctx, "stored registration document does not match its draft")
		return false, nil
	}
	return true, nil
}

// deleteDraft removes the draft and its letter and clears the cookie.
func (h *Handler) deleteDraft(ctx context.Context, w http.ResponseWriter, id string) error {
	if id != "" {
		if err := h.Drafts.DeleteDraft(ctx, draftKeyPrefix+id); err != nil {
			return fmt.Errorf("registration: delete draft: %w", err)
		}
		if err := h.DraftDocuments.DeleteDraftDocument(ctx, id); err != nil {
			return fmt.Errorf("registration: delete document: %w", err)
		}
	}
	return h.setCookie(w, h.draftCookie(), nil, -1)
}

// doneReceipt is what the done cookie carries: the address the outcome
// was mailed to, which the success page names, and when, so the page stops
// showing it after doneTTL even if the browser keeps the cookie. It is the
// same for every outcome (wizard_submit.go): the page never tells whether
// a registration was created.
type doneReceipt struct {
	Email  string
	Issued int64 // unix seconds
}

func (h *Handler) setDone(w http.ResponseWriter, email string) error {
	return h.setCookie(w, h.doneCookie(), doneReceipt{Email: email, Issued: h.Now().Unix()}, doneTTL)
}

func (h *Handler) done(r *http.Request) (string, bool) {
	var rc doneReceipt
	if !h.readCookie(r, h.doneCookie(), &rc) || rc.Email == "" {
		return "", false
	}
	age := h.Now().Sub(time.Unix(rc.Issued, 0))
	if age < 0 || age > doneTTL {
		return "", false
	}
	return rc.Email, true
}
