package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// scrape returns the registry's exposition text.
func scrape(t *testing.T, m *Registry) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape: %d", w.Code)
	}
	return w.Body.String()
}

func TestMiddlewareCountsByRouteMethodAndStatus(t *testing.T) {
	m := New()
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/implicit":
			io.WriteString(w, "ok") // 200 without WriteHeader
		default:
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK) // ignored, as net/http does
		}
	}), func(r *http.Request) string { return "route" + r.URL.Path })
	for _, c := range []struct{ method, path string }{
		{"GET", "/missing"}, {"GET", "/missing"}, {"POST", "/implicit"}, {"BREW", "/pot"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
	}
	body := scrape(t, m)
	for _, want := range []string{
		`satupintu_http_requests_total{code="404",method="GET",route="route/missing"} 2`,
		`satupintu_http_requests_total{code="200",method="POST",route="route/implicit"} 1`,
		`satupintu_http_requests_total{code="418",method="other",route="route/pot"} 1`,
		`satupintu_http_request_duration_seconds_count{method="GET",route="route/missing"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Error("an invented method became a label value")
	}
}

func TestEventsTokensAndGauges(t *testing.T) {
	m := New()
	m.Event("login.failure")
	m.Event("login.failure")
	m.TokenIssued("client_credentials")
	depth := 3.0
	m.Gauge("queue_depth", "test", func() float64 { return depth })
	m.GaugeVec("pool", "test", "state", func() map[string]float64 { return map[string]float64{"idle": 2, "busy": 1} })
	depth = 5 // read at scrape time, not at registration
	body := scrape(t, m)
	for _, want := range []string{
		`satupintu_audit_events_total{action="login.failure"} 2`,
		`satupintu_tokens_issued_total{grant="client_credentials"} 1`,
		`satupintu_queue_depth 5`,
		`satupintu_pool{state="idle"} 2`,
		`satupintu_pool{state="busy"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// A counter family read from elsewhere is exposed with the counter type,
// so rate() applies to it.
func TestCounterVec(t *testing.T) {
	m := New()
	n := 1.0
	m.CounterVec("evictions_total", "test", "kind", func() map[string]float64 { return map[string]float64{"sessions": n} })
	n = 4
	body := scrape(t, m)
	for _, want := range []string{"# TYPE satupintu_evictions_total counter", `satupintu_evictions_total{kind="sessions"} 4`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
