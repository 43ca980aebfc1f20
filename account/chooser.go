package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"satupintu/storage"
	"satupintu/web"
)

// The organization chooser: after signing in to an application, a user who
// belongs to several companies and never chose one for that application
// picks the company the application receives (GET and POST /organization).
// The login package sends them here (OrganizationChoice); the choice is
// stored per application, so the next sign-in goes straight through, and
// Your Apps changes it.

// AuthRequests is what the chooser reads of a pending sign-in.
type AuthRequests interface {
	AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error)
}

// OrganizationChoice is login's ChooseOrganization: the chooser's URL when
// userID belongs to several organizations and chose none for clientID,
// otherwise "".
func (h *Handler) OrganizationChoice(ctx context.Context, userID, clientID, authRequestID string) (string, error) {
	ms, err := h.Memberships.MembershipsOf(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("account: list memberships: %w", err)
	}
	if len(ms) < 2 {
		return "", nil
	}
	_, err = h.Memberships.ChosenOrganization(ctx, userID, clientID)
	switch {
	case err == nil:
		return "", nil
	case !errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("account: load chosen organization: %w", err)
	}
	return "/organization?authRequestID=" + url.QueryEscape(authRequestID), nil
}

// chooserPage is the data of the "organization_choose" page.
type chooserPage struct {
	AuthRequestID string
	ClientName    string
	Orgs          []orgOption
}

// pendingChoice loads the done authorization request of r for the signed-in
// user; anything else (another user's, not done, unknown) is the expired
// page, as login shows for a request that is gone.
func (h *Handler) pendingChoice(r *http.Request, who signedIn, id string) (storage.AuthRequest, error) {
	expired := &web.Error{Status: http.StatusBadRequest, MessageKey: "login.expired",
		Err: fmt.Errorf("account: no chooser request %q", truncate(id, 64))}
	if id == "" || len(id) > 128 {
		return storage.AuthRequest{}, expired
	}
	ar, err := h.AuthRequests.AuthRequestByID(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, expired
	}
	if err != nil {
		return storage.AuthRequest{}, fmt.Errorf("account: load auth request: %w", err)
	}
	if !ar.Done || ar.UserID != who.user.ID {
		return storage.AuthRequest{}, expired
	}
	return ar, nil
}

// showChooser answers GET /organization?authRequestID=….
func (h *Handler) showChooser(w http.ResponseWriter, r *http.Request) error {
	web.NoStore(w)
	who := signedFrom(r)
	ctx := r.Context()
	ar, err := h.pendingChoice(r, who, r.URL.Query().Get("authRequestID"))
	if err != nil {
		return err
	}
	c, err := h.Clients.ClientByID(ctx, ar.ClientID)
	if err != nil {
		return fmt.Errorf("account: load client: %w", err)
	}
	orgs, err := h.userOrganizations(ctx, who.user)
	if err != nil {
		return err
	}
	if orgs, err = h.chosenFor(ctx, who.user, ar.ClientID, orgs); err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "organization_choose",
		chooserPage{AuthRequestID: ar.ID, ClientName: c.Name, Orgs: orgs})
}

// submitChooser answers POST /organization: remember the choice for the
// application, then go on to its callback.
func (h *Handler) submitChooser(w http.ResponseWriter, r *http.Request) error {
	web.NoStore(w)
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx := r.Context()
	ar, err := h.pendingChoice(r, who, r.PostForm.Get("authRequestID"))
	if err != nil {
		return err
	}
	orgID := r.PostForm.Get("organization")
	ev := storage.AuditEvent{Action: "organization.choose", ActorID: who.user.ID, Subject: orgID, ClientID: ar.ClientID}
	err = h.Memberships.ChooseOrganization(h.forms.Audited(r, ev), who.user.ID, ar.ClientID, orgID, h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request",
			Err: fmt.Errorf("account: %s is no organization of %s: %w", truncate(orgID, 64), who.user.ID, err)}
	}
	if err != nil {
		return fmt.Errorf("account: choose organization: %w", err)
	}
	redirect(w, r, h.CallbackURL(ctx, ar.ID))
	return nil
}
