package op

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/validate"
)

// The admin scope goes only to a client registered for the admin API: any
// other client asking for it by client_credentials is refused with
// invalid_scope, and a user's authorization request never carries it.
func TestAdminScopeOnlyForAdminAPIClients(t *testing.T) {
	h := newHarness(t)
	admin := storage.Client{ID: "console-api", Name: "console", GrantTypes: []string{storage.GrantClientCredentials},
		AccessTokenFormat: "opaque", SecretHash: password.HashSecret(testSecret), AdminAPI: true, CreatedAt: h.now}
	clients := h.dur.Durable.(storage.Clients)
	if err := clients.CreateClient(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	scoped := func(client, scope string) (*http.Response, map[string]any) {
		w := h.post("/oauth/token", client, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: answer %d is not JSON: %s", client, w.Code, w.Body)
		}
		return w.Result(), body
	}
	for _, scope := range []string{"admin", "organization admin", "admin admin"} {
		resp, body := scoped("service", scope)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" || body["access_token"] != nil {
			t.Errorf("service asking for %q: %d %v, want 400 invalid_scope", scope, resp.StatusCode, body)
		}
	}
	// The scope a token carries, as introspection tells a resource server.
	scopeOf := func(client string, body map[string]any) []string {
		at, _ := body["access_token"].(string)
		w := h.post("/oauth/introspect", client, url.Values{"token": {at}})
		var in struct {
			Active bool   `json:"active"`
			Scope  string `json:"scope"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &in); err != nil || !in.Active {
			t.Fatalf("introspect %s's token: %d %s", client, w.Code, w.Body)
		}
		return strings.Fields(in.Scope)
	}
	resp, body := scoped("service", "organization")
	if resp.StatusCode != http.StatusOK || slices.Contains(scopeOf("service", body), ScopeAdmin) {
		t.Errorf("service without admin: %d %v", resp.StatusCode, body)
	}
	resp, body = scoped("console-api", "admin")
	if resp.StatusCode != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("admin-api client: %d %v, want a token", resp.StatusCode, body)
	}
	if s := scopeOf("console-api", body); !slices.Contains(s, ScopeAdmin) {
		t.Errorf("admin-api client's token has scope %q, want admin", s)
	}

	// Taking the flag away holds from the next request (the cache is told).
	if err := clients.UpdateClient(t.Context(), admin.ID, func(c *storage.Client) error { c.AdminAPI = false; return nil }); err != nil {
		t.Fatal(err)
	}
	h.p.InvalidateClient(admin.ID)
	if resp, body := scoped("console-api", "admin"); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("after the flag is removed: %d %v, want invalid_scope", resp.StatusCode, body)
	}

	// A user's authorization request never gets it.
	c := &client{c: storage.Client{ID: "app", AdminAPI: true}}
	if c.IsScopeAllowed(ScopeAdmin) {
		t.Error("IsScopeAllowed(admin) for an authorization request")
	}
}

// validate (storage) keeps the list of signing algorithms a client may
// choose; it must be the provider's.
func TestValidateKnowsTheSigningAlgorithms(t *testing.T) {
	if got := validate.SigningAlgorithms(); !slices.Equal(got, Algorithms) {
		t.Errorf("validate.SigningAlgorithms() = %v, op.Algorithms = %v", got, Algorithms)
	}
}
