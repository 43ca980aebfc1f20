// Package privacy serves each person's rights over their data under
// Indonesia's personal data protection law (UU 27/2022, Pelindungan Data
// Pribadi): the notice of what is collected, why and for how long; the
// download of everything satupintu holds about the signed-in person; the
// request to delete the account, which an officer decides; and the
// retention job that deletes registrations once their period is over.
package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"satupintu/session"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses.
type (
	Store interface {
		storage.Privacy
		UserByID(ctx context.Context, id string) (storage.User, error)
		OrganizationByID(ctx context.Context, id string) (storage.Organization, error)
		MembershipsOf(ctx context.Context, userID string) ([]storage.Membership, error)
		Membership(ctx context.Context, orgID, userID string) (storage.Membership, error)
		ClientByID(ctx context.Context, id string) (storage.Client, error)
		AppLinksOf(ctx context.Context, userID string) ([]storage.AppLink, error)
		UserRefreshTokens(ctx context.Context, userID string, now time.Time) ([]storage.RefreshToken, error)
		PasskeysOf(ctx context.Context, userID string) ([]storage.Passkey, error)
		UpstreamLinksOf(ctx context.Context, userID string) ([]storage.UpstreamLink, error)
		RegistrationEvents(ctx context.Context, id string) ([]storage.RegistrationEvent, error)
		DocumentByID(ctx context.Context, id string) (storage.Document, error)
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
	Sessions interface {
		UserSessions(ctx context.Context, userID string) ([]storage.Session, error)
		DeleteUserSessions(ctx context.Context, userID string) error
	}
)

// Retention is how long registrations and their documents are kept; the
// notice page states it and the retention job applies it. Zero keeps
// forever.
type Retention struct {
	// Closed: registrations rejected, or waiting for a revision that never
	// came, counted from their last change.
	Closed time.Duration
	// Documents: the letters of approved registrations (the registration
	// itself stays: it is the record of how the account came to be).
	Documents time.Duration
}

// DefaultRetention: six months for a registration that led nowhere (time
// to appeal or try again), five years for an approved one's letter (the
// usual period for keeping trade records).
var DefaultRetention = Retention{Closed: 180 * 24 * time.Hour, Documents: 5 * 365 * 24 * time.Hour}

// Handler serves the privacy pages. Set the fields, then call Mount once.
type Handler struct {
	Store     Store
	Sessions  Sessions
	Pages     *templates.Pages
	CSRF      *web.CSRF
	Retention Retention
	// CurrentUser is the signed-in person (session.Manager.CurrentUser).
	CurrentUser func(r *http.Request) (storage.User, bool)
	// Guard, if set, runs the pages' checks (the server's shared guard);
	// nil: one over CurrentUser.
	Guard *session.Guard
	// CheckPassword verifies the person's own password in the login
	// package's bounded verification slots.
	CheckPassword func(ctx context.Context, u storage.User, secret string) (bool, error)
	// OnSessionEnd, if set, is called for each session a deletion ends,
	// with the record as it was (op's back-channel logout to its apps).
	OnSessionEnd func(ctx context.Context, s storage.Session)
	Secure       bool // https: the language cookie is Secure
	Now          func() time.Time
	Logger       *slog.Logger

	once   sync.Once
	render *web.Renderer
	guard  *session.Guard
	forms  *web.Forms
}

var pageNames = []string{"privacy_notice", "privacy_data", "privacy_officer", "privacy_correction", "privacy_corrections", "error"}

// Mount registers the routes on mux, all of them here. It panics on a
// setup error, at start only.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	handle("GET /privacy", h.showNotice)
	handle("GET /account/data", h.signedIn(h.showData))
	handle("GET /account/data/export", h.signedIn(h.export))
	handle("POST /account/data/delete", h.signedInForm(h.requestDeletion))
	handle("GET /officer/deletions", h.officer(h.showQueue))
	handle("POST /officer/deletions/{id}", h.officerForm(h.decide))
	handle("GET /account/company-correction", h.signedIn(h.showCorrection))
	handle("POST /account/company-correction", h.signedInForm(h.requestCorrection))
	handle("GET /officer/corrections", h.officer(h.showCorrections))
	handle("POST /officer/corrections/{id}", h.officerForm(h.decideCorrection))
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() {
		switch {
		case h.Store == nil, h.Sessions == nil:
			err = fmt.Errorf("privacy: a storage dependency is nil")
			return
		case h.Pages == nil, h.CSRF == nil, h.CurrentUser == nil, h.CheckPassword == nil:
			err = fmt.Errorf("privacy: Pages, CSRF, CurrentUser and CheckPassword are required")
			return
		}
		for _, p := range pageNames {
			if !h.Pages.Has(p) {
				err = fmt.Errorf("privacy: template %q missing", p)
				return
			}
		}
		if h.Now == nil {
			h.Now = time.Now
		}
		if h.Logger == nil {
			h.Logger = slog.New(slog.DiscardHandler)
		}
		h.render = &web.Renderer{Pages: h.Pages, CSRF: h.CSRF, Logger: h.Logger, Secure: h.Secure}
		var g session.Guard
		if h.Guard != nil {
			g = *h.Guard
		} else {
			g.Current = func(r *http.Request) (storage.Session, storage.User, bool) {
				u, ok := h.CurrentUser(r)
				return storage.Session{}, u, ok
			}
			g.Now = h.Now
		}
		g.ForbiddenKey = "officer.forbidden" // the only role these pages check
		h.guard = &g
		h.forms = &web.Forms{CSRF: h.CSRF, Audit: h.Store, Now: h.Now, Logger: h.Logger}
	})
	return err
}

type userHandler func(w http.ResponseWriter, r *http.Request, u storage.User) error

// signedIn runs fn for the signed-in person, or sends the browser to sign
// in first (session.Guard.RequireUser).
func (h *Handler) signedIn(fn userHandler) web.HandlerFunc {
	return h.guard.RequireUser(asUser(fn))
}

// officer runs fn for a signed-in officer; anyone else signed in gets 403
// (session.Guard.RequireRole).
func (h *Handler) officer(fn userHandler) web.HandlerFunc {
	return h.guard.RequireRole(storage.RoleOfficer)(asUser(fn))
}

// userForm is a form action for a signed-in user (web.Forms.Action).
type userForm func(w http.ResponseWriter, r *http.Request, u storage.User) (web.Done, error)

// signedInForm is signedIn for a form: parsed, CSRF-checked, audited and
// answered with a redirect by web.Forms.
func (h *Handler) signedInForm(fn userForm) web.HandlerFunc {
	return h.guard.RequireUser(h.forms.Action(asUserForm(fn)))
}

// officerForm is officer for a form.
func (h *Handler) officerForm(fn userForm) web.HandlerFunc {
	return h.guard.RequireRole(storage.RoleOfficer)(h.forms.Action(asUserForm(fn)))
}

func asUserForm(fn userForm) web.FormFunc {
	return func(w http.ResponseWriter, r *http.Request) (web.Done, error) {
		who, _ := session.From(r.Context())
		web.NoStore(w)
		return fn(w, r, who.User)
	}
}

// asUser hands fn the user the guard found; the pages are the person's own
// data, never stored by a cache.
func asUser(fn userHandler) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		who, _ := session.From(r.Context())
		web.NoStore(w)
		return fn(w, r, who.User)
	}
}

// audit appends e, filling time and address; a failing audit log is
// logged, the action stands.
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) { h.forms.Record(r, e) }

// noticePage is the data of the "privacy_notice" page.
type noticePage struct {
	ClosedDays     int // 0: kept
	DocumentsYears int
}

// showNotice answers GET /privacy: what is collected, why and how long.
func (h *Handler) showNotice(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "privacy_notice", noticePage{
		ClosedDays:     int(h.Retention.Closed / (24 * time.Hour)),
		DocumentsYears: int(h.Retention.Documents / (365 * 24 * time.Hour)),
	})
}
