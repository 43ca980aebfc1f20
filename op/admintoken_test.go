package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/storage"
)

func TestVerifyAccessToken(t *testing.T) {
	h := newHarness(t)
	h.now = time.Now().UTC().Truncate(time.Second) // zitadel checks a JWT's exp by the wall clock
	h.addClient(storage.Client{ID: "svc-jwt", GrantTypes: []string{storage.GrantClientCredentials},
		SecretHash: password.HashSecret(testSecret), AccessTokenFormat: "jwt", AdminAPI: true})
	h.flagAdminAPI("service")
	serviceToken := func(client string) string {
		t.Helper()
		w := h.post("/oauth/token", client, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}})
		tk := decode(t, w)
		if w.Code != http.StatusOK || tk.AccessToken == "" {
			t.Fatalf("client_credentials for %s: %d %s", client, w.Code, w.Body)
		}
		return tk.AccessToken
	}
	for _, client := range []string{"service", "svc-jwt"} {
		t.Run(client, func(t *testing.T) {
			token := serviceToken(client)
			info, err := h.p.VerifyAccessToken(t.Context(), token)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if info.ClientID != client || info.UserID != "" || !info.HasScope("admin") || !info.ExpiresAt.After(h.now) {
				t.Fatalf("info = %+v", info)
			}
			// Tampered: one character changed.
			b := []byte(token)
			b[len(b)/2] ^= 1
			if _, err := h.p.VerifyAccessToken(t.Context(), string(b)); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("tampered token: %v, want ErrTokenInvalid", err)
			}
			// Revoked.
			w := h.post("/revoke", client, url.Values{"token": {token}})
			if w.Code != http.StatusOK {
				t.Fatalf("revoke: %d %s", w.Code, w.Body)
			}
			if _, err := h.p.VerifyAccessToken(t.Context(), token); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("revoked token: %v, want ErrTokenInvalid", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		token := serviceToken("service")
		start := h.now
		defer func() { h.now = start }()
		h.now = h.now.Add(15*time.Minute + time.Second)
		if _, err := h.p.VerifyAccessToken(t.Context(), token); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("expired token: %v, want ErrTokenInvalid", err)
		}
	})
	t.Run("not an access token", func(t *testing.T) {
		id := h.signedIn().IDToken
		for _, tok := range []string{"", "nonsense", id} {
			if _, err := h.p.VerifyAccessToken(t.Context(), tok); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("VerifyAccessToken(%.20q) = %v, want ErrTokenInvalid", tok, err)
			}
		}
	})
	t.Run("user token keeps its user", func(t *testing.T) {
		info, err := h.p.VerifyAccessToken(t.Context(), h.signedIn().AccessToken)
		if err != nil || info.UserID != h.user.ID || info.ClientID != "app" || !slices.Contains(info.Scopes, "openid") {
			t.Fatalf("info = %+v, %v", info, err)
		}
	})
}

// A DPoP-bound token is no bearer token: VerifyAccessToken refuses it.
func TestVerifyAccessTokenRefusesDPoPBound(t *testing.T) {
	h := newDPoPHarness(t)
	k := newTestKey(t, "ES256")
	h.flagAdminAPI("service")
	w := h.token("service", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, h.proof(k, "POST", "/oauth/token"))
	tk := wantDPoPTokens(t, "client_credentials with a proof", w)
	if _, err := h.p.VerifyAccessToken(t.Context(), tk.AccessToken); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("bound token: %v, want ErrTokenInvalid", err)
	}
}

// flagAdminAPI registers client id for the admin API, so it may obtain
// the admin scope.
func (h *harness) flagAdminAPI(id string) {
	h.t.Helper()
	if err := h.dur.Durable.(storage.Clients).UpdateClient(context.Background(), id, func(c *storage.Client) error {
		c.AdminAPI = true
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}
