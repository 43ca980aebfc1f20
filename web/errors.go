package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"satupintu/storage"
	"satupintu/templates"
)

// Error is an error with what the user should see: an HTTP status and a
// message key from the catalogs. Err is the detail for the log only; it is
// never rendered (the user sees MessageKey's text).
type Error struct {
	Status     int
	MessageKey string
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("http %d: %s", e.Status, e.MessageKey)
	}
	return fmt.Sprintf("http %d: %s: %v", e.Status, e.MessageKey, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// HandlerFunc is a page handler that returns its failure instead of writing
// it, as Tailscale's tsweb does: one place (Renderer.Handle) decides what the
// user sees and what the log gets. Return an error only before writing
// anything to w.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Renderer renders pages in the user's language with a CSRF token, and turns
// handler errors into friendly pages.
type Renderer struct {
	Pages  *templates.Pages
	CSRF   *CSRF // nil: pages get no csrf_token
	Logger *slog.Logger
	Secure bool // https: the language cookie is Secure
	// Extras, if set, returns data other features add to page name for r
	// (templates.View.Extra); nil adds nothing. A feature package can so
	// put its partial on another package's page without that package
	// knowing its data.
	Extras func(r *http.Request, page string) map[string]any
}

// Render writes page name with status, in the locale of r (see Locale),
// with a CSRF token and Cache-Control: no-store: every page of this service
// is either part of signing in or shows the user's own data (ASVS 14.3.2).
func (rn *Renderer) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	token := ""
	if rn.CSRF != nil {
		token = rn.CSRF.Token(w, r)
	}
	return rn.render(w, r, status, name, token, data)
}

func (rn *Renderer) render(w http.ResponseWriter, r *http.Request, status int, name, token string, data any) error {
	RememberLocale(w, r, rn.Secure)
	NoStore(w)
	v := templates.View{
		Lang:      Locale(r),
		CSRFToken: token,
		Self:      r.URL.RequestURI(),
		Data:      data,
	}
	v.Site = rn.site(r, v.Lang)
	if rn.Extras != nil {
		v.Extra = rn.Extras(r, name)
	}
	return rn.Pages.Render(w, status, name, v)
}

// Handle adapts fn to http.Handler, rendering any error it returns.
func (rn *Renderer) Handle(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			rn.Error(w, r, err)
		}
	})
}

// NotFound renders the 404 page, for a mux's catch-all.
func (rn *Renderer) NotFound() http.Handler {
	return rn.Handle(func(http.ResponseWriter, *http.Request) error {
		return &Error{Status: http.StatusNotFound, MessageKey: "error.not_found"}
	})
}

// errorPage is the data of the "error" page.
type errorPage struct {
	MessageKey string
}

// RetryAfter is the Retry-After of a 503: how long, in seconds, a browser or
// client should wait before trying again after a dependency failed.
const RetryAfter = "5"

// Error writes the page for err: 503 "temporarily unavailable" (with
// Retry-After) when storage could not serve the request, whatever status
// the handler chose (a database outage is never "not found" or "invalid");
// otherwise an *Error's status and message, 413 for an oversized body, and
// anything else 500 with the generic message. The detail is logged with the
// request id, never shown.
func (rn *Renderer) Error(w http.ResponseWriter, r *http.Request, err error) {
	status, key := http.StatusInternalServerError, "error.generic"
	var e *Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		status, key = http.StatusServiceUnavailable, "error.unavailable"
	case errors.As(err, &tooBig):
		status, key = http.StatusRequestEntityTooLarge, "error.too_large"
	case errors.As(err, &e):
		if e.Status >= 400 && e.Status <= 599 {
			status = e.Status
		}
		switch {
		case e.MessageKey == "":
		case rn.Pages.Catalog().Has(e.MessageKey):
			key = e.MessageKey
		default:
			rn.logger().WarnContext(r.Context(), "unknown message key", "message_key", e.MessageKey)
		}
	}

	level := slog.LevelInfo
	switch {
	case errors.Is(err, context.Canceled):
		level = slog.LevelDebug // the client went away
	case status >= 500:
		level = slog.LevelError
	}
	// The path only: query strings may carry codes or state.
	rn.logger().LogAttrs(r.Context(), level, "request failed",
		slog.Int("status", status),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("request_id", RequestID(r.Context())),
		slog.String("error", err.Error()))

	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", RetryAfter)
	}

	if rerr := rn.render(w, r, status, "error", "", errorPage{MessageKey: key}); rerr != nil {
		rn.logger().LogAttrs(r.Context(), slog.LevelError, "render error page failed", slog.String("error", rerr.Error()))
		http.Error(w, rn.Pages.T(Locale(r), key), status)
	}
}

// site returns the operators' settings for the page (templates.Pages.UseSite),
// the defaults when none are wired or they cannot be read: a page, and the
// error page above all, still renders while the database is away.
func (rn *Renderer) site(r *http.Request, lang string) *templates.Site {
	site, err := rn.Pages.Site(r.Context(), lang)
	if err != nil {
		rn.logger().WarnContext(r.Context(), "read settings; showing the defaults", "request_id", RequestID(r.Context()), "error", err)
	}
	if site == nil {
		site = SiteOf(storage.DefaultSettings(), lang, time.Time{})
	}
	return site
}

func (rn *Renderer) logger() *slog.Logger {
	if rn.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rn.Logger
}
