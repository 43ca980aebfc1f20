package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// pending is an upstream identity linked to nobody yet, kept in the
// ephemeral store under a random id that only this browser's cookie holds.
// Nothing is linked by an email or a name: the person links it by signing
// in to satupintu in this browser (CompleteLink) after asking to (Confirmed),
// or registers a new account with it.
type pending struct {
	Provider      string    `json:"provider"`
	Subject       string    `json:"subject"`
	Name          string    `json:"name,omitempty"`
	NIK           string    `json:"nik,omitempty"`
	AuthRequestID string    `json:"auth_request_id,omitempty"`
	Confirmed     bool      `json:"confirmed,omitempty"` // the person chose "sign in to link"
	ExpiresAt     time.Time `json:"expires_at"`
}

func pendingKey(id string) string { return "upstream-pending:" + id }

// loadPending returns r's pending identity and its id, if there is one
// that has not expired and whose provider is still configured.
func (h *Handler) loadPending(r *http.Request) (string, pending, *remote, bool, error) {
	id, ok := h.readCookie(r, pendingCookie)
	if !ok {
		return "", pending{}, nil, false, nil
	}
	var p pending
	found, err := h.loadJSON(r.Context(), pendingKey(id), &p)
	if err != nil || !found || !h.Now().Before(p.ExpiresAt) {
		return "", pending{}, nil, false, err
	}
	m, known := h.provider(p.Provider)
	if !known {
		return "", pending{}, nil, false, nil
	}
	return id, p, m, true, nil
}

// endPending forgets the pending identity, in the store and the browser.
func (h *Handler) endPending(w http.ResponseWriter, r *http.Request, id string) {
	h.deleteDraft(r.Context(), pendingKey(id))
	if err := h.setCookie(w, pendingCookie, "", -1); err != nil {
		h.Logger.WarnContext(r.Context(), "clear upstream cookie", "error", err)
	}
}

// linkPage is the data of the "upstream_link" page.
type linkPage struct {
	Label       string
	Name        string
	CanRegister bool
}

// noPending is the page for a link step that is over (expired, done,
// another browser).
func (h *Handler) noPending(w http.ResponseWriter, r *http.Request) error {
	return h.showProblem(w, r, http.StatusBadRequest, "upstream.expired", "", "")
}

// showLink answers GET /upstream/link: "Link your account", with the two
// ways on (sign in to link, or register a new company account).
func (h *Handler) showLink(w http.ResponseWriter, r *http.Request) error {
	_, p, m, ok, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if !ok {
		return h.noPending(w, r)
	}
	return h.render.Render(w, r, http.StatusOK, pageLink, linkPage{Label: m.p.Label, Name: p.Name, CanRegister: h.Register != nil})
}

// confirmLink answers POST /upstream/link: the person chose to link by
// signing in; the sign-in form follows, and CompleteLink links once the
// password (and second factor) are right.
func (h *Handler) confirmLink(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	id, p, _, ok, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if !ok {
		return h.noPending(w, r)
	}
	p.Confirmed = true
	if err := h.saveJSON(r.Context(), pendingKey(id), p, p.ExpiresAt.Sub(h.Now())); err != nil {
		return err
	}
	redirect(w, r, loginURL(p.AuthRequestID))
	return nil
}

// CompleteLink is login's AfterSignIn hook: the person just proved a
// satupintu account in this browser (password, and second factor if it has
// one). A pending identity they chose to link is now linked to it.
// Failures are logged; the sign-in itself stands.
func (h *Handler) CompleteLink(w http.ResponseWriter, r *http.Request, u storage.User) {
	if err := h.init(); err != nil {
		return
	}
	id, p, m, ok, err := h.loadPending(r)
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "load pending upstream identity", "error", err)
		return
	}
	if !ok || !p.Confirmed {
		return
	}
	h.endPending(w, r, id)
	now := h.Now().UTC()
	err = h.Links.CreateUpstreamLink(r.Context(), storage.UpstreamLink{UpstreamID: p.Provider, Subject: p.Subject,
		UserID: u.ID, CreatedAt: now, LastUsedAt: now})
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Linked meanwhile, in another browser: the first link stands.
		h.Logger.WarnContext(r.Context(), "upstream identity already linked", "upstream", p.Provider, "user_id", u.ID)
		return
	}
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "create upstream link", "upstream", p.Provider, "user_id", u.ID, "error", err)
		return
	}
	h.audit(r, storage.AuditEvent{Action: "upstream.link", ActorID: u.ID, Subject: u.ID,
		Detail: map[string]string{"upstream": p.Provider, "label": m.p.Label}})
	h.Logger.InfoContext(r.Context(), "upstream identity linked", "upstream", p.Provider, "user_id", u.ID)
}

// register answers POST /upstream/register: a new company account,
// starting the wizard with the upstream's name and NIK.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	if h.Register == nil {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: errors.New("upstream: registration not offered")}
	}
	id, p, m, ok, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if !ok {
		return h.noPending(w, r)
	}
	if err := h.Register(w, r, Identity{ProviderID: p.Provider, Subject: p.Subject, Label: m.p.Label, Name: p.Name, NIK: p.NIK}); err != nil {
		return err
	}
	h.endPending(w, r, id)
	h.audit(r, storage.AuditEvent{Action: "upstream.register", Subject: p.Provider, Detail: map[string]string{"upstream": p.Provider}})
	return nil
}

// cancel answers POST /upstream/cancel: forget the identity and go back to
// the sign-in form.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	id, p, _, ok, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if ok {
		h.endPending(w, r, id)
	}
	redirect(w, r, loginURL(p.AuthRequestID))
	return nil
}

// unlink answers POST /upstream/unlink, from the security page: the
// signed-in user removes one of their own links.
func (h *Handler) unlink(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	u, ok := h.CurrentUser(r)
	if !ok {
		redirect(w, r, "/login")
		return nil
	}
	provider, subject := r.PostForm.Get("upstream"), r.PostForm.Get("subject")
	if len(provider) > 64 || len(subject) > 255 {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: errors.New("upstream: unlink fields too long")}
	}
	// Deletes only u's own link: another user's identity is never touched.
	if err := h.Links.DeleteUpstreamLink(r.Context(), u.ID, provider, subject); err != nil {
		return fmt.Errorf("upstream: unlink: %w", err)
	}
	h.audit(r, storage.AuditEvent{Action: "upstream.unlink", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"upstream": provider}})
	h.Logger.InfoContext(r.Context(), "upstream identity unlinked", "upstream", provider, "user_id", u.ID)
	redirect(w, r, "/mfa?upstream=unlinked")
	return nil
}
