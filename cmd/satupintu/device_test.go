package main

import (
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"satupintu/op"
	"satupintu/quota"
	"satupintu/storage"
	"satupintu/templates"
	"satupintu/totp"
)

// deviceScopes is what the command-line tool of the tests asks for.
var deviceScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess, op.ScopeOrganization}

// addDeviceClients registers a command-line tool (public), a kiosk
// (confidential) and a kiosk that requires a second factor.
func (tp *testProvider) addDeviceClients() {
	tp.t.Helper()
	tp.addClient("cli", true, op.GrantDeviceCode, storage.GrantRefreshToken)
	tp.addClient("kiosk", false, op.GrantDeviceCode)
	tp.addClient("kiosk-mfa", false, op.GrantDeviceCode)
	if err := tp.durable.UpdateClient(tp.t.Context(), "kiosk-mfa", func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		tp.t.Fatal(err)
	}
}

// deviceParty is the relying party of a device client.
func (tp *testProvider) deviceParty(id string) rp.RelyingParty {
	tp.t.Helper()
	a := tp.apps[id]
	var opts []rp.Option
	if a.secret != "" {
		opts = append(opts, rp.WithAuthStyle(oauth2.AuthStyleInHeader)) // client_secret_basic
	}
	party, err := rp.NewRelyingPartyOIDC(tp.t.Context(), tp.issuer, a.id, a.secret, "", deviceScopes, opts...)
	if err != nil {
		tp.t.Fatalf("relying party %s: %v", id, err)
	}
	return party
}

// startDevice asks for a device authorization with zitadel's RP library.
func (tp *testProvider) startDevice(id string) *oidc.DeviceAuthorizationResponse {
	tp.t.Helper()
	resp, err := rp.DeviceAuthorization(tp.t.Context(), deviceScopes, tp.deviceParty(id), nil)
	if err != nil {
		tp.t.Fatalf("device authorization of %s: %v", id, err)
	}
	return resp
}

// pollDevice polls the token endpoint once (rp.DeviceAccessToken would
// sleep between polls; the tests move the provider's clock instead).
func (tp *testProvider) pollDevice(id, deviceCode string) (*oidc.AccessTokenResponse, string) {
	tp.t.Helper()
	party := tp.deviceParty(id)
	req := &client.DeviceAccessTokenRequest{
		ClientCredentialsRequest: &oidc.ClientCredentialsRequest{ClientID: id},
		DeviceAccessTokenRequest: oidc.DeviceAccessTokenRequest{GrantType: oidc.GrantTypeDeviceCode, DeviceCode: deviceCode},
	}
	var auth any
	if secret := tp.apps[id].secret; secret != "" {
		req.ClientCredentialsRequest = &oidc.ClientCredentialsRequest{}
		auth = httphelper.AuthorizeBasic(id, secret)
	}
	resp, err := client.CallDeviceAccessTokenEndpointWithAuthFn(tp.t.Context(), req, tokenCaller{party}, auth)
	if err == nil {
		return resp, ""
	}
	var e *oidc.Error
	if !errors.As(err, &e) {
		tp.t.Fatalf("poll: %v", err)
	}
	return nil, string(e.ErrorType)
}

// tokenCaller points zitadel's client helpers at the party's token endpoint.
type tokenCaller struct{ rp.RelyingParty }

func (c tokenCaller) TokenEndpoint() string { return c.OAuthConfig().Endpoint.TokenURL }

var csrfField = regexp.MustCompile(`name="csrf_token"\s+value="([^"]*)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// signInAtDevice opens verification_uri_complete in a fresh browser: the
// device page sends it to sign in and back, with the code prefilled.
func (tp *testProvider) signInAtDevice(complete, userCode string) (*browser, string) {
	tp.t.Helper()
	b := tp.newBrowser()
	resp, page := b.get(complete)
	if resp.Request.URL.Path != "/login" || !strings.Contains(page, `name="password"`) {
		tp.t.Fatalf("device page without a session: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	form := formFields(tp.t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	resp, page = b.post(tp.issuer+"/login", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/device" {
		tp.t.Fatalf("after sign-in: %d at %s, want back at /device", resp.StatusCode, resp.Request.URL)
	}
	if !strings.Contains(page, `value="`+userCode+`"`) {
		tp.t.Fatalf("the code %s is not prefilled:\n%s", userCode, page)
	}
	return b, page
}

// submitCode posts a code on the device page.
func (b *browser) submitCode(page, code string) (*http.Response, string) {
	b.t.Helper()
	return b.post(b.issuer.String()+"/device", url.Values{"csrf_token": {csrfOf(b.t, page)}, "user_code": {code}})
}

func mustPages(t testing.TB) *templates.Pages {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// The whole device flow over HTTP: the CLI asks, polls (pending, too fast),
// the user signs in from verification_uri_complete, checks the code and
// the application, allows it, and the CLI's next poll gets tokens with the
// code flow's claims, once.
func TestDeviceFlowEndToEnd(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	pages := mustPages(t)
	ctx := t.Context()

	da := tp.startDevice("cli")
	if da.VerificationURI != tp.issuer+"/device" || da.Interval != 5 || da.ExpiresIn != 600 {
		t.Errorf("device authorization answer %+v", da)
	}
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "authorization_pending" {
		t.Errorf("first poll: %q, want authorization_pending", e)
	}
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "slow_down" {
		t.Errorf("second poll at once: %q, want slow_down", e)
	}

	b, page := tp.signInAtDevice(da.VerificationURIComplete, da.UserCode)
	// The page is an authentication page: not cached, not framed, no
	// Referer (ASVS 14.3.2, RFC 9700 §4.16, §4.2.4).
	resp, _ := b.get(da.VerificationURIComplete)
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("device page %s = %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("device page CSP %q", csp)
	}
	// State changes only by POST with the CSRF token (ASVS 3.5.1, 3.5.3).
	if resp, _ := b.get(tp.issuer + "/device/decide?user_code=" + url.QueryEscape(da.UserCode) + "&decision=allow"); resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /device/decide: %d", resp.StatusCode)
	}
	if resp, _ := b.post(tp.issuer+"/device", url.Values{"user_code": {da.UserCode}}); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("code without CSRF token: %d", resp.StatusCode)
	}
	// The code typed in lower case and without the dash is the same code.
	resp, page = b.submitCode(page, strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="device-allow"`) {
		t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, page)
	}
	// RFC 8628 §5.4: the page names the application and the code.
	for _, want := range []string{"App cli", da.UserCode, html.EscapeString(pages.T("id", "account.consent.scope.organization"))} {
		if !strings.Contains(page, want) {
			t.Errorf("confirmation page lacks %q", want)
		}
	}
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "slow_down" {
		t.Errorf("poll before the interval: %q, want slow_down", e) // the interval grew to 10 s
	}
	tp.clock.Advance(16 * time.Second) // two slow_downs: 15 s
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "authorization_pending" {
		t.Errorf("poll while the user decides: %q, want authorization_pending", e)
	}

	// Without the CSRF token the decision is refused.
	resp, _ = b.post(tp.issuer+"/device/decide", url.Values{"user_code": {da.UserCode}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("decision without CSRF token: %d", resp.StatusCode)
	}
	resp, page = b.post(tp.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/device/done" ||
		!strings.Contains(page, pages.T("id", "device.done.approved")) {
		t.Fatalf("after allow: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	tp.clock.Advance(16 * time.Second)
	tokens, e := tp.pollDevice("cli", da.DeviceCode)
	if e != "" || tokens.AccessToken == "" || tokens.IDToken == "" || tokens.RefreshToken == "" {
		t.Fatalf("poll after approval: %q %+v", e, tokens)
	}
	var claims struct {
		Sub          string   `json:"sub"`
		SID          string   `json:"sid"`
		AMR          []string `json:"amr"`
		AuthTime     int64    `json:"auth_time"`
		Name         string   `json:"name"`
		Organization struct {
			NIB string `json:"nib"`
		} `json:"organization"`
	}
	if err := decodeJWTPayload(tokens.IDToken, &claims); err != nil {
		t.Fatal(err)
	}
	sessions, err := tp.ephemeral.UserSessions(ctx, tp.user.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions %v %v", sessions, err)
	}
	s := sessions[0]
	if claims.Sub != tp.user.ID || claims.Name != tp.user.Name || claims.Organization.NIB != tp.org.NIB ||
		claims.SID != s.SID || !slices.Contains(claims.AMR, storage.AMRPassword) || claims.AuthTime != s.AuthTime.Unix() {
		t.Errorf("ID token claims %+v", claims)
	}
	// The session records the client, for the back-channel logout.
	if !slices.Contains(s.ClientIDs, "cli") {
		t.Errorf("session clients %v lack cli", s.ClientIDs)
	}
	info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, oidc.BearerToken, tp.user.ID, tp.deviceParty("cli"))
	if err != nil || info.Subject != tp.user.ID {
		t.Errorf("userinfo: %+v %v", info, err)
	}
	// A device code yields tokens once.
	tp.clock.Advance(11 * time.Second)
	if _, e := tp.pollDevice("cli", da.DeviceCode); e != "access_denied" {
		t.Errorf("poll after the tokens: %q, want access_denied", e)
	}
	// The used code cannot be approved again either.
	_, page = b.get(tp.issuer + "/device")
	_, page = b.submitCode(page, da.UserCode)
	if !strings.Contains(page, pages.T("id", "device.code_used")) {
		t.Errorf("a used code: %s", page)
	}
	audit := tp.auditActions(t)
	for _, want := range []string{"device.approve", "device.token"} {
		if !slices.Contains(audit, want) {
			t.Errorf("audit lacks %s: %v", want, audit)
		}
	}
}

// auditActions lists the audit log's actions.
func (tp *testProvider) auditActions(t *testing.T) []string {
	t.Helper()
	events, err := tp.durable.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func TestDeviceFlowDeniedAndExpired(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	pages := mustPages(t)

	// The kiosk authenticates; the user denies it.
	denied := tp.startDevice("kiosk")
	b, page := tp.signInAtDevice(denied.VerificationURIComplete, denied.UserCode)
	_, page = b.submitCode(page, denied.UserCode)
	resp, page := b.post(tp.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {denied.UserCode}, "decision": {"deny"}})
	if resp.Request.URL.Path != "/device/done" || !strings.Contains(page, pages.T("id", "device.done.denied")) {
		t.Fatalf("after deny: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if _, e := tp.pollDevice("kiosk", denied.DeviceCode); e != "access_denied" {
		t.Errorf("poll after denial: %q, want access_denied", e)
	}
	if !slices.Contains(tp.auditActions(t), "device.deny") {
		t.Error("no device.deny audit event")
	}

	// A code past its lifetime: expired_token for the device, the friendly
	// message (not an error page) for the user.
	late := tp.startDevice("cli")
	tp.clock.Advance(op.DeviceLifetime)
	if _, e := tp.pollDevice("cli", late.DeviceCode); e != "expired_token" {
		t.Errorf("poll after the lifetime: %q, want expired_token", e)
	}
	_, page = b.get(tp.issuer + "/device")
	resp, page = b.submitCode(page, late.UserCode)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, pages.T("id", "device.code_invalid")) || strings.Contains(page, `id="device-allow"`) {
		t.Errorf("expired code on the page: %d\n%s", resp.StatusCode, page)
	}
}

// A client that requires a second factor is not allowed from a session
// signed in with the password alone.
func TestDeviceRequiresMFAForItsClient(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	pages := mustPages(t)
	da := tp.startDevice("kiosk-mfa")
	b, page := tp.signInAtDevice(da.VerificationURIComplete, da.UserCode)
	_, page = b.submitCode(page, da.UserCode)
	if !strings.Contains(page, pages.T("id", "device.mfa_required")) || strings.Contains(page, `id="device-allow"`) {
		t.Fatalf("MFA client from a password session:\n%s", page)
	}
	// Posting the decision directly changes nothing.
	b.post(tp.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}})
	if _, e := tp.pollDevice("kiosk-mfa", da.DeviceCode); e != "authorization_pending" {
		t.Errorf("poll: %q, want authorization_pending", e)
	}
}

// Wrong codes are limited per address: after ten, even the right code is
// refused with 429 and a friendly message, and nothing internal shows.
func TestDeviceWrongCodesAreLimited(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	pages := mustPages(t)
	da := tp.startDevice("cli")
	b, page := tp.signInAtDevice(da.VerificationURIComplete, da.UserCode)
	for i := range 10 {
		wrong := "BCDF-GHJ" + string("BCDFGHJKLM"[i])
		if wrong == da.UserCode {
			wrong = "ZZZZ-ZZZZ"
		}
		resp, next := b.submitCode(page, wrong)
		if resp.StatusCode != http.StatusOK || !strings.Contains(next, pages.T("id", "device.code_invalid")) {
			t.Fatalf("wrong code %d: %d\n%s", i+1, resp.StatusCode, next)
		}
		page = next
	}
	resp, next := b.submitCode(page, da.UserCode)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(next, pages.T("id", "device.too_many")) {
		t.Fatalf("after ten wrong codes: %d %v\n%s", resp.StatusCode, resp.Header, next)
	}
	for _, leak := range []string{"quota", "allowance", "device:"} {
		if strings.Contains(next, leak) {
			t.Errorf("page shows %q", leak)
		}
	}
	// The decision form is no way around the limit.
	resp, _ = b.post(tp.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("decision after the limit: %d", resp.StatusCode)
	}
}

func TestDeviceAuthorizationRefusesClients(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	post := func(form url.Values, id, secret string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, tp.issuer+"/device_authorization", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e oidc.Error
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
		}
		return resp.StatusCode, string(e.ErrorType)
	}
	if status, e := post(url.Values{"client_id": {"nobody"}, "scope": {"openid"}}, "", ""); status != http.StatusUnauthorized || e != "invalid_client" {
		t.Errorf("unknown client: %d %s", status, e)
	}
	if status, e := post(url.Values{"scope": {"openid"}}, "app-one", tp.apps["app-one"].secret); status != http.StatusBadRequest || e != "unauthorized_client" {
		t.Errorf("client without the device grant: %d %s", status, e)
	}
	if status, e := post(url.Values{"client_id": {"kiosk"}, "scope": {"openid"}}, "", ""); status != http.StatusUnauthorized || e != "invalid_client" {
		t.Errorf("confidential client without credentials: %d %s", status, e)
	}
}

// deviceLimit is small so the test stays quick; the default is in limits.go.
var deviceLimit = quota.Limit{Name: "device", PerAddress: 3, Total: 8, Window: op.DeviceRecordLifetime}

// New device authorizations are limited per address, an IPv6 /64 counting
// as one address, and in total.
func TestDeviceAuthorizationLimitPerAddress(t *testing.T) {
	tp := newTestProviderHash(t, cheapHash, func(c *Config) {
		c.Limits.Device = deviceLimit
		for _, cidr := range []string{"127.0.0.0/8", "::1/128"} {
			_, n, _ := net.ParseCIDR(cidr)
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
	})
	tp.addDeviceClients()
	start := func(addr string) int {
		form := url.Values{"client_id": {"cli"}, "scope": {"openid"}}
		req, _ := http.NewRequest(http.MethodPost, tp.issuer+"/device_authorization", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return resp.StatusCode
	}
	count := func(addr func(i int) string, n int) (ok, refused int) {
		for i := range n {
			switch status := start(addr(i)); status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("request %d: status %d", i, status)
			}
		}
		return ok, refused
	}
	if ok, refused := count(func(int) string { return "198.51.100.7" }, 5); ok != 3 || refused != 2 {
		t.Errorf("one IPv4 address: %d allowed, %d refused; want 3 and 2", ok, refused)
	}
	if ok, refused := count(func(i int) string { return fmt.Sprintf("2001:db8:7:7::%x", i+1) }, 5); ok != 3 || refused != 2 {
		t.Errorf("five addresses of one /64: %d allowed, %d refused; want 3 and 2", ok, refused)
	}
	// 6 of the total of 8 are used: two more addresses get theirs, the next is refused.
	if ok, refused := count(func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }, 3); ok != 2 || refused != 1 {
		t.Errorf("after the total: %d allowed, %d refused; want 2 and 1", ok, refused)
	}
}

// The admin gives a client the device grant at creation or later, by its
// short name or its URN.
func TestDeviceClientCommands(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "Bea Cukai CLI", "--public",
		"--grant-type", "device_code", "--grant-type", "refresh_token", "--json")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if strings.Join(created.GrantTypes, ",") != storage.GrantDeviceCode+",refresh_token" || created.ClientSecret != "" {
		t.Errorf("created %+v", created)
	}

	code, out, errOut = c.run("", "client", "create", "--name", "Kios", "--redirect-uri", "https://kios.example/cb", "--json")
	if code != 0 {
		t.Fatalf("create kiosk: exit %d: %s", code, errOut)
	}
	var kiosk clientJSON
	json.Unmarshal([]byte(out), &kiosk)
	code, out, errOut = c.run("", "client", "update", kiosk.ClientID, "--grant-type", "authorization_code",
		"--grant-type", storage.GrantDeviceCode, "--json")
	if code != 0 || !strings.Contains(out, storage.GrantDeviceCode) {
		t.Fatalf("update: exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut = c.run("", "client", "update", kiosk.ClientID, "--grant-type", "password"); code != 2 || !strings.Contains(errOut, "not one of") {
		t.Errorf("unknown grant: exit %d %q", code, errOut)
	}
}

// A member of two companies chooses on the confirmation page which one the
// device's application receives; the tokens carry it, as after the code
// flow's chooser, and the choice is remembered for that application.
func TestDeviceFlowOrganizationChoice(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
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
	da := tp.startDevice("cli")
	b, page := tp.signInAtDevice(da.VerificationURIComplete, da.UserCode)
	_, page = b.submitCode(page, da.UserCode)
	if !strings.Contains(page, `name="organization"`) || !strings.Contains(page, second.Name) {
		t.Fatalf("no organization choice on the confirmation page:\n%s", page)
	}
	decide := url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}}
	decide.Set("organization", "not-mine")
	if resp, _ := b.post(tp.issuer+"/device/decide", decide); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("someone else's organization: %d", resp.StatusCode)
	}
	decide.Set("organization", second.ID)
	if resp, _ := b.post(tp.issuer+"/device/decide", decide); resp.Request.URL.Path != "/device/done" {
		t.Fatalf("allow: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	tokens, e := tp.pollDevice("cli", da.DeviceCode)
	if e != "" {
		t.Fatalf("poll: %s", e)
	}
	var claims struct {
		Organization struct {
			ID  string `json:"id"`
			NIB string `json:"nib"`
		} `json:"organization"`
	}
	if err := decodeJWTPayload(tokens.IDToken, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Organization.ID != second.ID || claims.Organization.NIB != second.NIB {
		t.Errorf("organization claim %+v, want %s", claims.Organization, second.ID)
	}
	if got, err := tp.durable.ChosenOrganization(ctx, tp.user.ID, "cli"); err != nil || got != second.ID {
		t.Errorf("remembered choice %q %v", got, err)
	}
	// One event, stored with the choice; the refused one wrote none.
	events, _ := tp.durable.ListAudit(ctx, 0, 100)
	var chosen []storage.AuditEvent
	for _, e := range events {
		if e.Action == "organization.choose" {
			chosen = append(chosen, e)
		}
	}
	if len(chosen) != 1 || chosen[0].ActorID != tp.user.ID || chosen[0].Subject != second.ID || chosen[0].ClientID != "cli" {
		t.Errorf("organization.choose events %+v", chosen)
	}
}

// A user with a second factor signs in at the device page (password, then
// the code) and comes back to it; the session then satisfies a kiosk that
// requires a second factor, and the tokens say so.
func TestDeviceFlowWithSecondFactor(t *testing.T) {
	tp := newTestProvider(t)
	tp.addDeviceClients()
	ctx := t.Context()
	// Enrol through a code flow of a client requiring MFA, as a user would.
	tp.addClient("customs", false, storage.GrantAuthorizationCode)
	if err := tp.durable.UpdateClient(ctx, "customs", func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eb := tp.newBrowser()
	_, page := tp.passwordStep(eb, "customs", newFlow())
	m := mfaSecret.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no enrolment page:\n%s", page)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	tp.submitStep(eb, page, totp.Code(secret, tp.clock.Now()))
	if u, err := tp.durable.UserByID(ctx, tp.user.ID); err != nil || !u.MFAEnrolled() {
		t.Fatalf("enrolment: %v", err)
	}
	tp.clock.Advance(totp.Period)

	da := tp.startDevice("kiosk-mfa")
	b := tp.newBrowser()
	resp, page := b.get(da.VerificationURIComplete)
	form := formFields(t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	resp, page = b.post(tp.issuer+"/login", form)
	if resp.Request.URL.Path != "/login/mfa" {
		t.Fatalf("after the password: %s", resp.Request.URL)
	}
	resp, page = tp.submitStep(b, page, totp.Code(secret, tp.clock.Now()))
	if resp.Request.URL.Path != "/device" || !strings.Contains(page, `value="`+da.UserCode+`"`) {
		t.Fatalf("after the second factor: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	_, page = b.submitCode(page, da.UserCode)
	if !strings.Contains(page, `id="device-allow"`) {
		t.Fatalf("no confirmation for the MFA session:\n%s", page)
	}
	b.post(tp.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}})
	tokens, e := tp.pollDevice("kiosk-mfa", da.DeviceCode)
	if e != "" {
		t.Fatalf("poll: %s", e)
	}
	var claims struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
	}
	if err := decodeJWTPayload(tokens.IDToken, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.ACR != storage.ACRMFA || !slices.Contains(claims.AMR, storage.AMRMFA) {
		t.Errorf("acr %q amr %v", claims.ACR, claims.AMR)
	}
}

// On Postgres and Redis with two nodes: the device starts on one node, the
// user allows it on the other, the device polls either, and the tokens
// come once (the store, not a node, holds the state).
func TestDeviceFlowOnTwoNodes(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	c.addClient("cli", true, op.GrantDeviceCode, storage.GrantRefreshToken)

	c.on(0)
	da := c.startDevice("cli")
	if _, e := c.pollDevice("cli", da.DeviceCode); e != "authorization_pending" {
		t.Errorf("first poll on A: %q", e)
	}
	c.on(1)
	if _, e := c.pollDevice("cli", da.DeviceCode); e != "slow_down" {
		t.Errorf("poll at once on B: %q, want slow_down (the last poll is shared)", e)
	}
	b, page := c.signInAtDevice(da.VerificationURIComplete, da.UserCode)
	_, page = b.submitCode(page, da.UserCode)
	resp, _ := b.post(c.issuer+"/device/decide", url.Values{"csrf_token": {csrfOf(t, page)}, "user_code": {da.UserCode}, "decision": {"allow"}})
	if resp.Request.URL.Path != "/device/done" {
		t.Fatalf("allow on B: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	c.on(0)
	c.nodes[0].clock.Advance(time.Minute)
	tokens, e := c.pollDevice("cli", da.DeviceCode)
	if e != "" || tokens.IDToken == "" {
		t.Fatalf("poll on A after allow on B: %q", e)
	}
	c.on(1)
	c.nodes[1].clock.Advance(time.Minute)
	if _, e := c.pollDevice("cli", da.DeviceCode); e != "access_denied" {
		t.Errorf("second poll on B: %q, want access_denied", e)
	}
}
