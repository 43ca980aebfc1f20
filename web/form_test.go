package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"satupintu/storage"
)

// Malformed input is the client's fault: a 400 (413 for a body over the
// limit) with the friendly page, never a 500, whichever UI package parses
// the form (issue 8, item 6).
func TestParseFormMalformedInput(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, target, ctype, body string
		want                              int
	}{
		{"a form", "POST", "/", form, "a=b", 0},
		{"a form with a charset", "POST", "/", form + "; charset=utf-8", "a=b", 0},
		{"a GET reads the query", "GET", "/?a=b", "", "", 0},
		{"broken percent-encoding", "POST", "/", form, "a=%zz", http.StatusBadRequest},
		{"broken percent-encoding in the query", "POST", "/?a=%zz", form, "a=b", http.StatusBadRequest},
		{"another content type", "POST", "/", "text/plain", "a=b", http.StatusBadRequest},
		{"JSON", "POST", "/", "application/json", `{"a":"b"}`, http.StatusBadRequest},
		{"no content type", "POST", "/", "", "a=b", http.StatusBadRequest},
		{"a malformed content type", "POST", "/", "application/x-www-form-urlencoded; ;;", "a=b", http.StatusBadRequest},
		{"multipart nobody parsed", "POST", "/", "multipart/form-data; boundary=x", "--x--\r\n", http.StatusBadRequest},
		{"over the limit", "POST", "/", form, "a=" + strings.Repeat("x", 200), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 100)
			err := ParseForm(r)
			if tc.want == 0 {
				if err != nil || r.Form.Get("a") != "b" {
					t.Fatalf("ParseForm = %v, a = %q", err, r.Form.Get("a"))
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.want {
				t.Fatalf("ParseForm = %v, want a %d *Error", err, tc.want)
			}
		})
	}

	t.Run("multipart the handler parsed", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("a", "b")
		mw.Close()
		r := httptest.NewRequest("POST", "/", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		if err := r.ParseMultipartForm(1 << 10); err != nil {
			t.Fatal(err)
		}
		if err := ParseForm(r); err != nil || r.PostForm.Get("a") != "b" {
			t.Fatalf("ParseForm = %v, a = %q", err, r.PostForm.Get("a"))
		}
	})
}

// CSRF.Verify parses the form itself, so a handler that forgot to (or
// parsed it with r.ParseForm and a content type no form has) still answers
// 400 or 413, not 500 or "form expired".
func TestVerifyRefusesMalformedBodies(t *testing.T) {
	rn := newRenderer(t, io.Discard)
	get := httptest.NewRecorder()
	token := rn.CSRF.Token(get, httptest.NewRequest("GET", "/", nil))
	cookie := get.Result().Cookies()[0]
	h := LimitBody(rn.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := rn.CSRF.Verify(r); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}), 1000)
	tok := "csrf_token=" + token
	for _, tc := range []struct {
		name, ctype, body string
		want              int
	}{
		{"valid", "application/x-www-form-urlencoded", tok, http.StatusNoContent},
		{"broken percent-encoding", "application/x-www-form-urlencoded", tok + "&phone=%zz", http.StatusBadRequest},
		{"text/plain", "text/plain", tok, http.StatusBadRequest},
		{"malformed content type", "a/b; =", tok, http.StatusBadRequest},
		{"oversized", "application/x-www-form-urlencoded", tok + "&x=" + strings.Repeat("x", 2000), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/profile", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			r.AddCookie(cookie)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d:\n%s", rec.Code, tc.want, rec.Body)
			}
			if tc.want >= 400 && !strings.Contains(rec.Body.String(), `<html lang="id">`) {
				t.Errorf("no friendly page:\n%s", rec.Body)
			}
		})
	}
}

// A body over the limit is refused before any handler runs, whatever the
// handler would make of the read error (zitadel's answer was a plain-text
// 500): declared too long, or sent chunked and found too long.
func TestBodyLimitRefusesBeforeTheHandler(t *testing.T) {
	var refused []error
	var got []string
	l := BodyLimit{
		Max:     100,
		Uploads: map[string]int64{"/upload": 1000},
		Refuse: func(w http.ResponseWriter, r *http.Request, err error) {
			refused = append(refused, err)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		},
	}
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "handler saw "+err.Error(), http.StatusInternalServerError)
			return
		}
		got = append(got, string(b))
	}))
	for _, tc := range []struct {
		name    string
		path    string
		size    int
		chunked bool
		want    int
	}{
		{"at the limit", "/", 100, false, http.StatusOK},
		{"over the limit", "/", 101, false, http.StatusRequestEntityTooLarge},
		{"chunked at the limit", "/", 100, true, http.StatusOK},
		{"chunked over the limit", "/", 101, true, http.StatusRequestEntityTooLarge},
		{"an upload under its own limit", "/upload", 1000, false, http.StatusOK},
		{"an upload over its limit is its handler's", "/upload", 1001, false, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused, got = nil, nil
			body := strings.Repeat("x", tc.size)
			r := httptest.NewRequest("POST", tc.path, strings.NewReader(body))
			if tc.chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(strings.NewReader(body)) // no length to peek at
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusRequestEntityTooLarge {
				var tooBig *http.MaxBytesError
				if len(refused) != 1 || !errors.As(refused[0], &tooBig) || len(got) != 0 {
					t.Errorf("refused %v, handler read %d bodies", refused, len(got))
				}
				if rec.Header().Get("Connection") != "close" {
					t.Error("the connection stays open with the rest of the body unread")
				}
			}
			if tc.want == http.StatusOK && (len(got) != 1 || got[0] != body) {
				t.Errorf("handler read %d bodies, want the whole body once", len(got))
			}
		})
	}
}

// With the server's refusal wired to the renderer, the user gets the 413
// page in their language, and the log gets the request id.
func TestOversizedBodyFriendlyPageAndLog(t *testing.T) {
	var logs bytes.Buffer
	rn := newRenderer(t, &logs)
	called := false
	h := WithRequestID(BodyLimit{Max: 100, Refuse: rn.Error}.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		called = true
	})))
	r := httptest.NewRequest("POST", "/end_session?lang=en", strings.NewReader(strings.Repeat("x", 101)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge || called {
		t.Fatalf("status %d, handler called %v", rec.Code, called)
	}
	if !strings.Contains(rec.Body.String(), "The data sent is too large") {
		t.Errorf("no friendly page:\n%s", rec.Body)
	}
	id := rec.Header().Get(RequestIDHeader)
	if id == "" || !strings.Contains(logs.String(), "request_id="+id) || !strings.Contains(logs.String(), "status=413") {
		t.Errorf("request id %q not in the log line: %s", id, logs.String())
	}
}

// A storage call that failed because the database or Redis is unreachable
// is a 503 "temporarily unavailable" page with Retry-After, whatever status
// the handler wrapped it in; the driver's text stays in the log.
func TestErrorAdapterDependencyFailure(t *testing.T) {
	var logs bytes.Buffer
	rn := newRenderer(t, &logs)
	down := fmt.Errorf("redis: incr counter: %w: %w", storage.ErrUnavailable, errors.New("dial tcp 10.0.0.7:6379: connect: connection refused"))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"bare", down},
		{"wrapped", fmt.Errorf("login: throttle: %w", down)},
		{"inside a typed 400", &Error{Status: http.StatusBadRequest, MessageKey: "login.expired", Err: down}},
		{"inside a typed 500", &Error{Status: http.StatusInternalServerError, Err: down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			rn.Handle(func(http.ResponseWriter, *http.Request) error { return tc.err }).ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != RetryAfter {
				t.Fatalf("status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
			}
			body := rec.Body.String()
			if !strings.Contains(body, "tidak tersedia untuk sementara") || strings.Contains(body, "10.0.0.7") {
				t.Errorf("page:\n%s", body)
			}
			if !strings.Contains(logs.String(), "10.0.0.7") || !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("the detail is not logged as an error: %s", logs.String())
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	var seen []string
	h := WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, RequestID(r.Context()))
	}))
	var sent []string
	for range 2 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(RequestIDHeader, "forged\nline")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		sent = append(sent, rec.Header().Get(RequestIDHeader))
	}
	if len(seen[0]) != 16 || seen[0] != sent[0] || seen[1] != sent[1] || seen[0] == seen[1] {
		t.Errorf("ids in context %q, in headers %q: want one fresh id per request", seen, sent)
	}
	if RequestID(t.Context()) != "" {
		t.Error("an id outside any request")
	}
}
