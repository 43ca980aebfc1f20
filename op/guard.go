package op

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/quota"
	"satupintu/web"
)

// zitadel turns any storage error into an answer of its own choosing:
// invalid_grant for a refresh whose token could not be read, invalid_client
// for a client that could not be loaded, server_error with the error text
// (socket addresses, driver messages) as the description, or an inactive
// token at introspection. None of that tells the truth when Postgres or
// Redis failed. So the storage adapter records a dependency failure in the
// request's context (outcome), and a guard around every endpoint answers
// what it means instead, whatever the library wrote: 503
// temporarily_unavailable (protocol endpoints) or the friendly page
// (browser endpoints). The guard also normalizes every other error answer:
// JSON in RFC 6749 §5.2's shape, a description in its character set, and
// never an internal error text.

// Message keys of the pages the guard shows.
const (
	keyUnavailable   = "error.unavailable"
	keyTooMany       = "error.authorize.too_many"
	keyLogoutTooMany = "error.logout.too_many"
	keyBadRequest    = "error.bad_request"
	keyLogoutInvalid = "error.logout.invalid_request"
)

// temporarilyUnavailable is RFC 6749 §4.1.2.1's code for a server that
// cannot answer now; the token endpoint uses it too (as OAuth 2.1 does).
const temporarilyUnavailable = "temporarily_unavailable"

// Generic descriptions: what a client may learn about a failure.
const (
	descUnavailable = "the service is temporarily unavailable; try again shortly"
	descServerError = "the request could not be completed"
)

// outcome is what the storage adapter learned while serving one request
// that decides its answer: a dependency failed (503) or admission was
// refused (429). The first one recorded wins.
type outcome struct {
	mu     sync.Mutex
	status int
	key    string
}

func (o *outcome) set(status int, key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.status == 0 {
		o.status, o.key = status, key
	}
}

func (o *outcome) get() (int, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.status, o.key
}

type outcomeKey struct{}

// admitKey carries the admission check of a new authorization request
// from the /authorize middleware (which has the *http.Request) to
// CreateAuthRequest (which zitadel calls with the context only).
type admitKey struct{}

func withOutcome(r *http.Request) (*http.Request, *outcome) {
	if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
		return r, o // the callback runs inside /authorize's guard
	}
	o := &outcome{}
	return r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o)), o
}

func outcomeFrom(ctx context.Context) *outcome {
	o, _ := ctx.Value(outcomeKey{}).(*outcome)
	return o
}

// errUnavailable is the error the storage adapter returns for a failed
// dependency. Redirects are disabled: zitadel must never send the browser
// to a redirect URI that could not be checked.
func errUnavailable() *oidc.Error {
	e := oidc.ErrInvalidRequestRedirectURI()
	e.ErrorType = temporarilyUnavailable
	e.Description = descUnavailable
	return e
}

// isUnavailable reports an error made by unavailable.
func isUnavailable(err error) bool {
	var e *oidc.Error
	return errors.As(err, &e) && e.ErrorType == temporarilyUnavailable
}

// unavailable logs a dependency failure with the request's context and
// records it, so the guard answers 503 whatever zitadel makes of the
// returned error.
func (s *store) unavailable(ctx context.Context, what string, err error) *oidc.Error {
	if isUnavailable(err) {
		return errUnavailable().WithParent(err) // already logged and recorded
	}
	s.log.ErrorContext(ctx, "dependency failure", "op", what, "error", err)
	if o := outcomeFrom(ctx); o != nil {
		o.set(http.StatusServiceUnavailable, keyUnavailable)
	}
	return errUnavailable().WithParent(err)
}

// classify passes an oidc.Error on (a protocol answer) and turns anything
// else into a dependency failure.
func (s *store) classify(ctx context.Context, what string, err error) error {
	var e *oidc.Error
	if errors.As(err, &e) && !isUnavailable(err) {
		return err
	}
	return s.unavailable(ctx, what, err)
}

// refuseAdmission records why a new authorization request was not stored:
// an exhausted quota is the client's doing (429), anything else is a
// failed dependency (503).
func (s *store) refuseAdmission(ctx context.Context, err error) error {
	return s.refuseByQuota(ctx, "admit auth request", err, keyTooMany)
}

// refuseByQuota answers an exhausted quota with a 429 page saying key, and
// anything else as a failed dependency (503).
func (s *store) refuseByQuota(ctx context.Context, what string, err error, key string) error {
	if !errors.Is(err, quota.ErrExceeded) {
		return s.unavailable(ctx, what, err)
	}
	s.log.InfoContext(ctx, "refused by quota", "op", what, "error", err)
	if o := outcomeFrom(ctx); o != nil {
		o.set(http.StatusTooManyRequests, key)
	}
	return errUnavailable().WithParent(err)
}

// --- error descriptions ---

// maxDescriptionLen bounds a description: some echo request values.
const maxDescriptionLen = 200

// descriptionChar reports the characters RFC 6749 §5.2 allows in
// error_description: %x20-21 / %x23-5B / %x5D-7E.
func descriptionChar(c rune) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

// sanitizeDescription maps s into that set: quotes and backslashes to
// look-alikes, whitespace to a space, anything else (control characters,
// non-ASCII, invalid UTF-8) to '?', and cuts it to maxDescriptionLen.
func sanitizeDescription(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= maxDescriptionLen {
			break
		}
		switch {
		case descriptionChar(c):
			b.WriteRune(c)
		case c == '"':
			b.WriteByte('\'')
		case c == '\\':
			b.WriteByte('/')
		case c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// validDescription reports whether s may be sent as error_description.
func validDescription(s string) bool {
	for _, c := range s {
		if !descriptionChar(c) {
			return false
		}
	}
	return true
}

// --- protocol endpoints (JSON) ---

// endpoint says how the guard answers a failed client on one endpoint.
type endpoint int

const (
	endpointClientAuth endpoint = iota // token, introspection, revocation
	endpointUserinfo                   // bearer token, RFC 6750
	endpointOther
)

// protocolGuard answers dependency failures with 503
// temporarily_unavailable and rewrites every other error as OAuth JSON
// with a sanitized, generic-enough description (see the file comment).
func (p *Provider) protocolGuard(kind endpoint, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, o := withOutcome(r)
		gw := &guardWriter{ResponseWriter: w, o: o}
		next.ServeHTTP(gw, r)
		if gw.mode == modeNone {
			if status, _ := o.get(); status != 0 {
				gw.mode = modeReplaced
			}
		}
		switch gw.mode {
		case modeReplaced:
			writeProtocolError(w, http.StatusServiceUnavailable, Unavailable())
		case modeBuffered:
			p.rewriteError(w, r, kind, gw)
		}
	})
}

type guardMode int

const (
	modeNone     guardMode = iota // nothing written yet
	modePassed                    // a success, written through
	modeBuffered                  // an error, held for rewriting
	modeReplaced                  // a dependency failure: the library's answer is dropped
)

// guardWriter decides at WriteHeader: a recorded failure replaces the
// answer, an error is held back for rewriting (error bodies are small), a
// success is written through untouched.
type guardWriter struct {
	http.ResponseWriter
	o      *outcome
	mode   guardMode
	status int
	body   bytes.Buffer
}

// maxErrorBody bounds what the guard holds of an error answer.
const maxErrorBody = 16 << 10

func (g *guardWriter) WriteHeader(code int) {
	if g.mode != modeNone {
		return
	}
	if status, _ := g.o.get(); status != 0 {
		g.mode = modeReplaced
		return
	}
	if code >= 400 {
		g.mode, g.status = modeBuffered, code
		return
	}
	g.mode = modePassed
	g.ResponseWriter.WriteHeader(code)
}

func (g *guardWriter) Write(b []byte) (int, error) {
	if g.mode == modeNone {
		g.WriteHeader(http.StatusOK)
	}
	switch g.mode {
	case modePassed:
		return g.ResponseWriter.Write(b)
	case modeBuffered:
		if room := maxErrorBody - g.body.Len(); room > 0 {
			g.body.Write(b[:min(len(b), room)])
		}
	}
	return len(b), nil
}

func (g *guardWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// rewriteError writes the held error answer as RFC 6749 §5.2 JSON.
func (p *Provider) rewriteError(w http.ResponseWriter, r *http.Request, kind endpoint, g *guardWriter) {
	var e oidc.Error
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(g.body.Bytes(), &e) // garbage leaves e empty: filled in below
	}
	status := g.status
	if e.ErrorType == "" {
		switch {
		case status >= 500:
			e.ErrorType = oidc.ServerError
		case status == http.StatusUnauthorized && kind == endpointUserinfo:
			e.ErrorType = "invalid_token"
		case status == http.StatusUnauthorized:
			e.ErrorType = oidc.InvalidClient
		default:
			e.ErrorType = oidc.InvalidRequest
		}
		e.Description = "" // a plain-text body is the library's error text
	}
	if kind == endpointUserinfo && e.ErrorType == "invalid_token" {
		status = http.StatusUnauthorized // RFC 6750 §3.1
	}
	if status >= 500 || e.ErrorType == oidc.ServerError {
		p.cfg.Logger.ErrorContext(r.Context(), "protocol request failed", "path", r.URL.Path,
			"status", status, "detail", truncate(g.body.String(), 1024))
		e.ErrorType, e.Description = oidc.ServerError, descServerError
	}
	if !validDescription(string(e.ErrorType)) {
		e.ErrorType = oidc.InvalidRequest
	}
	e.Description = sanitizeDescription(e.Description)
	writeProtocolError(w, status, &e)
}

// Unavailable is the protocol answer for a failed dependency (503).
func Unavailable() *oidc.Error {
	return &oidc.Error{ErrorType: temporarilyUnavailable, Description: descUnavailable}
}

// WriteError writes e as an RFC 6749 §5.2 JSON answer, not to be cached; a
// 503 says when to retry. Answers made outside op (the health gate, the
// body limit) use it too.
func WriteError(w http.ResponseWriter, status int, e *oidc.Error) { writeProtocolError(w, status, e) }

func writeProtocolError(w http.ResponseWriter, status int, e *oidc.Error) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", web.RetryAfter)
	}
	httphelper.MarshalJSONWithStatus(w, &oidc.Error{ErrorType: e.ErrorType, Description: e.Description}, status)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// --- browser endpoints (pages) ---

// pageGuard shows the friendly page for a recorded failure (503) or a
// refused admission (429) in place of whatever zitadel answered, and, with
// errorsAsPages, turns the library's JSON or text error answers into the
// page with fallbackKey. admit, if not nil, is made available to
// CreateAuthRequest for this request.
func (p *Provider) pageGuard(next http.Handler, errorsAsPages bool, fallbackKey string, admit func(*http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, o := withOutcome(r)
		if admit != nil {
			orig := r
			r = r.WithContext(context.WithValue(r.Context(), admitKey{}, func() error { return admit(orig) }))
		}
		pw := &pageWriter{ResponseWriter: w, p: p, r: r, o: o, errorsAsPages: errorsAsPages, fallbackKey: fallbackKey}
		next.ServeHTTP(pw, r)
		if !pw.wrote {
			if status, key := o.get(); status != 0 {
				pw.replace(status, key)
			}
		}
	})
}

type pageWriter struct {
	http.ResponseWriter
	p             *Provider
	r             *http.Request
	o             *outcome
	errorsAsPages bool
	fallbackKey   string

	wrote    bool // a status was decided
	replaced bool // our page was written; drop the library's body
}

func (pw *pageWriter) WriteHeader(code int) {
	if pw.wrote {
		return
	}
	pw.wrote = true
	if status, key := pw.o.get(); status != 0 {
		pw.replace(status, key)
		return
	}
	if pw.errorsAsPages && code >= 400 && !strings.HasPrefix(pw.Header().Get("Content-Type"), "text/html") {
		// A browser gets 400 for whatever the client got wrong (a 401
		// would need a challenge no browser can answer).
		status := http.StatusBadRequest
		if code >= 500 {
			status = http.StatusInternalServerError
		}
		pw.p.cfg.Logger.InfoContext(pw.r.Context(), "browser request refused", "path", pw.r.URL.Path, "status", code)
		key := pw.fallbackKey
		if status >= 500 {
			key = "error.generic"
		}
		pw.replace(status, key)
		return
	}
	pw.ResponseWriter.WriteHeader(code)
}

// replace writes the page for status and key instead of the library's answer.
func (pw *pageWriter) replace(status int, key string) {
	pw.wrote, pw.replaced = true, true
	h := pw.Header()
	for _, name := range []string{"Location", "Content-Type", "Content-Length", "X-Content-Type-Options"} {
		h.Del(name)
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", web.RetryAfter)
	}
	pw.p.cfg.ErrorPage(pw.ResponseWriter, pw.r, status, key)
}

func (pw *pageWriter) Write(b []byte) (int, error) {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.replaced {
		return len(b), nil
	}
	return pw.ResponseWriter.Write(b)
}

func (pw *pageWriter) Unwrap() http.ResponseWriter { return pw.ResponseWriter }
