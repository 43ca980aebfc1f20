package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// show runs client show and decodes it.
func (c cli) show(id string) clientJSON {
	c.t.Helper()
	code, out, errOut := c.run("", "client", "show", id)
	if code != 0 {
		c.t.Fatalf("show %s: exit %d: %s", id, code, errOut)
	}
	var got clientJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		c.t.Fatalf("show output: %v\n%s", err, out)
	}
	return got
}

// client update takes every flag of client create, changes only the flags
// given, and checks the result as create does.
func TestClientUpdateAnyFlag(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "Aplikasi Uji", "--redirect-uri", "https://app.example/cb",
		"--post-logout-redirect-uri", "https://app.example/", "--description", "Lama", "--json")
	if code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	id := created.ClientID
	if code, out, errOut := c.run("", "client", "update", id, "--name", "Aplikasi Baru", "--redirect-uri", "https://app.example/cb2",
		"--redirect-uri", "http://localhost:9000/cb", "--listed", "--launch-url", "https://app.example/"); code != 0 || !strings.Contains(out, "updated client") {
		t.Fatalf("update: exit %d %s%s", code, out, errOut)
	}
	got := c.show(id)
	if got.Name != "Aplikasi Baru" || strings.Join(got.RedirectURIs, " ") != "https://app.example/cb2 http://localhost:9000/cb" ||
		!got.Listed || got.LaunchURL != "https://app.example/" {
		t.Errorf("after update: %+v", got)
	}
	// What was not given stays.
	if strings.Join(got.PostLogoutRedirectURIs, " ") != "https://app.example/" || got.AuthMethod != "client_secret_basic" ||
		strings.Join(got.GrantTypes, ",") != "authorization_code,refresh_token" {
		t.Errorf("untouched fields changed: %+v", got)
	}
	// An empty value clears a list; the result is checked whole.
	if code, _, _ := c.run("", "client", "update", id, "--post-logout-redirect-uri", ""); code != 0 {
		t.Fatal("clearing post-logout URIs failed")
	}
	if got := c.show(id); len(got.PostLogoutRedirectURIs) != 0 {
		t.Errorf("post-logout URIs not cleared: %v", got.PostLogoutRedirectURIs)
	}
	for _, bad := range [][]string{
		{"--redirect-uri", ""}, // authorization_code needs one
		{"--redirect-uri", "http://app.example/cb"},
		{"--redirect-uri", "https://app.example/cb#frag"},
		{"--redirect-uri", "javascript:alert(1)"},
		{"--redirect-uri", "https://user:pw@app.example/cb"},
		{"--redirect-uri", "https://app.example/c b"},
		{"--redirect-uri", "https://аpp.example/cb"}, // Cyrillic a
		{"--name", ""},
		{"--name", "a\u202ename"},
		{"--listed=true", "--launch-url", ""},
		{"--logo-url", "data:image/png;base64,AAAA"},
		{"--trader-type", "penyelundup"},
		{"--grant-type", "password"},
		{"--access-token-format", "saml"},
		{"--admin-api"}, // an authorization_code client
		{"--auth-method", "none"},
		{"--auth-method", "private_key_jwt"}, // without keys
		{"--subject-type", "secret"},
		{"--subject-type", "pairwise"}, // fixed for the client's life
	} {
		before := c.show(id)
		code, _, errOut := c.run("", append([]string{"client", "update", id}, bad...)...)
		if code != 2 || strings.Count(errOut, "\n") > 1 {
			t.Errorf("update %q: exit %d %q, want one usage line", bad, code, errOut)
		}
		if after := c.show(id); after.Name != before.Name || strings.Join(after.RedirectURIs, " ") != strings.Join(before.RedirectURIs, " ") || after.AdminAPI {
			t.Errorf("refused update %q changed the client: %+v", bad, after)
		}
	}
	if code, _, errOut := c.run("", "client", "update", id); code != 2 || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("update without flags: %d %s", code, errOut)
	}
	if code, _, errOut := c.run("", "client", "update", "no-such-client", "--name", "x"); code != 2 || !strings.Contains(errOut, "no client") {
		t.Errorf("update of an unknown client: %d %s", code, errOut)
	}
}

// --admin-api goes only to a confidential client whose only grant is
// client_credentials, on create and on update, and list shows it.
func TestClientAdminAPIFlag(t *testing.T) {
	c := cli{t, t.TempDir()}
	for _, bad := range [][]string{
		{"--grant-type", "device_code", "--public"},
		{"--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb"},
		{"--grant-type", "client_credentials", "--grant-type", "refresh_token"},
	} {
		args := append([]string{"client", "create", "--name", "Konsol", "--admin-api"}, bad...)
		if code, _, errOut := c.run("", args...); code != 2 || !strings.Contains(errOut, "--admin-api") {
			t.Errorf("create %q: exit %d %q, want --admin-api refused", bad, code, errOut)
		}
	}
	code, out, errOut := c.run("", "client", "create", "--name", "Konsol", "--grant-type", "client_credentials", "--admin-api", "--json")
	if code != 0 {
		t.Fatalf("create admin-api client: %s", errOut)
	}
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil || !created.AdminAPI || created.ClientSecret == "" {
		t.Fatalf("created %+v %v", created, err)
	}
	if _, out, _ := c.run("", "client", "list"); !strings.Contains(out, "confidential,admin-api") {
		t.Errorf("list does not show admin-api:\n%s", out)
	}
	if code, _, _ := c.run("", "client", "update", created.ClientID, "--admin-api=false"); code != 0 || c.show(created.ClientID).AdminAPI {
		t.Error("--admin-api=false did not lift it")
	}
	if code, _, errOut := c.run("", "client", "update", created.ClientID, "--admin-api"); code != 0 || !c.show(created.ClientID).AdminAPI {
		t.Errorf("--admin-api on update: %d %s", code, errOut)
	}
	// Adding a user grant to an admin-api client is refused.
	if code, _, errOut := c.run("", "client", "update", created.ClientID, "--grant-type", "client_credentials", "--grant-type", "authorization_code",
		"--redirect-uri", "https://app.example/cb"); code != 2 || !strings.Contains(errOut, "--admin-api") {
		t.Errorf("user grant on an admin-api client: %d %s", code, errOut)
	}
}

func TestUserSetExpiry(t *testing.T) {
	c := cli{t, t.TempDir()}
	if code, _, errOut := c.run("Kata-sandi-panjang-1\n", "user", "create", "--username", "budi", "--email", "budi@contoh.co.id", "--password-stdin"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	next := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	if code, out, errOut := c.run("", "user", "set-expiry", "budi", next); code != 0 || !strings.Contains(out, "signs in until") {
		t.Fatalf("set-expiry %s: %d %s%s", next, code, out, errOut)
	}
	if _, out, _ := c.run("", "user", "list"); !strings.Contains(out, "active") {
		t.Errorf("user with a future expiry not active:\n%s", out)
	}
	for _, bad := range []string{"2020-01-01", "31-12-2030", "2030-02-30", "tomorrow", "2030-1-1", ""} {
		if code, _, errOut := c.run("", "user", "set-expiry", "budi", bad); code != 2 || strings.Count(errOut, "\n") > 1 {
			t.Errorf("set-expiry %q: exit %d %q, want one usage line", bad, code, errOut)
		}
	}
	if code, _, errOut := c.run("", "user", "set-expiry", "budi", "2020-01-01", "--force"); code != 0 {
		t.Fatalf("--force: %s", errOut)
	}
	if _, out, _ := c.run("", "user", "list"); !strings.Contains(out, "disabled/expired") {
		t.Errorf("expired user not shown so:\n%s", out)
	}
	if code, out, _ := c.run("", "user", "set-expiry", "budi", "never"); code != 0 || !strings.Contains(out, "never expires") {
		t.Errorf("never: %d %s", code, out)
	}
	if code, _, errOut := c.run("", "user", "set-expiry", "nobody", "never"); code != 2 || !strings.Contains(errOut, "no user") {
		t.Errorf("unknown user: %d %s", code, errOut)
	}
}
