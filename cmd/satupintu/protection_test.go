package main

import (
	"bytes"
	"flag"
	"net/http"
	"strings"
	"testing"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
	"satupintu/login"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis/redistest"
	"satupintu/templates"
)

func TestCaptchaConfig(t *testing.T) {
	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want captcha.Mode
	}{
		{"adaptive by default", nil, nil, captcha.Adaptive},
		{"from the environment", nil, map[string]string{"SATUPINTU_CAPTCHA": "always"}, captcha.Always},
		{"the flag wins", []string{"--captcha", "OFF"}, map[string]string{"SATUPINTU_CAPTCHA": "always"}, captcha.Off},
	} {
		cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), tt.args, envOf(tt.env))
		if err != nil || cfg.Captcha != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, cfg.Captcha, err, tt.want)
		}
	}
	cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--captcha-max-number", "50000"}, envOf(nil))
	if err != nil || cfg.CaptchaMaxNumber != 50000 || defaultConfig().CaptchaMaxNumber != captcha.DefaultMaxNumber {
		t.Errorf("difficulty: %d, %v", cfg.CaptchaMaxNumber, err)
	}
	for _, bad := range []string{"10", "lots", "99999999999"} {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, envOf(map[string]string{"SATUPINTU_CAPTCHA_MAX_NUMBER": bad}))
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "captcha") {
			t.Errorf("difficulty %q accepted: %v", bad, err)
		}
	}
	_, err = loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, envOf(map[string]string{"SATUPINTU_CAPTCHA": "sometimes"}))
	if err == nil || !strings.Contains(err.Error(), `captcha "sometimes" must be off, adaptive or always`) {
		t.Errorf("bad mode: %v", err)
	}
}

// attempt signs in to the provider's own pages through the form, passing
// its security check as the page's script would when the form has one, or
// asks for one (the form from GET /login cannot know the account needs it).
func (tp *testProvider) attempt(b *browser, username, secret string) (*http.Response, string) {
	tp.t.Helper()
	pages, err := templates.New()
	if err != nil {
		tp.t.Fatal(err)
	}
	required := pages.T("id", "protection.captcha.required")
	_, page := b.get(tp.issuer + "/login")
	for {
		form := formFields(tp.t, page)
		if captchatest.Has(page) {
			for k, v := range captchatest.Form(tp.t, page) {
				form[k] = v
			}
		}
		form.Set("username", username)
		form.Set("password", secret)
		resp, next := b.post(tp.issuer+"/login", form)
		if captchatest.Has(page) || !strings.Contains(next, required) {
			return resp, next
		}
		page = next // now with the challenge
	}
}

// lockOut fails ten times for username, waiting out the delays on the
// provider's clock, until the name is locked.
func (tp *testProvider) lockOut(b *browser, username string) {
	tp.t.Helper()
	pages, err := templates.New()
	if err != nil {
		tp.t.Fatal(err)
	}
	for i := int64(1); i <= login.DefaultThrottlePolicy.Account.LockAfter; i++ {
		resp, page := tp.attempt(b, username, "bukan-kata-sandinya")
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, pages.T("id", "login.bad_credentials")) {
			tp.t.Fatalf("failure %d: %d\n%s", i, resp.StatusCode, page)
		}
		tp.clock.Advance(login.DefaultThrottlePolicy.Account.Delay(i))
	}
}

// The unlock command clears a lock in Redis for a running node: no restart,
// no waiting.
func TestUserUnlockReachesRunningNode(t *testing.T) {
	dbURL := postgrestest.URL(t)
	_, prefix := redistest.Open(t)
	c := newCluster(t, 1, nodeOptions{databaseURL: dbURL, prefix: prefix})
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	locked := pages.T("id", "protection.locked", 15)

	b := c.newBrowser()
	c.lockOut(b, c.user.Username)
	resp, page := c.attempt(b, c.user.Username, c.password)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, locked) {
		t.Fatalf("locked account: %d\n%s", resp.StatusCode, page)
	}

	env := map[string]string{"SATUPINTU_DATABASE_URL": dbURL, "SATUPINTU_REDIS_URL": redistest.URL(), "SATUPINTU_REDIS_PREFIX": prefix}
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"user", "unlock", "--username", c.user.Email}, strings.NewReader(""), &out, &errOut,
		func(k string) string { return env[k] })
	if code != 0 || !strings.Contains(out.String(), "unlocked sign-in for "+c.user.Username) {
		t.Fatalf("unlock: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	resp, page = c.attempt(b, c.user.Username, c.password)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("after unlock: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
}

// Without Redis the sign-in counters live inside the running server, out
// of the command's reach: the unlock raises the account's lock epoch in
// the database instead, which the server's counters are keyed by. It shows
// once the server's user cache expires (no bus to tell it).
func TestUserUnlockWithoutRedis(t *testing.T) {
	tp := newTestProvider(t) // SQLite and the in-process ephemeral store
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	b := tp.newBrowser()
	tp.lockOut(b, tp.user.Username)
	resp, page := tp.attempt(b, tp.user.Username, tp.password)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, pages.T("id", "protection.locked", 15)) {
		t.Fatalf("locked account: %d\n%s", resp.StatusCode, page)
	}
	c := cli{t, tp.dataDir}
	code, out, errOut := c.run("", "user", "unlock", "--username", tp.user.Email)
	if code != 0 || !strings.Contains(out, "unlocked sign-in for "+tp.user.Username) {
		t.Fatalf("unlock: exit %d\n%s%s", code, out, errOut)
	}
	tp.clock.Advance(defaultConfig().CacheTTL) // the server's cached user expires; the lock would last 15 minutes
	resp, page = tp.attempt(b, tp.user.Username, tp.password)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("after unlock: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if code, _, errOut := c.run("", "user", "unlock", "--username", "nobody"); code != 2 || !strings.Contains(errOut, `no user "nobody"`) {
		t.Fatalf("unlock unknown user: exit %d: %s", code, errOut)
	}
}

func TestThrottlePolicyFollowsTheIssuer(t *testing.T) {
	cfg := defaultConfig()
	if p := throttlePolicy(cfg); p.Address.LockAfter == 0 {
		t.Error("http issuer (clients seen directly): no address lock")
	}
	cfg.Issuer = "https://sso.example.go.id"
	if p := throttlePolicy(cfg); p.Address.LockAfter != 0 || p.Address.Delay(1000) != 0 {
		t.Errorf("https issuer (behind the proxy): address rule %+v", p.Address)
	}
	// With the proxy named, clients are told apart again: full policy.
	cfg, err := loadConfig(newFlagSet("t"), nil, func(k string) string {
		return map[string]string{"SATUPINTU_ISSUER": "https://sso.example.go.id", "SATUPINTU_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}[k]
	})
	if err != nil || len(cfg.TrustedProxies) != 2 {
		t.Fatalf("trusted proxies: %v %v", cfg.TrustedProxies, err)
	}
	if p := throttlePolicy(cfg); p.Address.LockAfter == 0 {
		t.Error("https issuer with trusted proxies: no address lock")
	}
	if _, err := loadConfig(newFlagSet("t"), nil, func(k string) string {
		return map[string]string{"SATUPINTU_TRUSTED_PROXIES": "10.0.0.0/99"}[k]
	}); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
