package upstream

import (
	"net/http"
	"time"
)

// What this package adds to other packages' pages (web.Renderer.Extras),
// read by the partials in templates/html/_upstream.html.

// button is one "Sign in with <Label>" on the sign-in page.
type button struct {
	ID, Label, Logo string
}

// signInExtra is the sign-in page's part.
type signInExtra struct {
	Buttons []button
	// Linking names the upstream whose identity the next sign-in links.
	Linking string
}

// linkView is one linked identity on the security page.
type linkView struct {
	Provider, Subject, Label string
	Since                    string
}

// securityExtra is the security (/mfa) page's part.
type securityExtra struct {
	Links    []linkView
	Unlinked bool
}

// Extras returns this package's data for page; cmd/satupintu hands it to
// the login package (login.Handler.PageExtras).
func (h *Handler) Extras(r *http.Request, page string) map[string]any {
	if err := h.init(); err != nil || len(h.Providers) == 0 {
		return nil
	}
	switch page {
	case "login":
		x := signInExtra{}
		for _, p := range h.Providers {
			x.Buttons = append(x.Buttons, button{ID: p.ID, Label: p.Label, Logo: h.remotes[p.ID].logoURL()})
		}
		if _, p, m, ok, err := h.loadPending(r); err == nil && ok && p.Confirmed {
			x.Linking = m.p.Label
		}
		return map[string]any{"upstream": x}
	case "mfa":
		u, ok := h.CurrentUser(r)
		if !ok {
			return nil
		}
		links, err := h.Links.UpstreamLinksOf(r.Context(), u.ID)
		if err != nil {
			// The page still shows two-step verification; the section is
			// left out, and the log says why.
			h.Logger.ErrorContext(r.Context(), "list upstream links", "user_id", u.ID, "error", err)
			return nil
		}
		x := securityExtra{Unlinked: r.URL.Query().Get("upstream") == "unlinked"}
		for _, l := range links {
			label := l.UpstreamID // a provider removed from the configuration keeps its id
			if m, ok := h.provider(l.UpstreamID); ok {
				label = m.p.Label
			}
			x.Links = append(x.Links, linkView{Provider: l.UpstreamID, Subject: l.Subject, Label: label,
				Since: l.CreatedAt.In(wib()).Format("02-01-2006 15:04 MST")})
		}
		return map[string]any{"upstream": x}
	}
	return nil
}

// wib is Asia/Jakarta time (UTC+7, no daylight saving), as the other pages
// show times.
func wib() *time.Location { return time.FixedZone("WIB", 7*60*60) }
