package demorp

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestAccountLinkEndpoint(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	app := App{
		Name: "e-BPOM (demo)", ClientID: "demo-ebpom", ClientSecret: "rahasia",
		ExternalURL: "http://" + srv.Listener.Addr().String(),
		Accounts:    []Account{{Username: "ebpom.budi", Password: "sandi-ebpom"}, {Username: "ebpom.siti", Password: "lain"}},
	}
	h, err := NewHandler(t.Context(), "http://127.0.0.1:1", app, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()

	tests := []struct {
		name, username, password string
		status                   int
		want                     string
	}{
		{"right password", "ebpom.budi", "sandi-ebpom", 200, "ebpom.budi"},
		{"username in another case gives the canonical one", " EBPOM.Budi ", "sandi-ebpom", 200, "ebpom.budi"},
		{"wrong password", "ebpom.budi", "salah", 401, ""},
		{"another account's password", "ebpom.budi", "lain", 401, ""},
		{"unknown user", "nobody", "sandi-ebpom", 401, ""},
		{"empty", "", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(srv.URL+AccountLinkPath, url.Values{"username": {tt.username}, "password": {tt.password}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]string
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body["username"] != tt.want || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %v, want %d %q", resp.StatusCode, body, tt.status, tt.want)
			}
		})
	}

	resp, err := http.Post(srv.URL+AccountLinkPath, "application/x-www-form-urlencoded", strings.NewReader("password="+strings.Repeat("x", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized form: %d", resp.StatusCode)
	}
	if resp, err := http.Get(srv.URL + AccountLinkPath); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", resp.StatusCode)
		}
	}
}

func TestAppAccountsAreValidated(t *testing.T) {
	_, err := ParseApps(strings.NewReader(`[{"name":"a","client_id":"c","client_secret":"s","addr":"localhost:1","accounts":[{"username":"u"}]}]`))
	if err == nil || !strings.Contains(err.Error(), "accounts[0]") {
		t.Fatalf("account without a password: %v", err)
	}
}
