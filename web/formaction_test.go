package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/storage"
)

type auditLog []storage.AuditEvent

func (a *auditLog) AppendAudit(_ context.Context, e storage.AuditEvent) error {
	*a = append(*a, e)
	return nil
}

func TestFormAction(t *testing.T) {
	csrf := NewCSRF(securecookie.New(securecookie.GenerateRandomKey(32), nil), false)
	rec := httptest.NewRecorder()
	token := csrf.Token(rec, httptest.NewRequest("GET", "/", nil))
	cookie := rec.Result().Cookies()[0]
	var events auditLog
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("WIB", 7*3600))
	f := &Forms{CSRF: csrf, Audit: &events, Now: func() time.Time { return now }}
	ran := 0
	action := f.Action(func(w http.ResponseWriter, r *http.Request) (Done, error) {
		ran++
		if r.PostForm.Get("fail") != "" {
			return Done{}, &Error{Status: http.StatusNotFound, MessageKey: "error.not_found"}
		}
		return Redirect("/done", &storage.AuditEvent{Action: "thing.do", Subject: r.PostForm.Get("x")}), nil
	})
	post := func(ctype, body string) (*httptest.ResponseRecorder, error) {
		r := httptest.NewRequest("POST", "/thing", strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		r.AddCookie(cookie)
		r.RemoteAddr = "192.0.2.7:1234"
		rec := httptest.NewRecorder()
		return rec, action(rec, r)
	}
	good := url.Values{CSRFField: {token}, "x": {"42"}}.Encode()

	res, err := post("application/x-www-form-urlencoded", good)
	if err != nil || res.Code != http.StatusSeeOther || res.Header().Get("Location") != "/done" || res.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("good form: %d %q %v", res.Code, res.Header().Get("Location"), err)
	}
	if len(events) != 1 || events[0].Action != "thing.do" || events[0].Subject != "42" || events[0].IP != "192.0.2.7" ||
		!events[0].Time.Equal(now) || events[0].Time.Location() != time.UTC {
		t.Fatalf("audit = %+v", events)
	}

	// Malformed bodies are 400s (413 over the limit), never 500s, and the
	// action does not run.
	for name, tc := range map[string]struct{ ctype, body string }{
		"broken percent-encoding": {"application/x-www-form-urlencoded", good + "&y=%zz"},
		"not a form":              {"text/plain", good},
		"malformed content type":  {"application/x-www-form-urlencoded;;", good},
		"no content type":         {"", good},
	} {
		_, err := post(tc.ctype, tc.body)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			t.Errorf("%s: %v; want a 400", name, err)
		}
	}
	if _, err := post("application/x-www-form-urlencoded", url.Values{"x": {"1"}}.Encode()); err == nil {
		t.Error("no CSRF token accepted")
	}
	if ran != 1 {
		t.Fatalf("the action ran %d times; want once", ran)
	}
	// A failing action records nothing.
	if _, err := post("application/x-www-form-urlencoded", good+"&fail=1"); err == nil || len(events) != 1 {
		t.Errorf("failing action: %v, events %d", err, len(events))
	}
}
