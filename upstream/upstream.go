// Package upstream lets people sign in with an upstream OpenID provider:
// Indonesia's national digital identity (INApas) or any other provider
// that speaks the OIDC code flow, as configured by the operator.
//
// satupintu is the relying party here, through zitadel/oidc's rp package:
// code flow with PKCE (S256), state bound to the browser by a cookie, and a
// nonce; the ID token is verified as OIDC Core §3.1.3.7 requires. An
// upstream identity (provider, sub) signs in as the satupintu user it is
// linked to (storage.UpstreamLinks). A link is made only when the person
// proves the satupintu account in the same browser (its password, and its
// second factor if it has one), or when a registration that the identity
// started is approved: never by a matching email address or name.
package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses.
type (
	Links interface {
		CreateUpstreamLink(ctx context.Context, l storage.UpstreamLink) error
		UpstreamLink(ctx context.Context, upstreamID, subject string) (storage.UpstreamLink, error)
		UpstreamLinksOf(ctx context.Context, userID string) ([]storage.UpstreamLink, error)
		TouchUpstreamLink(ctx context.Context, upstreamID, subject string, at time.Time) error
		DeleteUpstreamLink(ctx context.Context, userID, upstreamID, subject string) error
	}
	Users interface {
		UserByID(ctx context.Context, id string) (storage.User, error)
	}
	AuthRequests interface {
		AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error)
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
)

// Identity is an upstream identity not linked to any account, as the
// registration wizard receives it to prefill.
type Identity struct {
	ProviderID string
	Subject    string
	Label      string // the provider's label: "verified by <Label>"
	Name       string // the name claim
	NIK        string // the provider's NIK claim
}

// DefaultLimit bounds new upstream sign-ins per client address: each
// stores a pending flow (about 300 bytes, flowTTL) and, after the upstream
// answered, at most one pending identity (pendingTTL). The window is at
// least as long as both live.
var DefaultLimit = quota.Limit{Name: "upstream", PerAddress: 30, Total: 20_000, Window: pendingTTL}

// Handler serves the upstream sign-in, the linking page and unlinking. Set
// the fields, then call Mount once.
type Handler struct {
	Providers []Provider // validated (ReadFile or Validate)
	Links     Links
	Users     Users
	Requests  AuthRequests
	Drafts    storage.Drafts // pending flows and identities, with TTLs
	Counters  quota.Counter
	Limit     quota.Limit // new flows per address (DefaultLimit if zero)
	Audit     Audit
	Pages     *templates.Pages
	CSRF      *web.CSRF
	Cookies   *securecookie.SecureCookie
	// BaseURL is satupintu's issuer; the redirect URI registered at every
	// upstream is BaseURL + "/upstream/callback".
	BaseURL string
	Secure  bool
	// SignIn signs the linked user in (login.Handler.SignInExternal).
	SignIn func(w http.ResponseWriter, r *http.Request, u storage.User, authRequestID string, amr []string, method string) error
	// CurrentUser is r's signed-in user, for the security page.
	CurrentUser func(r *http.Request) (storage.User, bool)
	// Register starts a registration prefilled from an unlinked identity
	// (registration.Handler.StartPrefilled); nil: not offered.
	Register func(w http.ResponseWriter, r *http.Request, id Identity) error
	// HTTPClient calls the upstreams (http.DefaultClient if nil).
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger

	once    sync.Once
	render  *web.Renderer
	remotes map[string]*remote
}

// Pages of this package, checked at start.
const (
	pageLink    = "upstream_link"
	pageProblem = "upstream_problem"
)

// Mount registers the routes on mux; it panics on a setup error, at start.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	handle("POST /upstream/{provider}/start", h.startSignIn)
	handle("GET /upstream/callback", h.callback)
	handle("GET /upstream/link", h.showLink)
	handle("POST /upstream/link", h.confirmLink)
	handle("POST /upstream/register", h.register)
	handle("POST /upstream/cancel", h.cancel)
	handle("POST /upstream/unlink", h.unlink)
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() { err = h.setup() })
	return err
}

func (h *Handler) setup() error {
	switch {
	case h.Links == nil, h.Users == nil, h.Requests == nil, h.Drafts == nil, h.Counters == nil, h.Audit == nil:
		return fmt.Errorf("upstream: a storage dependency is nil")
	case h.Pages == nil, h.CSRF == nil, h.Cookies == nil, h.SignIn == nil, h.CurrentUser == nil, h.BaseURL == "":
		return fmt.Errorf("upstream: Pages, CSRF, Cookies, SignIn, CurrentUser and BaseURL are required")
	}
	for _, p := range []string{pageLink, pageProblem} {
		if !h.Pages.Has(p) {
			return fmt.Errorf("upstream: template %q missing", p)
		}
	}
	if h.Limit == (quota.Limit{}) {
		h.Limit = DefaultLimit
	}
	if h.HTTPClient == nil {
		h.HTTPClient = http.DefaultClient
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.render = &web.Renderer{Pages: h.Pages, CSRF: h.CSRF, Logger: h.Logger, Secure: h.Secure}
	h.remotes = make(map[string]*remote, len(h.Providers))
	for _, p := range h.Providers {
		h.remotes[p.ID] = &remote{p: p, redirectURI: h.BaseURL + callbackPath, httpClient: h.HTTPClient, now: h.Now}
	}
	return nil
}

const callbackPath = "/upstream/callback"

// Warm runs each provider's discovery and fetches its logo once, so the
// first sign-in does not wait for them. Failures are only logged: a
// provider that is down is tried again when someone uses it. Run it in
// its own goroutine; it returns when done or when ctx ends.
func (h *Handler) Warm(ctx context.Context) {
	if err := h.init(); err != nil {
		return
	}
	for _, p := range h.Providers {
		if ctx.Err() != nil {
			return // shutting down: nothing to warm, nothing worth logging
		}
		m := h.remotes[p.ID]
		if _, err := m.relyingParty(ctx); err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "upstream provider not reachable yet", "upstream", p.ID, "error", err)
		}
		if err := m.fetchLogo(ctx); err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "upstream logo not loaded", "upstream", p.ID, "error", err)
		}
	}
}

// provider returns the configured provider id.
func (h *Handler) provider(id string) (*remote, bool) {
	m, ok := h.remotes[id]
	return m, ok
}

// audit appends e, filling time and IP; a failing audit log is logged
// loudly but does not undo what already happened.
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	if err := h.Audit.AppendAudit(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}

// cookieName adds the __Host- prefix under https (Secure, Path=/, no
// Domain: no subdomain can plant a flow or a pending identity).
func (h *Handler) cookieName(name string) string {
	if h.Secure {
		return "__Host-" + name
	}
	return name
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) error {
	v, maxAge := "", -1 // ttl <= 0 deletes the cookie
	if ttl > 0 {
		var err error
		if v, err = h.Cookies.Encode(h.cookieName(name), value); err != nil {
			return fmt.Errorf("upstream: encode cookie: %w", err)
		}
		maxAge = max(int(ttl/time.Second), 1)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(name), Value: v, Path: "/", MaxAge: maxAge,
		Secure: h.Secure, HttpOnly: true,
		// Lax: the callback is a top-level GET from the upstream's origin.
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (h *Handler) readCookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(h.cookieName(name))
	if err != nil {
		return "", false
	}
	var v string
	if err := h.Cookies.Decode(h.cookieName(name), c.Value, &v); err != nil || v == "" || len(v) > 64 {
		return "", false
	}
	return v, true
}

// redirect answers with 303, never 307 (a form must not be re-posted).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	web.NoStore(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
