package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"satupintu/storage"
)

// mayOpen reports whether the "Your Apps" list offers client c to a user of
// an organization with traderType: listed clients only, and an allow-list
// of trader types, when the client has one, must name the user's.
func mayOpen(c storage.Client, traderType string) bool {
	if !c.Listed || c.Disabled {
		return false
	}
	return len(c.AllowedTraderTypes) == 0 || traderType != "" && slices.Contains(c.AllowedTraderTypes, traderType)
}

// safeURL returns raw if it may be put in a page as a link or image source:
// an absolute https URL, or http to a loopback host (the demo). Anything
// else (javascript:, data:, relative, user information) is dropped, not
// escaped into something clickable (ASVS 1.2.2).
func safeURL(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	switch u.Scheme {
	case "https":
		return u, true
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return u, true
		}
		ip, err := netip.ParseAddr(host)
		return u, err == nil && ip.IsLoopback()
	}
	return nil, false
}

// appView is one entry of the "Your Apps" list.
type appView struct {
	ID, Name, Description string
	LaunchURL, LogoURL    string // empty when not safe to render
	LinkURL, UnlinkURL    string
	DataURL               string // what the app receives, and withdrawing it
	OffersLink            bool   // the app has an account-verification endpoint
	Linked                bool
	AppUsername           string
	// Orgs is the user's organizations when several, the one this app
	// receives selected (apps_org.go).
	Orgs    []orgOption
	OrgsURL string
}

// appsPage is the data of the "account_apps" page.
type appsPage struct {
	Nav    []navItem
	Apps   []appView
	Notice string // catalog key of a notice after a redirect, or empty
}

// notices are the ?done= values a redirect may carry: the page shows a
// fixed message, never text from the query.
var notices = map[string]string{
	"linked":        "account.apps.linked_notice",
	"unlinked":      "account.apps.unlinked_notice",
	"withdrawn":     "account.consent.withdrawn_notice",
	"email_changed": "account.email.changed_notice",
	"saved":         "account.profile.saved",
	"ended":         "account.sessions.ended_notice",
	"organization":  "company.apps.chosen_notice",
}

// traderType is the trader type of the user's organization ("" for staff
// accounts and users whose organization is gone).
func (h *Handler) traderType(ctx context.Context, u storage.User) (string, error) {
	if u.OrganizationID == "" {
		return "", nil
	}
	o, err := h.Organizations.OrganizationByID(ctx, u.OrganizationID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("account: load organization: %w", err)
	}
	return o.TraderType, nil
}

// openableClients returns the clients u may open, in name order.
func (h *Handler) openableClients(ctx context.Context, u storage.User) ([]storage.Client, error) {
	tt, err := h.traderType(ctx, u)
	if err != nil {
		return nil, err
	}
	all, err := h.Clients.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("account: list clients: %w", err)
	}
	out := slices.DeleteFunc(all, func(c storage.Client) bool { return !mayOpen(c, tt) })
	slices.SortFunc(out, func(a, b storage.Client) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, nil
}

// showApps answers GET /apps: "Your Apps" of the 2023 manual, with the
// 2011 manual's "SSO registered" mark for applications that offer linking.
func (h *Handler) showApps(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	ctx := r.Context()
	clients, err := h.openableClients(ctx, who.user)
	if err != nil {
		return err
	}
	links, err := h.Links.AppLinksOf(ctx, who.user.ID)
	if err != nil {
		return fmt.Errorf("account: list app links: %w", err)
	}
	linked := map[string]string{}
	for _, l := range links {
		linked[l.ClientID] = l.AppUsername
	}
	page := appsPage{Nav: nav("/apps"), Notice: notices[r.URL.Query().Get("done")]}
	orgs, err := h.userOrganizations(ctx, who.user)
	if err != nil {
		return err
	}
	var imgOrigins []string
	for _, c := range clients {
		v := appView{ID: c.ID, Name: c.Name, Description: c.Description, OffersLink: c.AccountLinkURL != "", DataURL: consentURL(c.ID)}
		v.LaunchURL = h.openURL(c)
		if u, ok := safeURL(c.LogoURL); ok {
			v.LogoURL = u.String()
			imgOrigins = append(imgOrigins, u.Scheme+"://"+u.Host)
		}
		if v.OffersLink {
			v.LinkURL = "/apps/" + url.PathEscape(c.ID) + "/link"
			v.UnlinkURL = "/apps/" + url.PathEscape(c.ID) + "/unlink"
			v.AppUsername, v.Linked = linked[c.ID]
		}
		if orgs != nil {
			if v.Orgs, err = h.chosenFor(ctx, who.user, c.ID, orgs); err != nil {
				return err
			}
			v.OrgsURL = "/apps/" + url.PathEscape(c.ID) + "/organization"
		}
		page.Apps = append(page.Apps, v)
	}
	allowImages(w, imgOrigins)
	return h.render.Render(w, r, http.StatusOK, "account_apps", page)
}

// allowImages widens the Content-Security-Policy of this response so the
// listed logos load, naming their exact origins (not "https:"). Each origin
// passed safeURL, so it holds no space, quote or semicolon to inject
// another directive.
func allowImages(w http.ResponseWriter, origins []string) {
	if len(origins) == 0 {
		return
	}
	slices.Sort(origins)
	origins = slices.Compact(origins)
	for _, o := range origins {
		if strings.ContainsAny(o, " ;,'\"") {
			return
		}
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	const img = "img-src 'self' data:"
	if !strings.Contains(csp, img) {
		return // a policy we do not know: keep it as it is
	}
	h.Set("Content-Security-Policy", strings.Replace(csp, img, img+" "+strings.Join(origins, " "), 1))
}

// openableClient returns client id if u may open it, ErrNotFound otherwise
// (also for unlisted clients: the page must not reveal which exist).
func (h *Handler) openableClient(ctx context.Context, u storage.User, id string) (storage.Client, error) {
	c, err := h.Clients.ClientByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, err
	}
	if err != nil {
		return storage.Client{}, fmt.Errorf("account: load client: %w", err)
	}
	tt, err := h.traderType(ctx, u)
	if err != nil {
		return storage.Client{}, err
	}
	if !mayOpen(c, tt) {
		return storage.Client{}, storage.ErrNotFound
	}
	return c, nil
}

// openURL is where "Open" sends the browser: the client's third-party
// login endpoint when it has one (OIDC Core §4), with iss so it knows which
// provider to ask and target_link_uri where to land, so the user arrives
// signed in; else its launch URL. Empty when neither is safe to render.
func (h *Handler) openURL(c storage.Client) string {
	launch, launchOK := safeURL(c.LaunchURL)
	initiate, ok := safeURL(c.InitiateLoginURI)
	if !ok || h.BaseURL == "" {
		if launchOK {
			return launch.String()
		}
		return ""
	}
	q := initiate.Query()
	q.Set("iss", h.BaseURL)
	if launchOK {
		q.Set("target_link_uri", launch.String())
	}
	initiate.RawQuery = q.Encode()
	return initiate.String()
}
