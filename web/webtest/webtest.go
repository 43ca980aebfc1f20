// Package webtest holds HTTP helpers for handler tests: a browser-like
// client with a cookie jar that does not follow redirects, so each one can
// be checked, and requests that return the response with its body read.
package webtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Response is a response whose body has been read and closed.
type Response struct {
	*http.Response
	Body string // shadows Response.Body, which is already closed
}

// NewClient is a fresh browser: its own cookie jar, redirects not
// followed. With srv it uses the server's transport, which trusts the
// certificate of a TLS test server; with nil, the default transport.
func NewClient(t testing.TB, srv *httptest.Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if srv != nil {
		c.Transport = srv.Client().Transport
	}
	return c
}

// Do sends req with c and reads the whole body. Any error fails the test.
func Do(t testing.TB, c *http.Client, req *http.Request) Response {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{res, string(b)}
}

// Get fetches rawURL.
func Get(t testing.TB, c *http.Client, rawURL string) Response {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, c, req)
}

// PostForm posts form to rawURL, URL-encoded as a browser sends it.
func PostForm(t testing.TB, c *http.Client, rawURL string, form url.Values) Response {
	t.Helper()
	req, err := http.NewRequest("POST", rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return Do(t, c, req)
}
