package validate

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Whatever the input, a redirect URI is accepted unchanged, with no
// fragment, user information or control bytes and a host on http(s), or
// refused with a listed key; an accepted http one is on loopback.
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://localhost/cb", "javascript:x", "https://a@b/", "x:/y",
		"http://127.0.0.1:1/", "https://a.example/#", "HTTPS://A.EXAMPLE/", "http://[::1]/", "https://a.example\\@b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := RedirectURI(FieldRedirectURIs, s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !slices.Contains(ClientKeys(), fe.Key) || out != "" {
				t.Fatalf("RedirectURI(%q) = %q, %v", s, out, err)
			}
			return
		}
		u, perr := url.Parse(out)
		if out != s || perr != nil || strings.ContainsAny(s, "# \\\r\n\t") || u.User != nil {
			t.Fatalf("RedirectURI(%q) accepted", s)
		}
		switch strings.ToLower(u.Scheme) {
		case "http":
			if !IsLoopback(u.Hostname()) {
				t.Fatalf("RedirectURI(%q): http off loopback accepted", s)
			}
		case "https":
			if u.Host == "" {
				t.Fatalf("RedirectURI(%q): no host", s)
			}
		case "javascript", "data", "file", "vbscript":
			t.Fatalf("RedirectURI(%q): forbidden scheme accepted", s)
		}
	})
}
