package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/op"
	"satupintu/storage"
)

// exchange redeems the code of q for app and returns the tokens.
func (tp *testProvider) exchange(app string, f flow, q interface{ Get(string) string }) *oidc.Tokens[*oidc.IDTokenClaims] {
	tp.t.Helper()
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](tp.t.Context(), q.Get("code"), tp.relyingParty(app, f), rp.WithCodeVerifier(f.verifier))
	if err != nil {
		tp.t.Fatalf("code exchange for %s: %v", app, err)
	}
	return tokens
}

// orgClaim decodes the organization claim of an ID token.
func orgClaim(t testing.TB, tokens *oidc.Tokens[*oidc.IDTokenClaims]) op.OrganizationClaim {
	t.Helper()
	var org op.OrganizationClaim
	raw, _ := json.Marshal(tokens.IDTokenClaims.Claims[op.ClaimOrganization])
	if err := json.Unmarshal(raw, &org); err != nil {
		t.Fatalf("organization claim %s: %v", raw, err)
	}
	return org
}

// A member of two companies chooses one per application after signing in;
// the choice is remembered for that application only, and the claim
// carries the chosen organization with its id.
func TestOrganizationChooserRememberedPerApp(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	second := storage.Organization{ID: storage.NewID(), NIB: "9120002222222", NPWP: "012222222222000",
		Name: "PT Kedua Logistik", TraderType: "ppjk", BusinessType: "pt", CreatedAt: tp.clock.Now()}
	if err := tp.durable.CreateOrganization(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := tp.durable.AddMembership(ctx, storage.Membership{OrganizationID: second.ID, UserID: tp.user.ID,
		Role: storage.MemberStaff, CreatedAt: tp.clock.Now()}); err != nil {
		t.Fatal(err)
	}

	b := tp.newBrowser()
	f := newFlow()
	resp, page := b.get(tp.authURL("app-one", f))
	form := formFields(t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	resp, page = b.post(tp.issuer+"/login", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/organization" ||
		!strings.Contains(page, "PT Kedua Logistik") || !strings.Contains(page, tp.org.Name) {
		t.Fatalf("after sign-in: %d %s, want the chooser:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	choose := formFields(t, page)
	choose.Set("organization", second.ID)
	resp, _ = b.post(tp.issuer+"/organization", choose)
	org := orgClaim(t, tp.exchange("app-one", f, tp.redirectParams(resp, "app-one")))
	if org.ID != second.ID || org.NIB != second.NIB {
		t.Fatalf("claim after choosing = %+v, want %s", org, second.ID)
	}

	// Remembered for app-one: single sign-on goes straight through.
	f2 := newFlow()
	resp, _ = b.get(tp.authURL("app-one", f2))
	if org := orgClaim(t, tp.exchange("app-one", f2, tp.redirectParams(resp, "app-one"))); org.ID != second.ID {
		t.Errorf("second sign-in to app-one carries %s, want the remembered %s", org.ID, second.ID)
	}

	// Not for app-two: it asks again; the default is preselected.
	f3 := newFlow()
	resp, page = b.get(tp.authURL("app-two", f3))
	if resp.Request.URL.Path != "/organization" {
		t.Fatalf("app-two went to %s, want the chooser", resp.Request.URL)
	}
	choose = formFields(t, page)
	choose.Set("organization", tp.org.ID)
	resp, _ = b.post(tp.issuer+"/organization", choose)
	if org := orgClaim(t, tp.exchange("app-two", f3, tp.redirectParams(resp, "app-two"))); org.ID != tp.org.ID {
		t.Errorf("app-two carries %s, want %s", org.ID, tp.org.ID)
	}
}

// Removing a member ends their access token at introspection at once.
func TestRemovedMemberTokenIsInactive(t *testing.T) {
	tp := newTestProvider(t)
	b := tp.newBrowser()
	f := newFlow()
	tokens := tp.exchange("app-one", f, tp.signIn(b, "app-one", f))
	if org := orgClaim(t, tokens); org.ID != tp.org.ID {
		t.Fatalf("claim id %q, want %q", org.ID, tp.org.ID)
	}
	if !tp.introspect("app-one", tokens.AccessToken) {
		t.Fatal("fresh token inactive")
	}
	if err := tp.durable.RemoveMembership(t.Context(), tp.org.ID, tp.user.ID); err != nil {
		t.Fatal(err)
	}
	if tp.introspect("app-one", tokens.AccessToken) {
		t.Error("token of a removed member is still active")
	}
}
