package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/storage"
)

// Where a draft lives and for how long. The draft is rewritten on every
// step, so its lifetime runs from the last save: two hours of inactivity
// end it. The letter (up to 1 MiB) is written once per upload under its own
// key so the steps after it do not rewrite a megabyte each; it lives an
// hour longer than the draft and is re-saved once it is an hour old (see
// saveDraft), so it always outlives the draft that points to it.
const (
	draftTTL          = 2 * time.Hour
	documentTTL       = draftTTL + time.Hour
	documentRefresh   = time.Hour
	doneTTL           = time.Hour // how long the success page can be reloaded
	draftKeyPrefix    = "reg-draft:"
	documentKeyPrefix = "reg-doc:"
	// doneKeyPrefix marks a draft that was submitted, with its service
	// number, so a second click on "Yes, submit" finds the first one's
	// result instead of an expired draft or a duplicate registration.
	doneKeyPrefix = "reg-done:"
)

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
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	return id, d, nil
}

// saveDraft stores d under id for draftTTL from now and (re)sets the
// cookie. A new draft gets a new random id (160 bits, storage.NewID): the
// id is the only thing that ties a browser to its draft.
func (h *Handler) saveDraft(ctx context.Context, w http.ResponseWriter, id string, d *draft) (string, error) {
	now := h.Now().UTC()
	if id == "" {
		id = storage.NewID()
	}
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
	if err := h.Drafts.SaveDraft(ctx, draftKeyPrefix+id, b, draftTTL); err != nil {
		return "", fmt.Errorf("registration: save draft: %w", err)
	}
	return id, h.setCookie(w, h.draftCookie(), id, draftTTL)
}

// refreshDocument re-saves the letter so it outlives the draft again, or
// notes that it is gone.
func (h *Handler) refreshDocument(ctx context.Context, id string, d *draft, now time.Time) error {
	data, err := h.loadDocument(ctx, id, d)
	if err != nil {
		return err
	}
	if data == nil {
		d.Document, d.DocumentLost = nil, true
		return nil
	}
	if err := h.Drafts.SaveDraft(ctx, documentKeyPrefix+id, data, documentTTL); err != nil {
		return fmt.Errorf("registration: refresh document: %w", err)
	}
	d.Document.SavedAt = now
	return nil
}

// saveDocument stores the accepted letter of draft id. Only the bytes go
// under the document key; the caller records its description in the draft
// afterwards, so a failure in between leaves a stored file no draft points
// to (harmless, it expires) rather than a draft pointing to nothing.
func (h *Handler) saveDocument(ctx context.Context, id string, doc Document) (*draftDocument, error) {
	if err := h.Drafts.SaveDraft(ctx, documentKeyPrefix+id, doc.Data, documentTTL); err != nil {
		return nil, fmt.Errorf("registration: save document: %w", err)
	}
	return &draftDocument{
		FileName:    doc.FileName,
		ContentType: doc.ContentType,
		Size:        len(doc.Data),
		SHA256:      doc.SHA256,
		SavedAt:     h.Now().UTC(),
	}, nil
}

// loadDocument returns the stored letter of draft id, or nil if it is gone
// or is not the one the draft describes (an upload whose draft save
// failed replaced it).
func (h *Handler) loadDocument(ctx context.Context, id string, d *draft) ([]byte, error) {
	if d.Document == nil {
		return nil, nil
	}
	data, err := h.Drafts.Draft(ctx, documentKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registration: load document: %w", err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != d.Document.SHA256 || len(data) != d.Document.Size {
		h.Logger.WarnContext(ctx, "stored registration document does not match its draft")
		return nil, nil
	}
	return data, nil
}

// deleteDraft removes the draft and its letter and clears the cookie.
func (h *Handler) deleteDraft(ctx context.Context, w http.ResponseWriter, id string) error {
	if id != "" {
		if err := h.Drafts.DeleteDraft(ctx, draftKeyPrefix+id); err != nil {
			return fmt.Errorf("registration: delete draft: %w", err)
		}
		if err := h.Drafts.DeleteDraft(ctx, documentKeyPrefix+id); err != nil {
			return fmt.Errorf("registration: delete document: %w", err)
		}
	}
	return h.setCookie(w, h.draftCookie(), nil, -1)
}

// doneReceipt is what the done cookie carries: the service number the
// success page shows, and when it was issued, so the page stops showing it
// after doneTTL even if the browser keeps the cookie.
type doneReceipt struct {
	ServiceNumber string
	Issued        int64 // unix seconds
}

func (h *Handler) setDone(w http.ResponseWriter, serviceNumber string) error {
	return h.setCookie(w, h.doneCookie(), doneReceipt{ServiceNumber: serviceNumber, Issued: h.Now().Unix()}, doneTTL)
}

func (h *Handler) done(r *http.Request) (string, bool) {
	var rc doneReceipt
	if !h.readCookie(r, h.doneCookie(), &rc) || rc.ServiceNumber == "" {
		return "", false
	}
	age := h.Now().Sub(time.Unix(rc.Issued, 0))
	if age < 0 || age > doneTTL {
		return "", false
	}
	return rc.ServiceNumber, true
}
