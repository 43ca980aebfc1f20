// Package account is the signed-in trader's own pages, as the 2011 portal and
// the 2023 manual show them: "Your Apps" (the connected applications, each
// opened through single sign-on), linking an existing application account
// ("Create SSO"), the profile with the company and user data, the active
// sessions, and the Help Center and Contact Center.
//
// It never builds tokens and never reads the session cookie itself: the
// login package says who is signed in (CurrentSession), and op releases the
// linked application username as a claim.
package account

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"satupintu/mail"
	"satupintu/quota"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses (STYLE.md: consumers
// declare what they need).
type (
	Users interface {
		UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
		UserByID(ctx context.Context, id string) (storage.User, error)
		UserByLogin(ctx context.Context, login string) (storage.User, error)
	}
	// RefreshTokens revokes a removed member's grants.
	RefreshTokens interface {
		RevokeUserRefreshTokens(ctx context.Context, userID string) error
	}
	// Mailer queues one message for delivery (jobs.Outbox; a nil tx: on
	// its own, not in a storage transaction).
	Mailer interface {
		Mail(ctx context.Context, tx storage.Tx, m mail.Message) error
	}
	Organizations interface {
		OrganizationByID(ctx context.Context, id string) (storage.Organization, error)
	}
	Clients interface {
		ClientByID(ctx context.Context, id string) (storage.Client, error)
		ListClients(ctx context.Context) ([]storage.Client, error)
	}
	Sessions interface {
		UserSessions(ctx context.Context, userID string) ([]storage.Session, error)
		DeleteSession(ctx context.Context, id string) error
	}
	Counters interface {
		Incr(ctx context.Context, key string, window time.Duration) (int64, error)
		IncrChain(ctx context.Context, steps []storage.CountStep) ([]int64, error)
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
)

// Problem is why a submitted value was refused: a catalog key and the fmt
// arguments of its message.
type Problem struct {
	Key  string
	Args []any
}

// Check normalizes one submitted value or says what is wrong with it. The
// validators live in the registration package; cmd/satupintu adapts them,
// since sibling packages do not import each other.
type Check func(s string) (string, *Problem)

// Handler serves the account pages. Set the fields, then call Mount once.
type Handler struct {
	Users         Users
	Organizations Organizations
	Clients       Clients
	Links         storage.AppLinks
	Grants        Grants       // the user's live grants (consent.go)
	AccessTokens  AccessTokens // ended with a withdrawn grant
	Sessions      Sessions
	Counters      Counters // limits account-link attempts
	Audit         Audit
	Pages         *templates.Pages
	CSRF          *web.CSRF
	// CurrentSession returns r's single sign-on session and its user
	// (session.Manager.CurrentSession).
	CurrentSession func(r *http.Request) (storage.Session, storage.User, bool)
	// Guard, if set, runs the checks of the account pages (the server's
	// shared guard, which brings the browser back after signing in); nil:
	// one over CurrentSession that sends the browser to plain sign-in.
	Guard *session.Guard
	// Linker calls the applications' account-verification endpoints.
	Linker *Linker
	// CheckName, CheckPhone and CheckPosition validate the profile fields
	// a user may change (registration.Name and registration.Phone, adapted).
	CheckName, CheckPhone, CheckPosition Check
	// EmailChange lets a user move the account to another address
	// (email.go); nil: the address is shown, not changed.
	EmailChange *EmailChange
	// OnSessionEnd, if set, is called after a session was ended from the
	// sessions page, with the record as it was, as login's is at logout.
	OnSessionEnd func(ctx context.Context, s storage.Session)

	// The company pages and invitations (company.go, invitation.go); they
	// are mounted only when Memberships is set.
	Memberships   Memberships
	Invitations   storage.Invitations
	RefreshTokens RefreshTokens
	Mail          Mailer
	// BaseURL is the issuer, for links in mails.
	BaseURL string
	// NewUsername picks a free username for an invited person's email
	// (registration.FreeUsername, adapted); CheckName validates their name.
	NewUsername func(ctx context.Context, email string) (string, error)
	// InviteNeedsOfficer makes an account created by an accepted
	// invitation start disabled, for an officer to enable (default off).
	InviteNeedsOfficer bool
	// AcceptLimit bounds anonymous invitation acceptances; zero takes
	// DefaultAcceptLimit.
	AcceptLimit quota.Limit
	// The organization chooser after sign-in (chooser.go): the pending
	// request, and op's callback to go on to. Mounted when both are set.
	AuthRequests AuthRequests
	CallbackURL  func(ctx context.Context, authRequestID string) string

	Secure bool // https: cookies are Secure
	Now    func() time.Time
	Logger *slog.Logger

	once   sync.Once
	render *web.Renderer
	guard  *session.Guard
	forms  *web.Forms
}

// pageNames are the templates this package renders; a missing one is a
// start-up error.
var pageNames = []string{"account_apps", "account_consent", "account_email", "account_link", "account_profile", "account_sessions", "help", "contact", "error"}

// companyPageNames are the company feature's templates.
var companyPageNames = []string{"account_company", "invitation", "invitation_invalid", "invitation_done", "organization_choose"}

// Mount registers the routes on mux. It panics on a setup error, at start
// only, as ServeMux does for conflicting patterns.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	// user is a page for the signed-in user only: anyone else is sent to
	// sign in before the handler runs.
	user := func(pattern string, fn web.HandlerFunc) { handle(pattern, h.guard.RequireUser(fn)) }
	// userForm is a signed-in user's form: parsed, CSRF-checked, audited
	// and answered with a redirect by web.Forms.
	userForm := func(pattern string, fn web.FormFunc) { user(pattern, h.forms.Action(fn)) }
	user("GET /apps", h.showApps)
	user("GET /apps/{client}/link", h.showLink)
	user("POST /apps/{client}/link", h.submitLink)
	userForm("POST /apps/{client}/unlink", h.submitUnlink)
	user("GET /apps/{client}/data", h.showConsent)
	user("POST /apps/{client}/withdraw", h.withdrawConsent)
	user("GET /profile", h.showProfile)
	user("POST /profile", h.submitProfile)
	if h.EmailChange != nil {
		user("GET /profile/email", h.showEmail)
		user("POST /profile/email", h.startEmailChange)
		user("POST /profile/email/confirm", h.confirmEmailChange)
	}
	user("GET /sessions", h.showSessions)
	userForm("POST /sessions/{handle}/end", h.endSession)
	userForm("POST /sessions/end-others", h.endOtherSessions)
	handle("GET /help", h.showHelp)
	handle("GET /contact", h.showContact)
	if h.Memberships != nil {
		user("GET /company", h.showCompany)
		user("POST /company/{org}/invitations", h.invite)
		user("POST /company/{org}/invitations/{id}/resend", h.resendInvitation)
		user("POST /company/{org}/invitations/{id}/cancel", h.cancelInvitation)
		user("POST /company/{org}/members/{user}/remove", h.removeMember)
		user("POST /company/{org}/members/{user}/make-admin", h.transferAdmin)
		user("POST /company/{org}/members/{user}/role", h.setRole)
		user("POST /company/{org}/members/{user}/confirm", h.confirmMember)
		handle("GET /invitation", h.showInvitation)
		handle("POST /invitation", h.acceptInvitation)
		user("POST /apps/{client}/organization", h.chooseAppOrganization)
		if h.AuthRequests != nil {
			user("GET /organization", h.showChooser)
			user("POST /organization", h.submitChooser)
		}
	}
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() {
		switch {
		case h.Users == nil, h.Organizations == nil, h.Clients == nil, h.Links == nil,
			h.Grants == nil, h.AccessTokens == nil, h.Sessions == nil, h.Counters == nil, h.Audit == nil:
			err = fmt.Errorf("account: a storage dependency is nil")
			return
		case h.Pages == nil, h.CSRF == nil, h.CurrentSession == nil, h.Linker == nil,
			h.CheckName == nil, h.CheckPhone == nil, h.CheckPosition == nil:
			err = fmt.Errorf("account: Pages, CSRF, CurrentSession, Linker and the field checks are required")
			return
		}
		names := pageNames
		if h.Memberships != nil {
			if h.Invitations == nil || h.RefreshTokens == nil || h.Mail == nil || h.BaseURL == "" ||
				h.NewUsername == nil || h.CheckName == nil {
				err = fmt.Errorf("account: the company pages need Invitations, RefreshTokens, Mail, BaseURL, NewUsername and CheckName")
				return
			}
			names = append(names, companyPageNames...)
			if (h.AuthRequests == nil) != (h.CallbackURL == nil) {
				err = fmt.Errorf("account: the organization chooser needs both AuthRequests and CallbackURL")
				return
			}
			if h.AcceptLimit == (quota.Limit{}) {
				h.AcceptLimit = DefaultAcceptLimit
			}
		}
		for _, p := range names {
			if !h.Pages.Has(p) {
				err = fmt.Errorf("account: template %q missing", p)
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
		h.forms = &web.Forms{CSRF: h.CSRF, Audit: h.Audit, Now: h.Now, Logger: h.Logger}
		h.guard = h.Guard
		if h.guard == nil {
			h.guard = &session.Guard{Current: h.CurrentSession, Now: h.Now}
		}
	})
	return err
}

// signedIn is who is asking: the session and its user.
type signedIn struct {
	session storage.Session
	user    storage.User
}

// signedFrom is who is asking, as the guard in front of every account page
// found (session.Guard.RequireUser, in Mount): every account page is the
// user's own data, checked on the server for each request (ASVS 8.3.1).
func signedFrom(r *http.Request) signedIn {
	who, _ := session.From(r.Context())
	return signedIn{session: who.Session, user: who.User}
}

// verifyPost parses a state-changing form and checks its CSRF token
// (ASVS 3.5.1). Verify parses the form first (web.ParseForm), so a body
// over the limit is a 413 page and one that is no proper form a 400 page.
func (h *Handler) verifyPost(r *http.Request) error {
	return h.CSRF.Verify(r)
}

// audit appends e, filling time and IP (web.Forms.Record).
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) { h.forms.Record(r, e) }

// redirect answers a form POST with 303 See Other, so the next request is a
// GET without the form.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	web.NoStore(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// navItem is one entry of the account menu.
type navItem struct {
	Href, Key string
	Current   bool
}

// navItems is the account menu shown on every account page; "Security"
// leads to the profile's section with the MFA and password links.
var navItems = []navItem{
	{Href: "/apps", Key: "account.nav.apps"},
	{Href: "/profile", Key: "account.nav.profile"},
	{Href: "/company", Key: "account.nav.company"},
	{Href: "/sessions", Key: "account.nav.sessions"},
	{Href: "/profile#security", Key: "account.nav.security"},
	{Href: "/account/data", Key: "privacy.data.title"}, // package privacy
	{Href: "/help", Key: "account.nav.help"},
	{Href: "/contact", Key: "account.nav.contact"},
}

// nav returns the menu with current marked (aria-current).
func nav(current string) []navItem {
	items := make([]navItem, len(navItems))
	copy(items, navItems)
	for i := range items {
		items[i].Current = items[i].Href == current
	}
	return items
}

// jakarta is WIB, UTC+7: the time traders read (no daylight saving time).
var jakarta = time.FixedZone("WIB", 7*60*60)

// timeLayout reads the same in both languages, and WIB says which clock,
// as the registration pages show times.
const timeLayout = "2006-01-02 15:04 MST"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(jakarta).Format(timeLayout)
}
