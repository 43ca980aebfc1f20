package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/quota"
	"satupintu/storage"
)

// Device clients of the tests: a command-line tool (public) and a kiosk
// (confidential), both allowed refresh tokens.
func (h *harness) addDeviceClients() {
	h.t.Helper()
	clients := h.dur.Durable.(interface {
		CreateClient(context.Context, storage.Client) error
	})
	for _, c := range []storage.Client{
		{ID: "cli", Name: "Bea Cukai CLI", Public: true},
		{ID: "kiosk", Name: "Kios Pabean", SecretHash: password.HashSecret(testSecret)},
	} {
		c.GrantTypes = []string{GrantDeviceCode, storage.GrantRefreshToken}
		c.AccessTokenFormat, c.CreatedAt = "opaque", h.now
		if err := clients.CreateClient(context.Background(), c); err != nil {
			h.t.Fatal(err)
		}
	}
}

type deviceAnswer struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// postAs sends form to path with the client authenticated by Basic
// ("basic"), by client_secret in the body ("post"), or not at all ("").
func (h *harness) postAs(path, clientID, how string, form url.Values) *httptest.ResponseRecorder {
	form = cloneValues(form)
	form.Set("client_id", clientID)
	if how == "post" {
		form.Set("client_secret", testSecret)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if how == "basic" {
		form.Del("client_id")
		r = httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(clientID, testSecret)
	}
	return h.serve(r)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

var userCodeShape = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// startDevice runs a device authorization request and checks the answer.
func (h *harness) startDevice(clientID, how, scope string) deviceAnswer {
	h.t.Helper()
	w := h.postAs("/device_authorization", clientID, how, url.Values{"scope": {scope}})
	if w.Code != http.StatusOK {
		h.t.Fatalf("device authorization: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		h.t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var a deviceAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) poll(clientID, how, deviceCode string) (*httptest.ResponseRecorder, tokens) {
	h.t.Helper()
	w := h.postAs("/oauth/token", clientID, how, url.Values{"grant_type": {GrantDeviceCode}, "device_code": {deviceCode}})
	return w, decode(h.t, w)
}

// decide records the user's answer as the user-code page does.
func (h *harness) decide(userCode, state string, s storage.Session) {
	h.t.Helper()
	code, ok := storage.NormalizeUserCode(userCode)
	if !ok {
		h.t.Fatalf("user code %q", userCode)
	}
	ctx := context.Background()
	d, err := h.mem.DeviceAuthorizationByUserCode(ctx, code)
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.mem.UpdateDeviceAuthorization(ctx, d.ID, func(d *storage.DeviceAuthorization) error {
		d.State = state
		if state == storage.DeviceApproved {
			d.UserID, d.AuthTime, d.AMR, d.SessionID, d.SID = s.UserID, s.AuthTime, s.AMR, s.ID, s.SID
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) session() storage.Session {
	h.t.Helper()
	s := storage.Session{ID: storage.NewID(), SID: storage.NewID(), UserID: h.user.ID, AuthTime: h.now.Add(-time.Minute),
		AMR: []string{storage.AMRPassword, storage.AMRMFA}, CreatedAt: h.now, ExpiresAt: h.now.Add(time.Hour)}
	if err := h.mem.CreateSession(context.Background(), s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func wantError(t *testing.T, what string, w *httptest.ResponseRecorder, tk tokens, status int, code string) {
	t.Helper()
	if w.Code != status || tk.Error != code || tk.AccessToken != "" {
		t.Errorf("%s: %d %s, want %d %s", what, w.Code, w.Body, status, code)
	}
	checkNoLeak(t, what, w)
}

// The whole protocol side of RFC 8628 with a public client: the codes'
// shape, authorization_pending, slow_down on the injected clock, tokens
// once with the session's claims, and nothing after.
func TestDeviceFlowPublicClient(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	a := h.startDevice("cli", "", "openid profile offline_access unknown-scope")
	if !userCodeShape.MatchString(a.UserCode) {
		t.Errorf("user code %q is not XXXX-XXXX of consonants (RFC 8628 §6.1)", a.UserCode)
	}
	if len(a.DeviceCode) < 22 { // 16 random bytes, base64url
		t.Errorf("device code %q is shorter than 128 bits", a.DeviceCode)
	}
	if a.VerificationURI != testIssuer+"/device" || a.VerificationURIComplete != testIssuer+"/device?user_code="+a.UserCode {
		t.Errorf("verification URIs %q %q", a.VerificationURI, a.VerificationURIComplete)
	}
	if a.ExpiresIn != 600 || a.Interval != 5 {
		t.Errorf("expires_in %d, interval %d; want 600 and 5", a.ExpiresIn, a.Interval)
	}

	w, tk := h.poll("cli", "", a.DeviceCode)
	wantError(t, "first poll", w, tk, http.StatusBadRequest, "authorization_pending")
	w, tk = h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll at once again", w, tk, http.StatusBadRequest, "slow_down")
	// The interval grew to 10 s (RFC 8628 §3.5): 5 s later is still too soon.
	h.now = h.now.Add(5 * time.Second)
	w, tk = h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll after the old interval", w, tk, http.StatusBadRequest, "slow_down")
	h.now = h.now.Add(15 * time.Second)
	w, tk = h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll after the new interval", w, tk, http.StatusBadRequest, "authorization_pending")

	s := h.session()
	h.decide(a.UserCode, storage.DeviceApproved, s)
	h.now = h.now.Add(20 * time.Second)
	w, tk = h.poll("cli", "", a.DeviceCode)
	if w.Code != http.StatusOK || tk.AccessToken == "" || tk.IDToken == "" || tk.RefreshToken == "" {
		t.Fatalf("poll after approval: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token answer Cache-Control %q", cc)
	}
	var claims struct {
		Sub      string   `json:"sub"`
		Aud      any      `json:"aud"`
		SID      string   `json:"sid"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		Name     string   `json:"name"`
		ACR      string   `json:"acr"`
	}
	if err := decodePayload(tk.IDToken, &claims); err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tk.IDToken, ".")[1]); strings.Count(string(raw), `"acr"`) != 1 {
		t.Errorf("acr not exactly once in %s", raw)
	}
	if claims.ACR != storage.ACRMFA {
		t.Errorf("acr %q, want %q for a session with a second factor", claims.ACR, storage.ACRMFA)
	}
	if claims.Sub != h.user.ID || claims.SID != s.SID || !slices.Contains(claims.AMR, storage.AMRMFA) ||
		claims.AuthTime != s.AuthTime.Unix() || claims.Name != h.user.Name || !strings.Contains(fmt.Sprint(claims.Aud), "cli") {
		t.Errorf("ID token claims %+v", claims)
	}
	// The session knows the client now, for the back-channel logout.
	got, err := h.mem.SessionByID(context.Background(), s.ID)
	if err != nil || !slices.Contains(got.ClientIDs, "cli") {
		t.Errorf("session clients %v (%v), want cli", got.ClientIDs, err)
	}
	// The access token works at userinfo.
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if w := h.serve(r); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), h.user.ID) {
		t.Errorf("userinfo: %d %s", w.Code, w.Body)
	}

	h.now = h.now.Add(20 * time.Second)
	refresh := tk.RefreshToken
	w, tk = h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll after the tokens", w, tk, http.StatusBadRequest, "access_denied")

	// The public tool refreshes with its client_id alone, and the new ID
	// token keeps the authentication's amr.
	w = h.postAs("/oauth/token", "cli", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if tk = decode(t, w); w.Code != http.StatusOK || tk.AccessToken == "" || tk.RefreshToken == "" || tk.RefreshToken == refresh {
		t.Errorf("refresh: %d %s", w.Code, w.Body)
	}
}

func decodePayload(jwt string, v any) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func TestDeviceFlowDeniedExpiredAndForeign(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()

	denied := h.startDevice("cli", "", "openid")
	h.decide(denied.UserCode, storage.DeviceDenied, storage.Session{})
	w, tk := h.poll("cli", "", denied.DeviceCode)
	wantError(t, "poll after denial", w, tk, http.StatusBadRequest, "access_denied")

	// Another client's device code gets nothing, and does not use it up.
	foreign := h.startDevice("cli", "", "openid")
	w, tk = h.poll("kiosk", "basic", foreign.DeviceCode)
	wantError(t, "another client's device code", w, tk, http.StatusBadRequest, "access_denied")
	w, tk = h.poll("cli", "", "not-a-device-code")
	wantError(t, "unknown device code", w, tk, http.StatusBadRequest, "access_denied")

	h.now = h.now.Add(DeviceLifetime)
	w, tk = h.poll("cli", "", foreign.DeviceCode)
	wantError(t, "poll after the lifetime", w, tk, http.StatusBadRequest, "expired_token")
	// Approving late changes nothing: the page refuses it, and so does a poll.
	h.decide(foreign.UserCode, storage.DeviceApproved, h.session())
	h.now = h.now.Add(time.Minute)
	w, tk = h.poll("cli", "", foreign.DeviceCode)
	if w.Code == http.StatusOK || tk.AccessToken != "" {
		t.Errorf("late approval gave tokens: %d %s", w.Code, w.Body)
	}
}

// The kiosk is confidential: it authenticates at both endpoints, with
// either method, and without credentials it gets invalid_client before its
// device code is looked at.
func TestDeviceFlowConfidentialClient(t *testing.T) {
	for _, how := range []string{"basic", "post"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			h.addDeviceClients()
			a := h.startDevice("kiosk", how, "openid profile")
			h.decide(a.UserCode, storage.DeviceApproved, h.session())
			w, tk := h.poll("kiosk", "", a.DeviceCode)
			wantError(t, "poll without credentials", w, tk, http.StatusUnauthorized, "invalid_client")
			w, tk = h.poll("kiosk", how, a.DeviceCode)
			if w.Code != http.StatusOK || tk.AccessToken == "" || tk.IDToken == "" {
				t.Fatalf("poll with credentials: %d %s", w.Code, w.Body)
			}
			if tk.RefreshToken != "" {
				t.Error("a refresh token without offline_access")
			}
		})
	}
}

func TestDeviceAuthorizationRefusals(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	form := url.Values{"scope": {"openid"}}
	tests := []struct {
		name, client, how string
		status            int
		code              string
	}{
		{"unknown client", "nobody", "", http.StatusUnauthorized, "invalid_client"},
		{"client without the device grant", "app", "basic", http.StatusBadRequest, "unauthorized_client"},
		{"confidential client without credentials", "kiosk", "", http.StatusUnauthorized, "invalid_client"},
		{"public client with a secret", "cli", "post", http.StatusUnauthorized, "invalid_client"},
	}
	for _, tt := range tests {
		w := h.postAs("/device_authorization", tt.client, tt.how, form)
		wantError(t, tt.name, w, decode(t, w), tt.status, tt.code)
	}
	wrong := httptest.NewRequest(http.MethodPost, "/device_authorization", strings.NewReader("client_id=kiosk&client_secret=wrong"))
	wrong.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := h.serve(wrong); w.Code != http.StatusUnauthorized || decode(t, w).Error != "invalid_client" {
		t.Errorf("wrong secret: %d %s", w.Code, w.Body)
	}
	if w := h.get("/device_authorization?client_id=cli"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
	long := url.Values{"client_id": {"cli"}, "scope": {strings.Repeat("openid ", 200)}}
	if w := h.post("/device_authorization", "", long); w.Code != http.StatusBadRequest || decode(t, w).Error != "invalid_request" {
		t.Errorf("oversized scope: %d %s", w.Code, w.Body)
	}
	repeated := url.Values{"client_id": {"cli"}, "scope": {"openid", "profile"}}
	if w := h.post("/device_authorization", "", repeated); w.Code != http.StatusBadRequest {
		t.Errorf("repeated parameter: %d %s", w.Code, w.Body)
	}
}

// Over its quota the endpoint answers 429 with Retry-After and stores
// nothing; a failing count is a 503 without internals.
func TestDeviceAuthorizationQuota(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	over := func(*http.Request) error { return fmt.Errorf("quota device: %w", quota.ErrExceeded) }
	h.deviceAdmit.Store(&over)
	w := h.postAs("/device_authorization", "cli", "", url.Values{"scope": {"openid"}})
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || decode(t, w).Error != "slow_down" {
		t.Errorf("over quota: %d %v %s", w.Code, w.Header(), w.Body)
	}
	down := func(*http.Request) error { return errDown }
	h.deviceAdmit.Store(&down)
	w = h.postAs("/device_authorization", "cli", "", url.Values{"scope": {"openid"}})
	if w.Code != http.StatusServiceUnavailable || decode(t, w).Error != "temporarily_unavailable" {
		t.Errorf("counter down: %d %s", w.Code, w.Body)
	}
	checkNoLeak(t, "counter down", w)
}

func (f *flakyEphemeral) CreateDeviceAuthorization(ctx context.Context, d storage.DeviceAuthorization, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.CreateDeviceAuthorization(ctx, d, ttl)
}

func (f *flakyEphemeral) UpdateDeviceAuthorization(ctx context.Context, id string, fn func(*storage.DeviceAuthorization) error) error {
	if f.down.Load() {
		return errDown
	}
	return f.Ephemeral.UpdateDeviceAuthorization(ctx, id, fn)
}

// A failed store is 503 temporarily_unavailable at both endpoints, never
// access_denied (which would end the device's flow) and never its text.
func TestDeviceFlowStoreDown(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	a := h.startDevice("cli", "", "openid")
	h.eph.down.Store(true)
	w := h.postAs("/device_authorization", "cli", "", url.Values{"scope": {"openid"}})
	if w.Code != http.StatusServiceUnavailable || decode(t, w).Error != "temporarily_unavailable" {
		t.Errorf("device authorization with the store down: %d %s", w.Code, w.Body)
	}
	checkNoLeak(t, "device authorization", w)
	w, tk := h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll with the store down", w, tk, http.StatusServiceUnavailable, "temporarily_unavailable")
	h.eph.down.Store(false)
	w, tk = h.poll("cli", "", a.DeviceCode)
	wantError(t, "poll after the store is back", w, tk, http.StatusBadRequest, "authorization_pending")
}

// RFC 6749 §2.3.1: one authentication method per request.
func TestDeviceAuthorizationOneAuthMethod(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	form := url.Values{"client_id": {"kiosk"}, "client_secret": {testSecret}, "scope": {"openid"}}
	r := httptest.NewRequest(http.MethodPost, "/device_authorization", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("kiosk", testSecret)
	w := h.serve(r)
	if w.Code != http.StatusBadRequest || decode(t, w).Error != "invalid_request" {
		t.Errorf("two methods: %d %s", w.Code, w.Body)
	}
}

// A pairwise client gets its pairwise sub from the device flow too, and
// its access token works at userinfo.
func TestDeviceFlowPairwiseSubject(t *testing.T) {
	h := newHarness(t)
	h.addDeviceClients()
	err := h.dur.Durable.(storage.Clients).UpdateClient(t.Context(), "cli", func(c *storage.Client) error {
		c.SubjectType, c.SectorIdentifier = SubjectPairwise, "cli.example"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := h.p.store.subjectFor(t.Context(), "cli", h.user.ID)
	if err != nil || want == h.user.ID {
		t.Fatalf("pairwise subject %q, %v", want, err)
	}
	a := h.startDevice("cli", "", "openid profile")
	h.decide(a.UserCode, storage.DeviceApproved, h.session())
	h.now = h.now.Add(time.Minute)
	w, tk := h.poll("cli", "", a.DeviceCode)
	if w.Code != http.StatusOK {
		t.Fatalf("poll after approval: %d %s", w.Code, w.Body)
	}
	if sub := jwtClaims(t, tk.IDToken)["sub"]; sub != want {
		t.Errorf("device ID token sub %v, want the pairwise %q", sub, want)
	}
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	ui := h.serve(r)
	if ui.Code != http.StatusOK || !strings.Contains(ui.Body.String(), `"sub":"`+want+`"`) {
		t.Errorf("userinfo: %d %s; want sub %q", ui.Code, ui.Body, want)
	}
}
