package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/demorp"
	"satupintu/op"
	"satupintu/storage"
	"satupintu/storage/sqlite"
)

// linkEndpoint is a client application's account-verification endpoint, a
// boundary we do not own: served in-process on loopback, knowing one
// account.
func linkEndpoint(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.PostFormValue("username") != "app1.budi" || r.PostFormValue("password") != "sandi-app-satu" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"username": "APP1-BUDI"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// codeFlowClaims signs in to app through the browser's SSO session and
// returns the ID token claims and the userinfo of the tokens.
func (tp *testProvider) codeFlowClaims(b *browser, app string) (map[string]any, map[string]any) {
	tp.t.Helper()
	f := newFlow()
	resp, _ := b.get(tp.authURL(app, f))
	q := tp.redirectParams(resp, app)
	party := tp.relyingParty(app, f)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](tp.t.Context(), q.Get("code"), party, rp.WithCodeVerifier(f.verifier))
	if err != nil {
		tp.t.Fatalf("%s: code exchange: %v", app, err)
	}
	var idClaims map[string]any
	if err := decodeJWTPayload(tokens.IDToken, &idClaims); err != nil {
		tp.t.Fatal(err)
	}
	info, err := rp.Userinfo[*oidc.UserInfo](tp.t.Context(), tokens.AccessToken, "Bearer", tp.user.ID, party)
	if err != nil {
		tp.t.Fatalf("%s: userinfo: %v", app, err)
	}
	return idClaims, info.Claims
}

func TestAppUsernameClaimOnlyForTheLinkedClient(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	endpoint := linkEndpoint(t)
	for _, id := range []string{"app-one", "app-two"} {
		err := tp.durable.UpdateClient(ctx, id, func(c *storage.Client) error {
			c.Listed, c.LaunchURL = true, "http://"+id+".example/"
			c.AccountLinkURL = endpoint.URL + "/account-link"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	b := tp.newBrowser()
	tp.signIn(b, "app-one", newFlow())

	// Your Apps lists both, neither linked yet.
	_, page := b.get(tp.issuer + "/apps")
	if !strings.Contains(page, "App app-one") || !strings.Contains(page, "App app-two") || strings.Contains(page, "SSO terdaftar") {
		t.Fatalf("Your Apps:\n%s", page)
	}

	// Link app-one: a wrong password first, then the right one.
	_, page = b.get(tp.issuer + "/apps/app-one/link")
	form := formFields(t, page)
	form.Set("username", "app1.budi")
	form.Set("password", "salah")
	resp, page := b.post(tp.issuer+"/apps/app-one/link", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Aplikasi tidak menerima") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	form = formFields(t, page)
	form.Set("username", "app1.budi")
	form.Set("password", "sandi-app-satu")
	resp, page = b.post(tp.issuer+"/apps/app-one/link", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "SSO terdaftar") || !strings.Contains(page, "APP1-BUDI") {
		t.Fatalf("after linking: %d\n%s", resp.StatusCode, page)
	}

	// The ID token and userinfo of app-one carry the app's username ...
	idc, info := tp.codeFlowClaims(b, "app-one")
	if idc[op.ClaimAppUsername] != "APP1-BUDI" || info[op.ClaimAppUsername] != "APP1-BUDI" {
		t.Fatalf("app-one: id token %v, userinfo %v", idc[op.ClaimAppUsername], info[op.ClaimAppUsername])
	}
	// ... and app-two's do not: one application never learns the user's
	// account in another.
	idc, info = tp.codeFlowClaims(b, "app-two")
	if _, ok := idc[op.ClaimAppUsername]; ok {
		t.Fatalf("app-two's id token has app_username %v", idc[op.ClaimAppUsername])
	}
	if _, ok := info[op.ClaimAppUsername]; ok {
		t.Fatalf("app-two's userinfo has app_username %v", info[op.ClaimAppUsername])
	}

	// Unlinking stops the claim.
	_, page = b.get(tp.issuer + "/apps")
	resp, _ = b.post(tp.issuer+"/apps/app-one/unlink", formFields(t, page))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unlink: %d", resp.StatusCode)
	}
	if idc, _ := tp.codeFlowClaims(b, "app-one"); idc[op.ClaimAppUsername] != nil {
		t.Fatalf("app_username after unlinking: %v", idc[op.ClaimAppUsername])
	}

	// Discovery announces the claim.
	_, doc := b.get(tp.issuer + "/.well-known/openid-configuration")
	if !strings.Contains(doc, `"app_username"`) {
		t.Error("claims_supported lacks app_username")
	}
}

func TestSignedInHomeLinksTheAccountPages(t *testing.T) {
	tp := newTestProvider(t)
	b := tp.newBrowser()
	tp.signIn(b, "app-one", newFlow())
	_, page := b.get(tp.issuer + "/")
	for _, href := range []string{"/apps", "/profile", "/sessions", "/mfa", "/password/change", "/help", "/contact"} {
		if !strings.Contains(page, `href="`+href+`"`) {
			t.Errorf("home lacks a link to %s", href)
		}
	}
	for _, path := range []string{"/apps", "/profile", "/sessions", "/help", "/contact"} {
		if resp, _ := b.get(tp.issuer + path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	// Applications are recorded on a session when they receive tokens.
	tp.codeFlowClaims(b, "app-two")
	_, page = b.get(tp.issuer + "/sessions")
	if !strings.Contains(page, "App app-two") {
		t.Error("the sessions page does not name the app signed in to")
	}
}

func TestClientCreateListingFlags(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "e-BPOM", "--redirect-uri", "https://ebpom.example/callback",
		"--listed", "--description", "Perizinan impor obat dan makanan", "--logo-url", "https://ebpom.example/logo.png",
		"--launch-url", "https://ebpom.example/", "--trader-type", "importir", "--trader-type", "ppjk",
		"--account-link-url", "https://ebpom.example/account-link", "--require-mfa", "--json")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), c.dataDir+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.ClientByID(t.Context(), created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Listed || !got.RequireMFA || got.Description != "Perizinan impor obat dan makanan" ||
		got.LogoURL != "https://ebpom.example/logo.png" || got.LaunchURL != "https://ebpom.example/" ||
		strings.Join(got.AllowedTraderTypes, ",") != "importir,ppjk" || got.AccountLinkURL != "https://ebpom.example/account-link" {
		t.Fatalf("stored client %+v", got)
	}

	base := []string{"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb"}
	for name, extra := range map[string][]string{
		"javascript logo":         {"--logo-url", "javascript:alert(1)"},
		"data logo":               {"--logo-url", "data:image/png;base64,AAAA"},
		"plain http launch":       {"--launch-url", "http://a.example/"},
		"relative launch":         {"--launch-url", "/start"},
		"javascript launch":       {"--launch-url", "javascript:alert(1)"},
		"http link off localhost": {"--account-link-url", "http://a.example/link"},
		"file link":               {"--account-link-url", "file:///etc/passwd"},
		"link with credentials":   {"--account-link-url", "https://u:p@a.example/link"},
		"listed without launch":   {"--listed"},
		"unknown trader type":     {"--trader-type", "pedagang"},
		"multi-line description":  {"--description", "a\nb"},
	} {
		code, _, errOut := c.run("", append(append([]string{}, base...), extra...)...)
		if code != 2 || errOut == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
	// Loopback http is the demo's and the tests'.
	if code, _, errOut := c.run("", append(append([]string{}, base...), "--launch-url", "http://localhost:8081/", "--account-link-url", "http://127.0.0.1:8081/account-link")...); code != 0 {
		t.Errorf("loopback http: exit %d: %s", code, errOut)
	}
}

func TestDemoAppsAreListedAndEBPOMOffersLinking(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), dir+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out strings.Builder
	if err := seedDemo(t.Context(), db, dir, time.Now(), &out); err != nil {
		t.Fatal(err)
	}
	apps, err := demorp.LoadApps(dir + "/" + demoClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		c, err := db.ClientByID(t.Context(), a.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Listed || c.Description == "" || c.LaunchURL != a.ExternalURL {
			t.Errorf("%s: listed %v, description %q, launch %q", c.ID, c.Listed, c.Description, c.LaunchURL)
		}
		wantLink := ""
		if a.ClientID == "demo-ebpom" {
			wantLink = a.ExternalURL + demorp.AccountLinkPath
			if len(a.Accounts) != 1 || a.Accounts[0].Username != "ebpom.budi" || len(a.Accounts[0].Password) < 16 {
				t.Errorf("e-BPOM demo accounts %+v", a.Accounts)
			}
			if !strings.Contains(out.String(), "ebpom.budi password "+a.Accounts[0].Password) {
				t.Errorf("the e-BPOM account is not printed:\n%s", out.String())
			}
		}
		if c.AccountLinkURL != wantLink {
			t.Errorf("%s: account link URL %q, want %q", c.ID, c.AccountLinkURL, wantLink)
		}
	}
}
