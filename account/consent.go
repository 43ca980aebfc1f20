package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// Grants are the user's live authorizations of applications (refresh token
// grants), which a withdrawal ends.
type (
	Grants interface {
		UserRefreshTokens(ctx context.Context, userID string, now time.Time) ([]storage.RefreshToken, error)
		RevokeUserClientRefreshTokens(ctx context.Context, userID, clientID string) ([]string, error)
	}
	AccessTokens interface {
		DeleteAccessTokenFamily(ctx context.Context, familyID string) error
	}
)

// consentScopes are the scopes whose data the page explains, in the order
// it lists them (README "Scopes and claims").
var consentScopes = []string{"openid", "profile", "email", "phone", "organization", "offline_access"}

// consentPage is the data of the "account_consent" page.
type consentPage struct {
	Nav         []navItem
	ClientID    string
	Name        string
	Scopes      []string // catalog keys, account.consent.scope.<scope>
	Since       string   // the oldest live grant, YYYY-MM-DD; empty: none
	Linked      bool
	AppUsername string
	HasAccess   bool // something to withdraw
}

// consentTarget loads client id for u's consent page: a client u may open,
// or one u has given access to (ErrNotFound otherwise, never revealing
// which clients exist), with u's live grants to it.
func (h *Handler) consentTarget(ctx context.Context, u storage.User, id string) (storage.Client, []storage.RefreshToken, *storage.AppLink, error) {
	all, err := h.Grants.UserRefreshTokens(ctx, u.ID, h.Now())
	if err != nil {
		return storage.Client{}, nil, nil, fmt.Errorf("account: list grants: %w", err)
	}
	grants := slices.DeleteFunc(all, func(t storage.RefreshToken) bool { return t.ClientID != id })
	var link *storage.AppLink
	if l, err := h.Links.AppLink(ctx, u.ID, id); err == nil {
		link = &l
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, nil, nil, fmt.Errorf("account: load app link: %w", err)
	}
	c, err := h.openableClient(ctx, u, id)
	if errors.Is(err, storage.ErrNotFound) && (len(grants) > 0 || link != nil) {
		c, err = h.Clients.ClientByID(ctx, id) // unlisted, but it has the user's data
	}
	if err != nil {
		return storage.Client{}, nil, nil, err
	}
	return c, grants, link, nil
}

// showConsent answers GET /apps/{client}/data: what the application
// receives about the user, since when, and the way to withdraw it.
func (h *Handler) showConsent(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	id := r.PathValue("client")
	c, grants, link, err := h.consentTarget(r.Context(), who.user, id)
	if errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	}
	if err != nil {
		return err
	}
	page := consentPage{Nav: nav("/apps"), ClientID: c.ID, Name: c.Name, HasAccess: len(grants) > 0 || link != nil}
	granted := map[string]bool{}
	for i, g := range grants {
		if i == 0 {
			page.Since = g.CreatedAt.Format(time.DateOnly)
		}
		for _, s := range g.Scopes {
			granted[s] = true
		}
	}
	for _, s := range consentScopes {
		if granted[s] {
			page.Scopes = append(page.Scopes, "account.consent.scope."+s)
		}
	}
	if link != nil {
		page.Linked, page.AppUsername = true, link.AppUsername
	}
	return h.render.Render(w, r, http.StatusOK, "account_consent", page)
}

// withdrawConsent answers POST /apps/{client}/withdraw: the application's
// refresh tokens and the access tokens issued with them end now, and its
// account link goes; the next time the user opens it, it asks for a
// sign-in again. (An access token issued without a refresh token lives on
// to its expiry, 15 minutes at most.)
func (h *Handler) withdrawConsent(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("client")
	if _, _, _, err := h.consentTarget(ctx, who.user, id); errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	} else if err != nil {
		return err
	}
	families, err := h.Grants.RevokeUserClientRefreshTokens(ctx, who.user.ID, id)
	if err != nil {
		return fmt.Errorf("account: revoke grants: %w", err)
	}
	for _, f := range families {
		if err := h.AccessTokens.DeleteAccessTokenFamily(ctx, f); err != nil {
			return fmt.Errorf("account: delete access tokens: %w", err)
		}
	}
	if err := h.Links.UnlinkApp(ctx, who.user.ID, id); err != nil {
		return fmt.Errorf("account: unlink app: %w", err)
	}
	// Several writes (grants, then the link), and the count is known only
	// after the first: the event is appended on its own.
	h.audit(r, storage.AuditEvent{Action: "consent.withdraw", ActorID: who.user.ID, Subject: who.user.ID, ClientID: id,
		Detail: map[string]string{"grants": fmt.Sprint(len(families))}})
	h.Logger.InfoContext(ctx, "consent withdrawn", "user_id", who.user.ID, "client_id", id, "grants", len(families))
	redirect(w, r, "/apps?done=withdrawn")
	return nil
}

// consentURL is an application's consent page.
func consentURL(clientID string) string { return "/apps/" + url.PathEscape(clientID) + "/data" }
