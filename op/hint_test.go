package op

import (
	"net/http"
	"net/url"
	"testing"
)

// Only an ID token is an id_token_hint: a JWT access token or a logout
// token names the user too, but must not end the session unasked.
func TestIDTokenHintMustBeAnIDToken(t *testing.T) {
	h := newDPoPHarness(t)
	pk := newPKCE()
	w := h.post("/oauth/token", clientJWT, url.Values{"grant_type": {"authorization_code"}, "code": {h.codeFor(clientJWT, pk, nil)},
		"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}})
	tk := decode(t, w)
	if w.Code != http.StatusOK || len(tk.AccessToken) < 100 {
		t.Fatalf("code exchange: %d %s", w.Code, w.Body)
	}
	logoutToken, err := h.p.LogoutToken(t.Context(), clientJWT, h.user.ID, "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, hint string
		verified   bool
	}{
		{"the ID token", tk.IDToken, true},
		{"a JWT access token", tk.AccessToken, false},
		{"a logout token", logoutToken, false},
	} {
		h.logout.Store(nil)
		h.get("/end_session?" + url.Values{"id_token_hint": {c.hint}}.Encode())
		got := h.logout.Load()
		if verified := got != nil && got.HintVerified; verified != c.verified {
			t.Errorf("%s as id_token_hint: verified %v, want %v", c.name, verified, c.verified)
		}
	}
}
