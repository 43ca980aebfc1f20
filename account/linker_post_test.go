package account

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLinkerPostForm: the back-channel logout's POST gets the account
// link's rules: loopback only when allowed, no redirect followed, the
// answer read only up to MaxBytes.
func TestLinkerPostForm(t *testing.T) {
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bcl", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.PostFormValue("logout_token") != "t" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	mux.HandleFunc("POST /moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Store(true) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	form := url.Values{"logout_token": {"t"}}

	l := &Linker{AllowLoopback: true}
	if status, err := l.PostForm(t.Context(), srv.URL+"/bcl", form); err != nil || status != http.StatusOK {
		t.Fatalf("post: %d %v", status, err)
	}
	if status, err := l.PostForm(t.Context(), srv.URL+"/moved", form); err != nil || status != http.StatusTemporaryRedirect || followed.Load() {
		t.Fatalf("redirect: %d %v, followed %v", status, err, followed.Load())
	}
	strict := &Linker{}
	if _, err := strict.PostForm(t.Context(), srv.URL+"/bcl", form); !errors.Is(err, ErrLinkAddress) {
		t.Fatalf("loopback without AllowLoopback: %v", err)
	}
	if _, err := strict.PostForm(t.Context(), "https://169.254.169.254/latest", form); !errors.Is(err, ErrLinkAddress) {
		t.Fatalf("metadata address: %v", err)
	}
}
