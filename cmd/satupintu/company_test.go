package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/op"
	"satupintu/storage"
	"satupintu/storage/sqlite"
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

// user create --organization attaches the new user to the company by NIB:
// its administrator when it has none, a member otherwise.
func TestUserCreateWithOrganization(t *testing.T) {
	c := cli{t, t.TempDir()}
	ctx := t.Context()
	// The first run creates the database; the organization goes in beside it.
	if code, _, errOut := c.run("kata sandi yang panjang\n", "user", "create", "--username", "petugas",
		"--email", "petugas@contoh.go.id", "--password-stdin"); code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.dataDir, "satupintu.db"))
	if err != nil {
		t.Fatal(err)
	}
	org := storage.Organization{ID: storage.NewID(), NIB: "8120309876543", NPWP: "012345678901000", Name: "PT Grup Contoh",
		TraderType: "importir", BusinessType: "pt"}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	st.Close()

	create := func(user, nib string) (int, string, string) {
		return c.run("kata sandi yang panjang\n", "user", "create", "--username", user, "--email", user+"@grup.co.id",
			"--password-stdin", "--organization", nib)
	}
	if code, _, errOut := create("nobody", "9999999999999"); code != 2 || !strings.Contains(errOut, "no organization") {
		t.Errorf("unknown NIB: exit %d %q", code, errOut)
	}
	if code, _, errOut := create("nobody", "12-34"); code != 2 || !strings.Contains(errOut, "not a NIB") {
		t.Errorf("malformed NIB: exit %d %q", code, errOut)
	}
	code, out, errOut := create("andi", "8120 3098 76543")
	if code != 0 || !strings.Contains(out, org.ID) || !strings.Contains(out, "as admin") {
		t.Fatalf("first member: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut = create("bela", "8120309876543")
	if code != 0 || !strings.Contains(out, "as member") {
		t.Fatalf("second member: exit %d %q %q", code, out, errOut)
	}
	st, err = sqlite.Open(ctx, filepath.Join(c.dataDir, "satupintu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	members, err := st.Members(ctx, org.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members = (%+v, %v)", members, err)
	}
	if _, err := st.UserByLogin(ctx, "nobody"); err == nil {
		t.Error("a refused create made the user")
	}
}
