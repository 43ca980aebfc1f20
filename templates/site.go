package templates

import (
	"context"
	"sync/atomic"
)

// Site is what operators edit rather than the catalogs (storage.Settings,
// which this package does not import), resolved to one page's language:
// the service name and the banner in the layout, the Contact and Help
// Centers' details. Every string is rendered escaped, like any data.
type Site struct {
	Name                         string
	Email, Phone, Hours, Address string // the Contact Center; empty lines are left out
	FAQ                          []FAQ
	Links                        []Link
	Banner                       string // the announcement; empty: none
}

// FAQ is one question of the Help Center.
type FAQ struct{ Question, Answer string }

// Link is a Help Center link to a guide or a video ("guide", "video").
type Link struct{ Title, URL, Kind string }

// SiteSource gives the Site of a page in lang. It is called for every
// page, so it must answer from memory (a node's cache) when it can.
type SiteSource interface {
	Site(ctx context.Context, lang string) (*Site, error)
}

// siteSource boxes the source for the atomic pointer.
type siteSource struct{ SiteSource }

// UseSite makes every renderer of these pages (web.Renderer) read the Site
// from src. The pages are shared by every feature, so this is the one
// place the setting reaches them all; call it while wiring, before serving.
func (p *Pages) UseSite(src SiteSource) {
	p.site.Store(&siteSource{src})
}

// Site returns the Site for lang from the source UseSite set; nil and no
// error without one.
func (p *Pages) Site(ctx context.Context, lang string) (*Site, error) {
	src := p.site.Load()
	if src == nil {
		return nil, nil
	}
	return src.Site(ctx, lang)
}

// siteHolder is the Pages field UseSite sets.
type siteHolder = atomic.Pointer[siteSource]
