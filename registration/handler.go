package registration

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/captcha"
	"satupintu/mail"
	"satupintu/quota"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/web"
)

// The narrow slices of storage this package uses.
type (
	Users interface {
		UserByLogin(ctx context.Context, login string) (storage.User, error)
		UserByID(ctx context.Context, id string) (storage.User, error)
		UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
	}
	Organizations interface {
		OrganizationByNIB(ctx context.Context, nib string) (storage.Organization, error)
	}
	Audit interface {
		AppendAudit(ctx context.Context, e storage.AuditEvent) error
	}
	// Outbox queues a mail for delivery (jobs.Outbox). With the tx of a
	// storage.TxHook the mail is part of that transaction: it goes out if
	// and only if the change it tells about commits. A nil tx queues it
	// on its own.
	Outbox interface {
		Mail(ctx context.Context, tx storage.Tx, m mail.Message) error
	}
)

// Handler serves the sign-up wizard, tracking, officer review and account
// activation. Set the fields, then call Mount once.
type Handler struct {
	Registrations storage.Registrations
	Tokens        storage.ActionTokens
	Users         Users
	Organizations Organizations
	Drafts        storage.Drafts
	Counters      storage.Counters
	Captcha       *captcha.Service // asked on every submission unless its mode is off
	Audit         Audit
	Mail          Outbox
	Pages         *templates.Pages
	CSRF          *web.CSRF
	// Cookies signs and encrypts this package's cookies (the wizard draft
	// id, the tracking grant); keys come from configuration.
	Cookies *securecookie.SecureCookie
	// CurrentUser is the signed-in user of r (session.Manager.CurrentUser).
	CurrentUser func(r *http.Request) (storage.User, bool)
	// Guard, if set, runs the officer pages' checks (the server's shared
	// guard); nil: one over CurrentUser.
	Guard *session.Guard
	// DraftDocuments keeps the letters of drafts in progress (durable
	// storage); nil takes Registrations when it provides them, as sqlstore
	// does.
	DraftDocuments storage.DraftDocuments
	// Marks holds the audit aggregation's window marks (auditRefusal);
	// nil takes Counters when it provides them, as every ephemeral store
	// does.
	Marks storage.OneTime

	// Bounds on anonymous writes (limits.go); zero values take the
	// Default… values there.
	DraftLimit     quota.Limit              // new wizard drafts
	CodeLimit      quota.Limit              // email verification codes sent
	UploadLimit    quota.Limit              // letter uploads
	SubmitLimit    quota.Limit              // submissions
	TrackLimit     quota.Limit              // tracking lookups
	RevisionLimit  quota.Limit              // correction posts (/track/revisi)
	PendingLetters storage.DraftDocumentCap // letters of all drafts together

	// BaseURL is the issuer, for links in emails (activation).
	BaseURL string
	Secure  bool
	Now     func() time.Time
	Logger  *slog.Logger

	// submitWait overrides defaultSubmitWait (tests make it long, so that
	// the timer never decides for a loaded machine).
	submitWait time.Duration

	once   sync.Once
	render *web.Renderer
	guard  *session.Guard
}

// Mount registers every route on mux. It panics on a setup error, at start
// only, as ServeMux does for conflicting patterns.
func (h *Handler) Mount(mux *http.ServeMux) {
	if err := h.init(); err != nil {
		panic(err)
	}
	// A missing page panics here, at start, like a conflicting route would.
	h.requirePages(pageOverview, pageStep, pageDiscard, pageDone, "track", "track_status", "track_revisi",
		"officer", "officer_registration", "activate", "activate_invalid", "activate_done")
	handle := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, h.render.Handle(fn)) }
	// officer is an officer's page (officerOnly: checked before the body
	// is read).
	officer := func(pattern string, fn officerHandler) { handle(pattern, h.officerOnly(fn)) }

	// The wizard (wizard*.go).
	handle("GET /register", h.showOverview)
	handle("GET /register/{step}", h.showStep)
	handle("POST /register/{step}", h.postStep)
	// Tracking by service number, and the revision (track.go).
	handle("GET /track", h.showTrack)
	handle("POST /track", h.submitTrack)
	handle("GET /track/status", h.showTrackStatus)
	handle("GET /track/revisi", h.showRevision)
	handle("POST /track/revisi", h.submitRevision)
	// Officer review (officer.go, review_*.go).
	officer("GET /officer", h.showQueue)
	officer("GET /officer/registrations/{id}", h.showOfficerRegistration)
	officer("POST /officer/registrations/{id}/review", h.decide(startReview))
	officer("POST /officer/registrations/{id}/approve", h.approve)
	officer("POST /officer/registrations/{id}/reject", h.decide(reject))
	officer("POST /officer/registrations/{id}/revision", h.decide(requestRevision))
	officer("POST /officer/registrations/{id}/resend-activation", h.resendActivation)
	officer("GET /officer/documents/{id}", h.downloadDocument)
	// Activation of an approved account (activate.go).
	handle("GET /activate", h.showActivate)
	handle("POST /activate", h.submitActivate)
}

func (h *Handler) init() error {
	var err error
	h.once.Do(func() {
		switch {
		case h.Registrations == nil, h.Tokens == nil, h.Users == nil, h.Organizations == nil,
			h.Drafts == nil, h.Counters == nil, h.Captcha == nil, h.Audit == nil, h.Mail == nil:
			err = fmt.Errorf("registration: a storage or mail dependency is nil")
			return
		case h.Pages == nil, h.CSRF == nil, h.Cookies == nil, h.CurrentUser == nil || h.BaseURL == "":
			err = fmt.Errorf("registration: Pages, CSRF, Cookies, CurrentUser and BaseURL are required")
			return
		}
		h.setDefaults()
		if h.DraftDocuments == nil {
			err = fmt.Errorf("registration: DraftDocuments is nil and Registrations does not provide it")
			return
		}
		if h.Marks == nil {
			err = fmt.Errorf("registration: Marks is nil and Counters does not provide it")
			return
		}
		if h.Now == nil {
			h.Now = time.Now
		}
		if h.Logger == nil {
			h.Logger = slog.New(slog.DiscardHandler)
		}
		h.render = &web.Renderer{Pages: h.Pages, CSRF: h.CSRF, Logger: h.Logger, Secure: h.Secure}
		h.guard = h.officerGuard()
	})
	return err
}

// officerGuard is the guard of the officer pages: the server's, or one
// over CurrentUser, with the officers' own 403 message.
func (h *Handler) officerGuard() *session.Guard {
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
	g.ForbiddenKey = "officer.forbidden"
	return &g
}

// audit appends e, filling time and IP; a failing audit log is logged
// loudly but does not undo what the user already did.
func (h *Handler) audit(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	if err := h.Audit.AppendAudit(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event", "action", e.Action, "error", err)
	}
}

// audited returns the request's context carrying e, time and IP filled
// as audit does, for the one write e records: the store appends e in that
// write's transaction, so e exists if and only if the change does. Pass it
// to that write only; any other write with it would take e instead.
func (h *Handler) audited(r *http.Request, e storage.AuditEvent) context.Context {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	return storage.WithAudit(r.Context(), e)
}

// auditRefusal records e, a refusal of an anonymous request that costs the
// sender nothing (a wrong challenge, a request over its allowance), like
// audit but aggregated: per address and reason, the first few a minute are
// written and the rest counted into one registration.refusals event, so a
// flood cannot grow the audit table (quota.AuditFlood).
func (h *Handler) auditRefusal(r *http.Request, e storage.AuditEvent) {
	e.Time = h.Now().UTC()
	e.IP = web.RemoteIP(r)
	f := quota.AuditFlood{Counters: h.Counters, Marks: h.Marks, Audit: h.Audit, Name: "audit-reg", SummaryAction: "registration.refusals"}
	if err := f.Record(r.Context(), e); err != nil {
		h.Logger.ErrorContext(r.Context(), "append audit event", "action", e.Action, "error", err)
	}
}

// redirect answers a form POST with 303 (never 307, RFC 9700 §4.12).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
