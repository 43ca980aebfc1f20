package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a := AccessLog{
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
		Route:  func(*http.Request) string { return "/track" },
		Skip:   func(r *http.Request) bool { return r.URL.Path == "/healthz" },
		Now: func() time.Time {
			clock = clock.Add(1500 * time.Microsecond) // each reading 1.5 ms later
			return clock
		},
	}
	h := WithRequestID(a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("hello"))
	})))
	r := httptest.NewRequest("GET", "/track?service_number=SECRET123&code=abc", nil)
	r.RemoteAddr = "198.51.100.9:4321"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (the probe skipped), got %d:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "SECRET123") || strings.Contains(lines[0], "code=") {
		t.Fatalf("the query string was logged: %s", lines[0])
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "request", "method": "GET", "route": "/track", "path": "/track", "status": 418.0,
		"duration_ms": 1.5, "bytes": 5.0, "request_id": rec.Header().Get(RequestIDHeader), "remote_addr": "198.51.100.9"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T); want %v", k, got[k], got[k], v)
		}
	}
	if got["request_id"] == "" {
		t.Error("no request id")
	}
}
