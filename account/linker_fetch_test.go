package account

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLinkerFetch: a client's jwks_uri is fetched under the same SSRF rules
// as the account link: loopback only when allowed, no metadata address, no
// redirect followed, no answer over the size limit, only 200 counts.
func TestLinkerFetch(t *testing.T) {
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) })
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("x", 5000))) })
	mux.HandleFunc("GET /moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Store(true) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	l := &Linker{AllowLoopback: true}
	if body, err := l.Fetch(t.Context(), srv.URL+"/jwks", 4096); err != nil || string(body) != `{"keys":[]}` {
		t.Fatalf("fetch: %q %v", body, err)
	}
	if _, err := l.Fetch(t.Context(), srv.URL+"/big", 4096); !errors.Is(err, ErrLinkUnavailable) {
		t.Errorf("answer over the limit: %v", err)
	}
	if _, err := l.Fetch(t.Context(), srv.URL+"/moved", 4096); !errors.Is(err, ErrLinkUnavailable) || followed.Load() {
		t.Errorf("redirect: %v, followed %v", err, followed.Load())
	}
	if _, err := l.Fetch(t.Context(), srv.URL+"/missing", 4096); !errors.Is(err, ErrLinkUnavailable) {
		t.Errorf("404: %v", err)
	}
	strict := &Linker{}
	if _, err := strict.Fetch(t.Context(), srv.URL+"/jwks", 4096); !errors.Is(err, ErrLinkAddress) {
		t.Errorf("loopback without AllowLoopback: %v", err)
	}
	for _, u := range []string{"https://169.254.169.254/latest/meta-data", "http://example.com/jwks", "file:///etc/passwd", "https://10.0.0.1/jwks"} {
		if _, err := strict.Fetch(t.Context(), u, 4096); !errors.Is(err, ErrLinkAddress) {
			t.Errorf("%s: %v, want ErrLinkAddress", u, err)
		}
	}
}
