package demorp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInitiateLoginChecksTheIssuer: a third-party-initiated login from our
// provider starts the code flow at once; one naming another issuer is
// refused (OIDC Core §4), and target_link_uri is never followed.
func TestInitiateLoginChecksTheIssuer(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, app := newTestApp(t, op.URL)

	q := url.Values{"iss": {op.URL}, "target_link_uri": {"https://evil.example/"}}
	resp, _ := get(t, browser(t), srv.URL+InitiateLoginPath+"?"+q.Encode())
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, op.URL+"/authorize?") || !strings.Contains(loc, "client_id="+app.ClientID) {
		t.Fatalf("initiated login: %d to %q, want the authorization endpoint", resp.StatusCode, loc)
	}
	for _, iss := range []string{"", "https://evil.example", op.URL + "/"} {
		resp, _ := get(t, browser(t), srv.URL+InitiateLoginPath+"?"+url.Values{"iss": {iss}}.Encode())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("iss %q: %d, want 400", iss, resp.StatusCode)
		}
	}
}
