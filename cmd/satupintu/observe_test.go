package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Route labels come from a fixed set: the mux's patterns, the provider's
// endpoints by path, and "other" for any path anyone invents.
func TestRouteLabelsAreBounded(t *testing.T) {
	mux := http.NewServeMux()
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux.Handle("GET /login", noop)
	mux.Handle("POST /apps/{id}/link", noop)
	mux.Handle("GET /static/", noop)
	mux.Handle("/", noop)
	route := routeOf(mux)
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/login", "/login"},
		{"POST", "/apps/abc123/link", "/apps/{id}/link"},
		{"GET", "/static/app.css", "/static/"},
		{"POST", "/oauth/token", "/oauth/token"},
		{"GET", "/.well-known/openid-configuration", "/.well-known/openid-configuration"},
		{"GET", "/wp-admin/setup.php", "other"},
		{"GET", "/oauth/token/../../etc", "other"},
	} {
		if got := route(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("%s %s: route %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
