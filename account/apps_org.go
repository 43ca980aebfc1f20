package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"satupintu/storage"
	"satupintu/web"
)

// The organization each application receives. A user who belongs to
// several companies chooses one per application after signing in (the
// login package's chooser) and may change it here, on Your Apps. The
// choice is stored per (user, application) and read by op when it fills
// the organization claim; no choice means the user's default organization.

// orgOption is one organization in an application's select.
type orgOption struct {
	ID, Name, NIB string
	Selected      bool
}

// userOrganizations returns the user's organizations as options, oldest
// membership first; nil when the user has fewer than two (nothing to
// choose).
func (h *Handler) userOrganizations(ctx context.Context, u storage.User) ([]orgOption, error) {
	if h.Memberships == nil {
		return nil, nil
	}
	ms, err := h.Memberships.MembershipsOf(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("account: list memberships: %w", err)
	}
	if len(ms) < 2 {
		return nil, nil
	}
	out := make([]orgOption, 0, len(ms))
	for _, m := range ms {
		o, err := h.Organizations.OrganizationByID(ctx, m.OrganizationID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("account: load organization: %w", err)
		}
		out = append(out, orgOption{ID: o.ID, Name: o.Name, NIB: o.NIB})
	}
	return out, nil
}

// chosenFor marks in opts the organization clientID receives for u.
func (h *Handler) chosenFor(ctx context.Context, u storage.User, clientID string, opts []orgOption) ([]orgOption, error) {
	chosen, err := h.Memberships.ChosenOrganization(ctx, u.ID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		chosen = u.OrganizationID
	} else if err != nil {
		return nil, fmt.Errorf("account: load chosen organization: %w", err)
	}
	marked := make([]orgOption, len(opts))
	for i, o := range opts {
		o.Selected = o.ID == chosen
		marked[i] = o
	}
	return marked, nil
}

// chooseAppOrganization answers POST /apps/{client}/organization.
func (h *Handler) chooseAppOrganization(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := h.openableClient(ctx, who.user, r.PathValue("client"))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
		}
		return err
	}
	orgID := r.PostForm.Get("organization")
	ev := storage.AuditEvent{Action: "organization.choose", ActorID: who.user.ID, Subject: orgID, ClientID: c.ID}
	err = h.Memberships.ChooseOrganization(h.forms.Audited(r, ev), who.user.ID, c.ID, orgID, h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		// Not one of the user's organizations: a crafted form.
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request",
			Err: fmt.Errorf("account: %s is no organization of %s: %w", truncate(orgID, 64), who.user.ID, err)}
	}
	if err != nil {
		return fmt.Errorf("account: choose organization: %w", err)
	}
	redirect(w, r, "/apps?done=organization")
	return nil
}
