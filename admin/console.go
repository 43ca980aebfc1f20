// Package admin is the operators' side of satupintu: the console under
// /admin (server-rendered, Indonesian first, usable on a phone) and the
// JSON admin API under /admin/api/v1. Both call one Service, so an
// operation is checked, performed and audited the same way from a browser,
// a script or the CLI's rules.
package admin

import (
	"context"
	"errors"
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

// The narrow slices of storage the console reads besides the Service's.
type (
	RegistrationCounts interface {
		OpenRegistrationCounts(ctx context.Context) (map[storage.RegistrationStatus]int, error)
	}
)

// DefaultFreshAuth is how recent a sign-in must be for a sensitive action
// (a secret rotation, a role change, a key rotation).
const DefaultFreshAuth = 10 * time.Minute

// Console serves /admin. Set the fields, then call Mount once.
type Console struct {
	Service       *Service
	Registrations RegistrationCounts
	Stats         storage.AuditStats
	Audit         AuditLog
	Pages         *templates.Pages
	CSRF          *web.CSRF
	// Guard checks who is signed in; its Home should be "/admin" and its
	// ForbiddenKey "admin.forbidden".
	Guard *session.Guard
	// SessionCount, if set, counts the live sign-in sessions.
	SessionCount func(ctx context.Context) (int64, error)
	// FreshAuth bounds the age of the sign-in behind a sensitive action
	// (DefaultFreshAuth when zero).
	FreshAuth time.Duration
	Secure    bool // https: the language cookie is Secure
	Now       func() time.Time
	Logger    *slog.Logger

	once   sync.Once
	render *web.Renderer
	dash   dashboardCache
}

var pageNames = []string{"admin_home", "admin_clients", "admin_client", "admin_client_secret", "admin_users",
	"admin_user", "admin_orgs", "admin_org", "admin_keys", "admin_settings", "admin_audit", "error"}

// Mount registers every console route on mux, all of them here. It
// panics on a setup error, at start only.
func (c *Console) Mount(mux *http.ServeMux) {
	if err := c.init(); err != nil {
		panic(err)
	}
	page := func(pattern string, fn adminHandler) { mux.Handle(pattern, c.render.Handle(c.admin(fn, false))) }
	// Sensitive: the sign-in behind them must be recent.
	fresh := func(pattern string, fn adminHandler) { mux.Handle(pattern, c.render.Handle(c.admin(fn, true))) }

	page("GET /admin", c.showHome)
	page("GET /admin/clients", c.listClients)
	page("GET /admin/clients/new", c.newClient)
	// A new client may be an admin-API client, and an edit may issue a
	// secret (a change of authentication method): both are sensitive.
	fresh("POST /admin/clients", c.createClient)
	page("GET /admin/clients/{id}", c.showClient)
	fresh("POST /admin/clients/{id}", c.updateClient)
	fresh("POST /admin/clients/{id}/secret", c.rotateSecret)
	page("POST /admin/clients/{id}/delete", c.deleteClient)
	page("POST /admin/clients/{id}/disable", c.setClientDisabled(true))
	page("POST /admin/clients/{id}/enable", c.setClientDisabled(false))
	page("GET /admin/users", c.searchUsers)
	page("GET /admin/users/{id}", c.showUser)
	page("POST /admin/users/{id}/disable", c.userAction(c.disableUser))
	page("POST /admin/users/{id}/enable", c.userAction(c.enableUser))
	page("POST /admin/users/{id}/expiry", c.userAction(c.setExpiry))
	page("POST /admin/users/{id}/unlock", c.userAction(c.unlockUser))
	fresh("POST /admin/users/{id}/mfa-reset", c.userAction(c.resetMFA))
	page("POST /admin/users/{id}/password-reset", c.userAction(c.sendReset))
	page("POST /admin/users/{id}/sessions/end", c.userAction(c.endSessions))
	fresh("POST /admin/users/{id}/roles", c.userAction(c.setRole))
	page("GET /admin/organizations", c.searchOrgs)
	page("GET /admin/organizations/{id}", c.showOrg)
	page("POST /admin/organizations/{id}", c.correctOrg)
	page("GET /admin/settings", c.showSettings)
	page("POST /admin/settings", c.saveSettings)
	page("GET /admin/audit", c.showAudit)
	page("GET /admin/audit/export", c.exportAudit)
	page("GET /admin/keys", c.listKeys)
	fresh("POST /admin/keys/rotate", c.rotateKey)
}

func (c *Console) init() error {
	var err error
	c.once.Do(func() {
		switch {
		case c.Service == nil, c.Registrations == nil, c.Stats == nil, c.Audit == nil, c.Service.SettingsStore == nil, c.Service.Orgs == nil:
			err = errors.New("admin: Service (with SettingsStore and Orgs), Registrations, Stats and Audit are required")
			return
		case c.Pages == nil, c.CSRF == nil, c.Guard == nil:
			err = errors.New("admin: Pages, CSRF and Guard are required")
			return
		}
		for _, p := range pageNames {
			if !c.Pages.Has(p) {
				err = fmt.Errorf("admin: template %q missing", p)
				return
			}
		}
		if c.FreshAuth <= 0 {
			c.FreshAuth = DefaultFreshAuth
		}
		if c.Now == nil {
			c.Now = time.Now
		}
		if c.Logger == nil {
			c.Logger = slog.New(slog.DiscardHandler)
		}
		c.render = &web.Renderer{Pages: c.Pages, CSRF: c.CSRF, Logger: c.Logger, Secure: c.Secure}
	})
	return err
}

// operator is the signed-in admin a console request acts as.
type operator struct {
	User    storage.User
	Session storage.Session
	Actor   Actor
}

type adminHandler func(w http.ResponseWriter, r *http.Request, op operator) error

// admin runs fn for a signed-in admin whose session used a second factor;
// posts must carry the CSRF token, and with fresh the sign-in must be
// recent. Checked on every request, server-side (session.Guard): the
// console's links are no protection.
func (c *Console) admin(fn adminHandler, fresh bool) web.HandlerFunc {
	checks := []session.Middleware{c.Guard.RequireRole(storage.RoleAdmin), c.Guard.RequireSecondFactor, c.Guard.RequireSecondFactorUsed}
	if fresh {
		checks = append(checks, c.Guard.RequireFreshAuth(c.FreshAuth))
	}
	return session.Chain(func(w http.ResponseWriter, r *http.Request) error {
		web.NoStore(w)
		if r.Method == http.MethodPost {
			if err := c.CSRF.Verify(r); err != nil {
				return err
			}
		}
		who, _ := session.From(r.Context())
		return fn(w, r, operator{User: who.User, Session: who.Session, Actor: Actor{UserID: who.User.ID, IP: web.RemoteIP(r)}})
	}, checks...)
}

// problem turns an operation's error into what the console shows: a
// Problem's own message (validation text stays in the page data, never in
// the log as a secret), anything else the generic page.
func problem(err error) error {
	var p *Problem
	if errors.As(err, &p) {
		return &web.Error{Status: p.Status, MessageKey: p.Key, Err: err}
	}
	return err
}

// done redirects to to with a notice the page shows (one of notices).
func done(w http.ResponseWriter, r *http.Request, to, notice string) error {
	http.Redirect(w, r, to+"?ok="+notice, http.StatusSeeOther)
	return nil
}

// notices are the ?ok= values a page turns into a message; anything else
// shows nothing, so a link cannot make the console say what it likes.
var notices = map[string]string{
	"saved": "admin.notice.saved", "deleted": "admin.notice.deleted", "disabled": "admin.notice.disabled",
	"enabled": "admin.notice.enabled", "expiry": "admin.notice.expiry", "unlocked": "admin.notice.unlocked",
	"mfa": "admin.notice.mfa_reset", "reset": "admin.notice.reset_sent", "sessions": "admin.notice.sessions_ended",
	"role": "admin.notice.role", "client_disabled": "admin.notice.client_disabled", "client_enabled": "admin.notice.client_enabled", "rotated": "admin.notice.key_rotated",
}

func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("ok")] }

// when formats t for a page in Jakarta time; "—" for zero.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(wib).Format("2006-01-02 15:04 WIB")
}

var wib = time.FixedZone("WIB", 7*3600)

// nav is the console's menu; current marks the page's entry.
type navItem struct {
	Href, Key string
	Current   bool
}

func nav(current string) []navItem {
	items := []navItem{
		{Href: "/admin", Key: "admin.nav.home"},
		{Href: "/admin/clients", Key: "admin.nav.clients"},
		{Href: "/admin/users", Key: "admin.nav.users"},
		{Href: "/admin/organizations", Key: "admin.nav.orgs"},
		{Href: "/officer", Key: "admin.nav.registrations"},
		{Href: "/admin/keys", Key: "admin.nav.keys"},
		{Href: "/admin/settings", Key: "admin.nav.settings"},
		{Href: "/admin/audit", Key: "admin.nav.audit"},
	}
	for i := range items {
		items[i].Current = items[i].Href == current
	}
	return items
}
