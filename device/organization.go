package device

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// A member of several companies chooses, on the confirmation page, which
// one the application receives, as the code flow's chooser asks after a
// sign-in (package account). The choice is the same stored per-application
// choice, so the device's tokens carry the organization a code flow would.

type (
	Memberships interface {
		MembershipsOf(ctx context.Context, userID string) ([]storage.Membership, error)
		ChosenOrganization(ctx context.Context, userID, clientID string) (string, error)
		ChooseOrganization(ctx context.Context, userID, clientID, orgID string, at time.Time) error
	}
	Organizations interface {
		OrganizationByID(ctx context.Context, id string) (storage.Organization, error)
	}
)

// orgOption is one company on the confirmation page.
type orgOption struct {
	ID, Name, NIB string
	Selected      bool
}

// orgScopes release the organization's data.
var orgScopes = []string{"organization", "address"}

// organizations returns the companies u may choose from for c, the one the
// application would receive selected; nil when there is nothing to choose
// (one company, or no scope that releases company data).
func (h *Handler) organizations(ctx context.Context, u storage.User, clientID string, scopes []string) ([]orgOption, error) {
	if h.Memberships == nil || h.Organizations == nil || !slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(orgScopes, s) }) {
		return nil, nil
	}
	ms, err := h.Memberships.MembershipsOf(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("device: list memberships: %w", err)
	}
	if len(ms) < 2 {
		return nil, nil
	}
	chosen, err := h.Memberships.ChosenOrganization(ctx, u.ID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		chosen = u.OrganizationID
	} else if err != nil {
		return nil, fmt.Errorf("device: load chosen organization: %w", err)
	}
	out := make([]orgOption, 0, len(ms))
	for _, m := range ms {
		o, err := h.Organizations.OrganizationByID(ctx, m.OrganizationID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("device: load organization: %w", err)
		}
		out = append(out, orgOption{ID: o.ID, Name: o.Name, NIB: o.NIB, Selected: o.ID == chosen})
	}
	return out, nil
}

// chooseOrganization records the company posted with Allow, when the page
// offered a choice.
func (h *Handler) chooseOrganization(r *http.Request, u storage.User, clientID string, scopes []string) error {
	opts, err := h.organizations(r.Context(), u, clientID, scopes)
	if err != nil || opts == nil {
		return err
	}
	orgID := r.PostForm.Get("organization")
	if !slices.ContainsFunc(opts, func(o orgOption) bool { return o.ID == orgID }) {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request",
			Err: fmt.Errorf("device: %q is no organization of %s", truncate(orgID, 64), u.ID)}
	}
	ev := storage.AuditEvent{Action: "organization.choose", ActorID: u.ID, Subject: orgID, ClientID: clientID}
	if err := h.Memberships.ChooseOrganization(h.audited(r, ev), u.ID, clientID, orgID, h.Now().UTC()); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
		}
		return fmt.Errorf("device: choose organization: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
