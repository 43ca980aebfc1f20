package demorp

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestEndedBy(t *testing.T) {
	s := func(sid, sub string) session { return session{Claims: map[string]any{"sid": sid, "sub": sub}} }
	for _, tt := range []struct {
		name     string
		sid, sub string
		s        session
		want     bool
	}{
		{"same sid and sub", "a", "u1", s("a", "u1"), true},
		{"same sid, no sub in the token", "a", "", s("a", "u1"), true},
		{"another session of the same user", "a", "u1", s("b", "u1"), false},
		{"same sid, another user", "a", "u2", s("a", "u1"), false},
		{"sub only: every session of the user", "", "u1", s("b", "u1"), true},
		{"sub only: another user", "", "u2", s("b", "u1"), false},
		{"a session without sid is not ended by a sid", "a", "u1", s("", "u1"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := endedBy(&oidc.LogoutTokenClaims{SessionID: tt.sid, Subject: tt.sub}, tt.s); got != tt.want {
				t.Errorf("endedBy = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBackchannelLogoutRefusesInvalidToken: a token that does not verify
// is answered 400 (§2.8) and ends nothing.
func TestBackchannelLogoutRefusesInvalidToken(t *testing.T) {
	op := newDiscoveryServer(t)
	srv, h, _, _ := signedInApp(t, op, "")
	for _, token := range []string{"", "not-a-jwt", testIDToken()} {
		resp, err := http.PostForm(srv.URL+BackchannelLogoutPath, url.Values{"logout_token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("token %q: status %d, want 400", token, resp.StatusCode)
		}
	}
	if _, ok := h.sessions.get("sid-1"); !ok {
		t.Error("an invalid logout token ended a session")
	}
}
