package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"satupintu/storage"
)

// Auditor appends audit events (storage.Durable does).
type Auditor interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Forms is the plumbing of every state-changing form: parse the body,
// check CSRF, run the action, record its audit event, answer 303. A UI
// package keeps one and wraps its POST handlers with Action.
type Forms struct {
	CSRF   *CSRF
	Audit  Auditor // nil: events are dropped (tests of pages without audit)
	Now    func() time.Time
	Logger *slog.Logger
}

// Done is what a form action did: the audit events to record and where the
// browser goes next. An empty Redirect means the action wrote the response
// itself (a page re-rendered with its errors).
type Done struct {
	Audit    []storage.AuditEvent
	Redirect string
}

// Redirect is Done with a redirect and, if e is not nil, one event.
func Redirect(to string, e *storage.AuditEvent) Done {
	d := Done{Redirect: to}
	if e != nil {
		d.Audit = []storage.AuditEvent{*e}
	}
	return d
}

// FormFunc is a form action: it runs once the form is parsed and its CSRF
// token checked, and returns what it did or why it failed (the error is
// rendered as for any HandlerFunc; nothing is recorded then).
type FormFunc func(w http.ResponseWriter, r *http.Request) (Done, error)

// Action adapts fn to a HandlerFunc. A body that is no proper form is a
// 400 page (413 over the limit) and a bad token a 403, before fn runs.
func (f *Forms) Action(fn FormFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := f.CSRF.Verify(r); err != nil { // parses the form first (ParseForm)
			return err
		}
		d, err := fn(w, r)
		if err != nil {
			return err
		}
		for _, e := range d.Audit {
			f.Record(r, e)
		}
		if d.Redirect != "" {
			NoStore(w)
			http.Redirect(w, r, d.Redirect, http.StatusSeeOther)
		}
		return nil
	}
}

// Record appends e, filling its time and the client's address. A failing
// audit log does not undo what the user already did: it is logged loudly.
func (f *Forms) Record(r *http.Request, e storage.AuditEvent) {
	if f.Audit == nil {
		return
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	e.Time = now().UTC()
	e.IP = RemoteIP(r)
	if err := f.Audit.AppendAudit(r.Context(), e); err != nil {
		logger := f.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.ErrorContext(r.Context(), "append audit event failed", "action", e.Action, "error", err)
	}
}
