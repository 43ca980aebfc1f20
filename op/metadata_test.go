package op

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The RFC 8414 metadata is the same curated document as OIDC discovery:
// an OAuth client reading it sees what satupintu does, nothing more.
func TestAuthorizationServerMetadataIsDiscovery(t *testing.T) {
	h := newHarness(t)
	oidc := h.get("/.well-known/openid-configuration")
	oauth := h.get("/.well-known/oauth-authorization-server")
	if oidc.Code != http.StatusOK || oauth.Code != http.StatusOK {
		t.Fatalf("statuses %d and %d", oidc.Code, oauth.Code)
	}
	if oidc.Body.String() != oauth.Body.String() {
		t.Fatal("the two metadata documents differ")
	}
	var doc struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(oauth.Body.Bytes(), &doc); err != nil || doc.Issuer == "" || doc.AuthorizationEndpoint == "" || doc.TokenEndpoint == "" {
		t.Fatalf("metadata %+v (%v)", doc, err)
	}
	r, _ := http.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil)
	r.Header.Set("Origin", "https://spa.example")
	if got := h.serve(r).Header().Get("Access-Control-Allow-Origin"); got == "" {
		t.Error("no CORS on the metadata: a browser client could not read it")
	}
}
