// Package device is the user's side of the OAuth 2.0 Device Authorization
// Grant (RFC 8628): the page where a person signed in to satupintu enters
// the code a command-line tool or a kiosk shows, sees which application
// asks for what, and allows or denies it.
//
// It never builds tokens: it records the decision on the stored device
// authorization, and op answers the device's next poll. It never reads the
// session cookie either: the login package says who is signed in
// (CurrentSession) and brings the browser back after a sign-in.
package device

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses (STYLE.md).
type (
	Authorizations interface {
		DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (storage.DeviceAuthorization, error)
		UpdateDeviceAuthorization(ctx context.Context, id string, fn func(*storage.DeviceAuthorization) error) error
	}
	Clients interface {
		ClientByID(ctx context.Context, id string) (storage.Client, error)
	}
	Counters interface {
		Incr(ctx context.Context, key string, window time.Duration) (int64, error)
		Count(ctx context.Context, key string) (int64, error)
		IncrChain(ctx context.Context, steps []storage.CountStep) ([]int64, error)
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
)

// DefaultWrongCodeLimit bounds wrong user codes: ten per address (an IPv6
// client's /64) and ten per account in 15 minutes, so that guessing one of
// the 20^8 codes alive for 10 minutes is hopeless. Only wrong codes count.
var DefaultWrongCodeLimit = quota.Limit{Name: "device-code", PerAddress: 10, Window: 15 * time.Minute}

// Path is the user-code page, the verification_uri op hands the device.
const Path = "/device"

// Handler serves the user-code pages. Set the fields, then call Mount once.
type Handler struct {
	Authorizations Authorizations
	Clients        Clients
	Counters       Counters // wrong-code counts
	Audit          Audit
	// Memberships and Organizations, if both set, let a member of several
	// companies choose the one the application receives (organization.go).
	Memberships   Memberships
	Organizations Organizations
	Pages         *templates.Pages
	CSRF          *web.CSRF
	// CurrentSession returns r's single sign-on session and its user; from
	// the login package, which owns the session cookie.
	CurrentSession func(r *http.Request) (storage.Session, storage.User, bool)
	// SignIn sends the browser to sign in and, after, back to path
	// (login.Handler.SignInAndReturn).
	SignIn func(w http.ResponseWriter, r *http.Request, path string)
	// WrongCodeLimit bounds wrong codes per address and per account;
	// DefaultWrongCodeLimit if zero.
	WrongCodeLimit quota.Limit
	Secure         bool
	Now            func() time.Time
	Logger         *slog.Logger

	once   sync.Once
	render *web.Renderer
}

var pageNames = []string{"device", "device_confirm", "device_done", "error"}

// Mount registers the routes on mux. It panics on a setup error, at start
// only, as ServeMux does for conflicting patterns.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	handle("GET "+Path, h.showCode)
	handle("POST "+Path, h.submitCode)
	handle("POST "+Path+"/decide", h.decide)
	handle("GET "+Path+"/done", h.showDone)
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() {
		switch {
		case h.Authorizations == nil, h.Clients == nil, h.Counters == nil, h.Audit == nil:
			err = fmt.Errorf("device: a storage dependency is nil")
			return
		case h.Pages == nil, h.CSRF == nil, h.CurrentSession == nil, h.SignIn == nil:
			err = fmt.Errorf("device: Pages, CSRF, CurrentSession and SignIn are required")
			return
		}
		for _, p := range pageNames {
			if !h.Pages.Has(p) {
				err = fmt.Errorf("device: template %q missing", p)
				return
			}
		}
		if h.WrongCodeLimit == (quota.Limit{}) {
			h.WrongCodeLimit = DefaultWrongCodeLimit
		}
		if h.Now == nil {
			h.Now = time.Now
		}
		if h.Logger == nil {
			h.Logger = slog.New(slog.DiscardHandler)
		}
		h.render = &web.Renderer{Pages: h.Pages, CSRF: h.CSRF, Logger: h.Logger, Secure: h.Secure}
	})
	return err
}

// audit appends e, filling time and IP; a failing audit log is logged
// loudly but does not undo the user's decision.
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	if err := h.Audit.AppendAudit(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}

// audited returns the request's context carrying e, time and IP filled as
// audit does, for the one durable write e records: the store appends e in
// that write's transaction. Pass it to that write only.
func (h *Handler) audited(r *http.Request, e storage.AuditEvent) context.Context {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	return storage.WithAudit(r.Context(), e)
}

// redirect answers a form POST with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	web.NoStore(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
