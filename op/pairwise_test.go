package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/storage"
)

func testSubjects(t *testing.T) *subjects {
	t.Helper()
	key := make([]byte, PairwiseKeySize)
	for i := range key {
		key[i] = byte(i)
	}
	s, err := newSubjects(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPairwiseSubjects(t *testing.T) {
	s := testSubjects(t)
	bpom := storage.Client{ID: "bpom-web", SubjectType: SubjectPairwise, SectorIdentifier: "bpom.go.id"}
	bpomApp := storage.Client{ID: "bpom-app", SubjectType: SubjectPairwise, SectorIdentifier: "bpom.go.id"}
	cargo := storage.Client{ID: "cargo", SubjectType: SubjectPairwise, SectorIdentifier: "cargolink.example"}
	public := storage.Client{ID: "insw"}

	a, b := s.external(bpom, "user-1"), s.external(bpom, "user-2")
	if a == "user-1" || a == b || strings.Contains(a, "user") {
		t.Fatalf("pairwise subjects %q, %q: want opaque and distinct per user", a, b)
	}
	if again := s.external(bpom, "user-1"); again != a {
		t.Errorf("the same user in the same sector got %q then %q", a, again)
	}
	if other := s.external(bpomApp, "user-1"); other != a {
		t.Errorf("two clients of one sector disagree: %q and %q", a, other)
	}
	if other := s.external(cargo, "user-1"); other == a {
		t.Error("two sectors received the same subject: they could join their users")
	}
	if got := s.external(public, "user-1"); got != "user-1" {
		t.Errorf("public client got %q, want the user id", got)
	}
	if len(a) > 255 {
		t.Errorf("sub is %d characters; OIDC Core §2 allows 255", len(a))
	}

	if id, err := s.internal(bpomApp, a); err != nil || id != "user-1" {
		t.Errorf("internal(%q) = %q, %v; want user-1", a, id, err)
	}
	if _, err := s.internal(cargo, a); err == nil {
		t.Error("a subject of one sector opened in another")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	raw[len(raw)-1] ^= 1
	for _, bad := range []string{base64.RawURLEncoding.EncodeToString(raw), "user-1", "", "!!!"} {
		if id, err := s.internal(bpom, bad); err == nil {
			t.Errorf("internal(%q) = %q; want refused", bad, id)
		}
	}
	if id, err := s.internal(public, "user-1"); err != nil || id != "user-1" {
		t.Errorf("public internal = %q, %v", id, err)
	}
}

// addPairwiseClient registers a confidential pairwise client for testRedirect.
func (h *harness) addPairwiseClient(id string) {
	h.t.Helper()
	c := storage.Client{ID: id, Name: id, GrantTypes: []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		AccessTokenFormat: "opaque", SecretHash: password.HashSecret(testSecret), RedirectURIs: []string{testRedirect},
		PostLogoutRedirectURIs: []string{testLogout}, SubjectType: SubjectPairwise, SectorIdentifier: "rp.test", CreatedAt: h.now}
	if err := h.dur.Durable.(interface {
		CreateClient(context.Context, storage.Client) error
	}).CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
}

// jwtClaims decodes a JWT's payload (its signature is tested elsewhere).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPairwiseClientSeesOneSubjectEverywhere(t *testing.T) {
	h := newHarness(t)
	h.addPairwiseClient("pw")
	h.addPairwiseClient("pw2") // same sector (rp.test)
	pk := newPKCE()
	w := h.post("/oauth/token", "pw", url.Values{"grant_type": {"authorization_code"}, "code": {h.codeFor("pw", pk, nil)},
		"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}})
	tk := decode(t, w)
	if w.Code != http.StatusOK {
		t.Fatalf("code exchange: %d %s", w.Code, w.Body)
	}
	sub, _ := jwtClaims(t, tk.IDToken)["sub"].(string)
	if sub == "" || sub == h.user.ID {
		t.Fatalf("pairwise client's ID token sub = %q (user id %q)", sub, h.user.ID)
	}
	public := jwtClaims(t, h.signedIn().IDToken)["sub"]
	if public != h.user.ID {
		t.Errorf("public client's sub = %v, want the user id", public)
	}

	r, _ := http.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	ui := h.serve(r)
	var info map[string]any
	if ui.Code != http.StatusOK || json.Unmarshal(ui.Body.Bytes(), &info) != nil || info["sub"] != sub {
		t.Errorf("userinfo: %d %s; want sub %q", ui.Code, ui.Body, sub)
	}

	in := h.post("/oauth/introspect", "pw", url.Values{"token": {tk.AccessToken}})
	var intro map[string]any
	if in.Code != http.StatusOK || json.Unmarshal(in.Body.Bytes(), &intro) != nil || intro["active"] != true || intro["sub"] != sub {
		t.Errorf("introspection: %d %s; want active with sub %q", in.Code, in.Body, sub)
	}

	rw := h.post("/oauth/token", "pw", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
	rtk := decode(t, rw)
	if rw.Code != http.StatusOK || jwtClaims(t, rtk.IDToken)["sub"] != sub {
		t.Errorf("refresh: %d %s; want the same pairwise sub", rw.Code, rw.Body)
	}

	// A second client of the sector: same sub; its hint works for
	// prompt=none (the callback refuses a hint naming another user).
	pk2 := newPKCE()
	code := h.codeFor("pw2", pk2, url.Values{"prompt": {"none"}, "id_token_hint": {tk.IDToken}})
	w2 := h.post("/oauth/token", "pw2", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {pk2.verifier}})
	if tk2 := decode(t, w2); w2.Code != http.StatusOK || jwtClaims(t, tk2.IDToken)["sub"] != sub {
		t.Errorf("second client of the sector: %d %s; want sub %q", w2.Code, w2.Body, sub)
	}

	// RP-initiated logout with the pairwise hint names the user.
	lo := h.get("/end_session?" + url.Values{"id_token_hint": {tk.IDToken}, "client_id": {"pw"}}.Encode())
	got := h.logout.Load()
	if lo.Code >= 400 || got == nil || got.UserID != h.user.ID || !got.HintVerified {
		t.Errorf("end_session: %d %s; logout handed over %+v, want user %q", lo.Code, lo.Body, got, h.user.ID)
	}

	// The logout token speaks the client's subject.
	lt, err := h.p.LogoutToken(context.Background(), "pw", h.user.ID, "sid-1")
	if err != nil || jwtClaims(t, lt)["sub"] != sub {
		t.Errorf("logout token: %v; want sub %q", err, sub)
	}
}

func TestPairwiseHintFromAnotherSectorIsRefused(t *testing.T) {
	h := newHarness(t)
	h.addPairwiseClient("pw")
	// The public client's ID token names the user id, which is not a
	// subject of the pairwise sector.
	hint := h.signedIn().IDToken
	pk := newPKCE()
	q := authorizeQuery(pk, "client_id", "pw", "prompt", "none", "id_token_hint", hint)
	w := h.get("/authorize?" + q.Encode())
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("error") != "login_required" {
		t.Errorf("authorize with a foreign hint: %d %q; want a login_required redirect", w.Code, w.Header().Get("Location"))
	}
}

// A pairwise client's JWT access token names the pairwise sub, and
// userinfo accepts it.
func TestPairwiseJWTAccessToken(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now() // zitadel checks a JWT access token's times on the wall clock
	h.addPairwiseClient("pw")
	err := h.dur.Durable.(storage.Clients).UpdateClient(t.Context(), "pw", func(c *storage.Client) error {
		c.AccessTokenFormat = "jwt"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pk := newPKCE()
	w := h.post("/oauth/token", "pw", url.Values{"grant_type": {"authorization_code"}, "code": {h.codeFor("pw", pk, nil)},
		"redirect_uri": {testRedirect}, "code_verifier": {pk.verifier}})
	tk := decode(t, w)
	if w.Code != http.StatusOK {
		t.Fatalf("code exchange: %d %s", w.Code, w.Body)
	}
	sub := jwtClaims(t, tk.IDToken)["sub"]
	if at := jwtClaims(t, tk.AccessToken)["sub"]; at != sub || sub == h.user.ID {
		t.Errorf("JWT access token sub %v, ID token sub %v (user id %s): want the same pairwise sub", at, sub, h.user.ID)
	}
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if ui := h.serve(r); ui.Code != http.StatusOK || !strings.Contains(ui.Body.String(), fmt.Sprintf(`"sub":%q`, sub)) {
		t.Errorf("userinfo with the JWT access token: %d %s", ui.Code, ui.Body)
	}
}

// An inactive token's introspection says active=false and nothing else
// (RFC 7662 §2.2): no scope, client, subject or key binding.
func TestInactiveIntrospectionSaysNothingElse(t *testing.T) {
	h := newHarness(t)
	tk := h.signedIn()
	err := h.dur.Durable.(storage.Users).UpdateUser(t.Context(), h.user.ID, func(u *storage.User) error {
		u.Disabled = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := h.post("/oauth/introspect", "app", url.Values{"token": {tk.AccessToken}})
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got) != 1 || got["active"] != false {
		t.Errorf("introspection of a disabled user's token: %d %s; want only active=false", w.Code, w.Body)
	}
}
