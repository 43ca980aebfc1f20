package account

import (
	"net/http"
	"strings"
	"testing"

	"satupintu/storage"
	"satupintu/web"
	"satupintu/web/webtest"
)

// A signed-in POST whose body is no proper form answers the friendly 400
// page (413 over the body limit) on every account route, and changes
// nothing; it used to be a 500 (issue 8, item 6).
func TestMalformedPostsAreBadRequests(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, LaunchURL: "https://ebpom.example/",
		AccountLinkURL: "https://ebpom.example/link"})
	other := e.session(e.trader, "other browser")
	b := e.browser(e.session(e.trader, "test"))
	token := "csrf_token=" + strings.ReplaceAll(b.csrf("/profile").Get("csrf_token"), "=", "%3D")
	before, err := e.dur.UserByID(ctx, e.trader.ID)
	if err != nil {
		t.Fatal(err)
	}

	bodies := []struct {
		name, ctype, body string
		want              int
	}{
		{"broken percent-encoding", "application/x-www-form-urlencoded", token + "&phone=%zz&position=x", http.StatusBadRequest},
		{"text/plain", "text/plain", token + "&phone=0813", http.StatusBadRequest},
		{"a malformed content type", "application/x-www-form-urlencoded;;", token + "&phone=0813", http.StatusBadRequest},
		{"no content type", "", token, http.StatusBadRequest},
		{"over the body limit", "application/x-www-form-urlencoded", token + "&phone=" + strings.Repeat("9", web.DefaultBodyLimit), http.StatusRequestEntityTooLarge},
	}
	paths := []string{"/profile", "/sessions/" + other.ID + "/end", "/sessions/end-others", "/apps/ebpom/link", "/apps/ebpom/unlink",
		"/apps/ebpom/withdraw", "/profile/email", "/profile/email/confirm"}
	for _, path := range paths {
		for _, tc := range bodies {
			req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			res := webtest.Do(t, b.client, req)
			if res.StatusCode != tc.want {
				t.Errorf("POST %s, %s: %d, want %d", path, tc.name, res.StatusCode, tc.want)
				continue
			}
			if !strings.Contains(res.Body, `class="alert"`) || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("POST %s, %s: not the friendly error page:\n%s", path, tc.name, res.Body)
			}
		}
	}

	after, err := e.dur.UserByID(ctx, e.trader.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Phone != before.Phone || after.Position != before.Position {
		t.Errorf("a refused POST changed the profile: %q %q", after.Phone, after.Position)
	}
	if _, err := e.eph.SessionByID(ctx, other.ID); err != nil {
		t.Errorf("a refused POST ended a session: %v", err)
	}
}
