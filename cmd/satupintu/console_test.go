package main

import (
	"encoding/base32"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/totp"
)

var (
	shownSecret = regexp.MustCompile(`<code id="client-secret">([^<]+)</code>`)
	shownID     = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)
)

// adminSession signs tp's user in with a second factor (enrolled on the
// way, as a client requiring MFA asks) and makes them an admin; it
// returns their browser.
func adminSession(t *testing.T, tp *testProvider) *browser {
	t.Helper()
	ctx := t.Context()
	tp.addClient("strict", false, storage.GrantAuthorizationCode)
	if err := tp.durable.UpdateClient(ctx, "strict", func(c *storage.Client) error { c.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b := tp.newBrowser()
	f := newFlow()
	resp, page := tp.passwordStep(b, "strict", f)
	m := mfaSecret.FindStringSubmatch(page)
	if resp.Request.URL.Path != "/login/mfa" || m == nil {
		t.Fatalf("no enrolment after the password: %s\n%s", resp.Request.URL, page)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, page = tp.submitStep(b, page, totp.Code(secret, tp.clock.Now()))
	next := mfaContinue.FindStringSubmatch(page)
	if next == nil {
		t.Fatalf("no recovery codes page:\n%s", page)
	}
	b.get(tp.issuer + html.UnescapeString(next[1]))
	if err := tp.durable.UpdateUser(ctx, tp.user.ID, func(u *storage.User) error {
		u.Roles = append(u.Roles, storage.RoleAdmin)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// auditCount counts the stored events of action about subject.
func auditCount(t *testing.T, tp *testProvider, action, subject string) int {
	t.Helper()
	evs, err := tp.durable.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action && e.Subject == subject {
			n++
		}
	}
	return n
}

func TestConsoleAccess(t *testing.T) {
	tp := newTestProvider(t)

	t.Run("anonymous is sent to sign in", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, path := range []string{"/admin", "/admin/clients", "/admin/users/x", "/admin/keys"} {
			resp, err := c.Get(tp.issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	b := tp.newBrowser()
	tp.signIn(b, "app-one", newFlow())
	t.Run("a trader gets 403", func(t *testing.T) {
		resp, page := b.get(tp.issuer + "/admin/clients")
		if resp.StatusCode != http.StatusForbidden || strings.Contains(page, "app-one") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
	})

	if err := tp.durable.UpdateUser(t.Context(), tp.user.ID, func(u *storage.User) error {
		u.Roles = []string{storage.RoleAdmin}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Run("an admin without a second factor is sent to enrol one", func(t *testing.T) {
		resp, _ := b.get(tp.issuer + "/admin")
		if resp.Request.URL.Path != "/mfa" || resp.Request.URL.Query().Get("need") == "" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Request.URL)
		}
		// Nor can it post: the check comes before anything is read.
		before, _ := tp.durable.SigningKeys(t.Context())
		b.post(tp.issuer+"/admin/keys/rotate", url.Values{"alg": {"RS256"}})
		if after, _ := tp.durable.SigningKeys(t.Context()); len(after) != len(before) {
			t.Fatal("a key was rotated")
		}
	})
}

func TestConsoleClients(t *testing.T) {
	tp := newTestProvider(t)
	b := adminSession(t, tp)

	resp, page := b.get(tp.issuer + "/admin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<svg id="signin-chart"`) || !strings.Contains(page, `id="stat-signins">1<`) ||
		!strings.Contains(page, `id="stat-sessions">1<`) {
		t.Fatalf("dashboard: %d\n%s", resp.StatusCode, page)
	}

	_, page = b.get(tp.issuer + "/admin/clients/new")
	form := formFields(t, page)
	form.Set("name", "e-BPOM")
	form.Set("redirect_uris", "https://ebpom.example/callback\n\nhttps://ebpom.example/cb2")
	form["grant_type"] = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	form.Set("auth_method", storage.AuthMethodSecretBasic)
	form.Set("access_token_format", "opaque")

	t.Run("a bad redirect URI re-renders the form and stores nothing", func(t *testing.T) {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("redirect_uris", "javascript:alert(1)")
		resp, page := b.post(tp.issuer+"/admin/clients", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="form-error"`) ||
			!strings.Contains(page, "javascript:alert(1)</textarea>") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		cs, _ := tp.durable.ListClients(t.Context())
		if slices.ContainsFunc(cs, func(c storage.Client) bool { return c.Name == "e-BPOM" }) {
			t.Fatal("an invalid client was stored")
		}
	})

	t.Run("without the CSRF token nothing is created", func(t *testing.T) {
		noToken := url.Values{"name": {"x"}}
		resp, _ := b.post(tp.issuer+"/admin/clients", noToken)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
	})

	var id, secret, current string
	t.Run("create shows the secret once and stores its hash", func(t *testing.T) {
		resp, page := b.post(tp.issuer+"/admin/clients", form)
		s, i := shownSecret.FindStringSubmatch(page), shownID.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || s == nil || i == nil {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		id, secret = i[1], html.UnescapeString(s[1])
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("secret page Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		c, err := tp.durable.ClientByID(t.Context(), id)
		if err != nil || c.SecretHash == "" || strings.Contains(c.SecretHash, secret) ||
			!slices.Equal(c.RedirectURIs, []string{"https://ebpom.example/callback", "https://ebpom.example/cb2"}) {
			t.Fatalf("stored %+v %v", c, err)
		}
		if n := auditCount(t, tp, "client.create", id); n != 1 {
			t.Fatalf("%d client.create events", n)
		}
		_, page = b.get(tp.issuer + "/admin/clients/" + id)
		if strings.Contains(page, secret) {
			t.Fatal("the edit page shows the secret again")
		}
	})

	tokenWith := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, tp.issuer+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("edit adds client_credentials; the secret works", func(t *testing.T) {
		_, page := b.get(tp.issuer + "/admin/clients/" + id)
		f := formFields(t, page)
		f.Set("name", "e-BPOM (BPOM)")
		f.Set("redirect_uris", "https://ebpom.example/callback")
		f["grant_type"] = []string{storage.GrantAuthorizationCode, storage.GrantClientCredentials}
		f.Set("auth_method", storage.AuthMethodSecretBasic)
		resp, _ := b.post(tp.issuer+"/admin/clients/"+id, f)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Query().Get("ok") != "saved" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Request.URL)
		}
		c, _ := tp.durable.ClientByID(t.Context(), id)
		if c.Name != "e-BPOM (BPOM)" || !slices.Contains(c.GrantTypes, storage.GrantClientCredentials) {
			t.Fatalf("%+v", c)
		}
		if got := tokenWith(secret); got != http.StatusOK {
			t.Fatalf("token with the secret: %d", got)
		}
	})

	t.Run("rotation needs a recent sign-in", func(t *testing.T) {
		tp.clock.Advance(11 * time.Minute)
		defer tp.clock.Advance(-11 * time.Minute)
		_, page := b.get(tp.issuer + "/admin/clients/" + id)
		resp, page := b.post(tp.issuer+"/admin/clients/"+id+"/secret", formFields(t, page))
		if resp.Request.URL.Path != "/reauth" || resp.Request.URL.Query().Get("return") != "/admin" {
			t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Request.URL, page)
		}
		if got := tokenWith(secret); got != http.StatusOK {
			t.Fatalf("the refused rotation changed the secret: %d", got)
		}
	})

	t.Run("rotation: the new secret works, the old one stops", func(t *testing.T) {
		_, page := b.get(tp.issuer + "/admin/clients/" + id)
		resp, page := b.post(tp.issuer+"/admin/clients/"+id+"/secret", formFields(t, page))
		s := shownSecret.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || s == nil {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		if got := tokenWith(secret); got != http.StatusUnauthorized {
			t.Fatalf("old secret: %d", got)
		}
		current = html.UnescapeString(s[1])
		if got := tokenWith(current); got != http.StatusOK {
			t.Fatalf("new secret: %d", got)
		}
		if n := auditCount(t, tp, "client.rotate_secret", id); n != 1 {
			t.Fatalf("%d rotation events", n)
		}
	})

	t.Run("disable refuses the client at once; enable restores it", func(t *testing.T) {
		_, page := b.get(tp.issuer + "/admin/clients/" + id)
		csrf := formFields(t, page)
		resp, page := b.post(tp.issuer+"/admin/clients/"+id+"/disable", csrf)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="client-disabled"`) {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		if got := tokenWith(current); got != http.StatusUnauthorized {
			t.Fatalf("token of a disabled client: %d", got)
		}
		b.post(tp.issuer+"/admin/clients/"+id+"/enable", csrf)
		if got := tokenWith(current); got != http.StatusOK {
			t.Fatalf("token after enabling: %d", got)
		}
		if auditCount(t, tp, "client.disable", id) != 1 || auditCount(t, tp, "client.enable", id) != 1 {
			t.Fatal("want one client.disable and one client.enable event")
		}
	})

	t.Run("delete wants the id typed", func(t *testing.T) {
		_, page := b.get(tp.issuer + "/admin/clients/" + id)
		f := formFields(t, page)
		f.Set("confirm", "nope")
		resp, _ := b.post(tp.issuer+"/admin/clients/"+id+"/delete", f)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%d", resp.StatusCode)
		}
		if _, err := tp.durable.ClientByID(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		f.Set("confirm", id)
		resp, page = b.post(tp.issuer+"/admin/clients/"+id+"/delete", f)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="notice"`) {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		if _, err := tp.durable.ClientByID(t.Context(), id); err == nil {
			t.Fatal("not deleted")
		}
		if n := auditCount(t, tp, "client.delete", id); n != 1 {
			t.Fatalf("%d delete events", n)
		}
	})
}

func TestConsoleUsers(t *testing.T) {
	tp := newTestProvider(t)
	b := adminSession(t, tp)
	ctx := t.Context()
	other := storage.User{ID: storage.NewID(), Username: "budi.santoso", Email: "budi@example.co.id", Name: "Budi Santoso",
		PasswordHash: tp.user.PasswordHash, CreatedAt: tp.clock.Now()}
	if err := tp.durable.CreateUser(ctx, other); err != nil {
		t.Fatal(err)
	}
	theirs := tp.newBrowser()
	// Budi signs in: his session is what disabling must end.
	f := newFlow()
	_, page := theirs.get(tp.authURL("app-one", f))
	form := formFields(t, page)
	form.Set("username", other.Username)
	form.Set("password", tp.password)
	theirs.post(tp.issuer+"/login", form)

	resp, page := b.get(tp.issuer + "/admin/users?by=name&q=budi")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-user="`+other.ID+`"`) {
		t.Fatalf("search: %d\n%s", resp.StatusCode, page)
	}
	_, page = b.get(tp.issuer + "/admin/users/" + other.ID)
	if !strings.Contains(page, `id="sessions"`) {
		t.Fatalf("no session listed:\n%s", page)
	}
	csrf := formFields(t, page).Get("csrf_token")
	post := func(path string, v url.Values) *http.Response {
		t.Helper()
		v.Set("csrf_token", csrf)
		resp, _ := b.post(tp.issuer+"/admin/users/"+other.ID+path, v)
		return resp
	}

	t.Run("disable ends the sessions; one event", func(t *testing.T) {
		if resp := post("/disable", url.Values{}); resp.Request.URL.Query().Get("ok") != "disabled" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Request.URL)
		}
		u, _ := tp.durable.UserByID(ctx, other.ID)
		ss, _ := tp.ephemeral.UserSessions(ctx, other.ID)
		if !u.Disabled || len(ss) != 0 {
			t.Fatalf("disabled %v, %d sessions left", u.Disabled, len(ss))
		}
		if n := auditCount(t, tp, "user.disable", other.ID); n != 1 {
			t.Fatalf("%d events", n)
		}
		post("/enable", url.Values{})
		if u, _ := tp.durable.UserByID(ctx, other.ID); u.Disabled {
			t.Fatal("still disabled")
		}
	})

	t.Run("expiry: set, refused in the past, cleared", func(t *testing.T) {
		day := tp.clock.Now().AddDate(0, 1, 0).Format(time.DateOnly)
		post("/expiry", url.Values{"expires": {day}})
		u, _ := tp.durable.UserByID(ctx, other.ID)
		if u.ExpiresAt.IsZero() {
			t.Fatal("no expiry")
		}
		if resp := post("/expiry", url.Values{"expires": {"2001-01-01"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("past date: %d", resp.StatusCode)
		}
		if resp := post("/expiry", url.Values{"expires": {"<script>"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("garbage: %d", resp.StatusCode)
		}
		post("/expiry", url.Values{"clear": {"yes"}})
		if u, _ := tp.durable.UserByID(ctx, other.ID); !u.ExpiresAt.IsZero() {
			t.Fatal("expiry not cleared")
		}
		if n := auditCount(t, tp, "user.set_expiry", other.ID); n != 2 {
			t.Fatalf("%d events, want 2 (the refused ones write none)", n)
		}
	})

	t.Run("roles: grant officer; an admin cannot drop their own admin role", func(t *testing.T) {
		post("/roles", url.Values{"role": {"officer"}, "grant": {"yes"}})
		if u, _ := tp.durable.UserByID(ctx, other.ID); !u.HasRole(storage.RoleOfficer) {
			t.Fatal("no officer role")
		}
		if resp := post("/roles", url.Values{"role": {"superuser"}, "grant": {"yes"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("unknown role: %d", resp.StatusCode)
		}
		v := url.Values{"role": {"admin"}, "csrf_token": {csrf}}
		resp, _ := b.post(tp.issuer+"/admin/users/"+tp.user.ID+"/roles", v)
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("self demotion: %d", resp.StatusCode)
		}
	})

	t.Run("a password-reset link is mailed", func(t *testing.T) {
		if resp := post("/password-reset", url.Values{}); resp.Request.URL.Query().Get("ok") != "reset" {
			u, _ := tp.durable.UserByID(ctx, other.ID)
			t.Fatalf("%d %s %+v", resp.StatusCode, resp.Request.URL, u)
		}
		tp.mails.WaitFor(t, other.Email, 2*time.Minute)
		if n := auditCount(t, tp, "password.reset_sent", other.ID); n != 1 {
			t.Fatalf("%d events", n)
		}
	})

	t.Run("unknown user is 404", func(t *testing.T) {
		resp, _ := b.get(tp.issuer + "/admin/users/nobody")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}

func TestConsoleOrganizations(t *testing.T) {
	tp := newTestProvider(t)
	b := adminSession(t, tp)
	resp, page := b.get(tp.issuer + "/admin/organizations?by=nib&q=" + url.QueryEscape(tp.org.NIB))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-org="`+tp.org.ID+`"`) {
		t.Fatalf("search: %d\n%s", resp.StatusCode, page)
	}
	_, page = b.get(tp.issuer + "/admin/organizations/" + tp.org.ID)
	if !strings.Contains(page, `href="/admin/users/`+tp.user.ID+`"`) {
		t.Fatalf("the member is not listed:\n%s", page)
	}
	form := formFields(t, page)
	for k, v := range map[string]string{"name": tp.org.Name, "nib": "12345", "npwp": tp.org.NPWP} {
		form.Set(k, v)
	}
	resp, page = b.post(tp.issuer+"/admin/organizations/"+tp.org.ID, form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="form-error"`) {
		t.Fatalf("short NIB: %d", resp.StatusCode)
	}
	form.Set("nib", tp.org.NIB)
	form.Set("name", `PT <Baru> "Jaya"`)
	resp, page = b.post(tp.issuer+"/admin/organizations/"+tp.org.ID, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "PT &lt;Baru&gt; &#34;Jaya&#34;") {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
	if o, _ := tp.durable.OrganizationByID(t.Context(), tp.org.ID); o.Name != `PT <Baru> "Jaya"` {
		t.Fatalf("stored %q", o.Name)
	}
}

func TestConsoleSettings(t *testing.T) {
	tp := newTestProvider(t)
	b := adminSession(t, tp)
	_, page := b.get(tp.issuer + "/admin/settings")
	form := formFields(t, page)
	form.Set("version", "0")
	form.Set("contact_phone_id", "(021) 555-0100")
	form.Set("contact_phone_en", "+62 21 555 0100")
	form.Set("faq_0_q_id", "Apa itu <b>satupintu</b>?")
	resp, page := b.post(tp.issuer+"/admin/settings", form)
	// Only the fields set above: the other texts came back empty, and the
	// service name is required.
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="settings-problems"`) {
		t.Fatalf("incomplete settings: %d\n%s", resp.StatusCode, page)
	}
	st, err := tp.durable.Settings(t.Context())
	if err != nil || st.Version != 0 {
		t.Fatalf("a refused edit was stored: %+v %v", st, err)
	}

	// The whole form as the browser sends it.
	form = url.Values{"csrf_token": {form.Get("csrf_token")}, "version": {"0"},
		"service_name_id": {"SatuPintu INSW"}, "contact_email_id": {"layanan@insw.go.id"},
		"contact_phone_id": {"(021) 555-0100"}, "contact_phone_en": {"+62 21 555 0100"},
		"faq_0_q_id": {"Apa itu <b>satupintu</b>?"}, "faq_0_a_id": {"Satu akun untuk semua layanan."},
		"link_0_title_id": {"Panduan"}, "link_0_url": {"https://insw.go.id/panduan.pdf"}, "link_0_kind": {"guide"},
		"banner_id": {"Pemeliharaan Sabtu 22.00"}, "banner_on": {"yes"}}
	resp, page = b.post(tp.issuer+"/admin/settings", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Query().Get("ok") != "saved" {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
	if n := auditCount(t, tp, "settings.update", "settings"); n != 1 {
		t.Fatalf("%d settings.update events", n)
	}
	_, page = b.get(tp.issuer + "/contact?lang=en")
	if !strings.Contains(page, "62 21 555 0100") || !strings.Contains(page, "Pemeliharaan Sabtu 22.00") {
		t.Fatalf("the contact page does not show the edit:\n%s", page)
	}
	// A second editor still holding version 0 is refused, nothing lost.
	resp, _ = b.post(tp.issuer+"/admin/settings", form)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale edit: %d", resp.StatusCode)
	}
}

func TestConsoleAudit(t *testing.T) {
	tp := newTestProvider(t)
	b := adminSession(t, tp)
	resp, page := b.get(tp.issuer + "/admin/audit?action=login.*")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<code>login.success</code>") || strings.Contains(page, "<code>mfa.") {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
	resp, _ = b.get(tp.issuer + "/admin/audit?since=yesterday")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d", resp.StatusCode)
	}
	resp, page = b.get(tp.issuer + "/admin/audit/export?format=csv&action=login.success")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(page, "id,time,action") || !strings.Contains(page, "login.success") || strings.Contains(page, "mfa.") {
		t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	if n := auditCount(t, tp, "audit.export", "audit"); n != 1 {
		t.Fatalf("%d export events", n)
	}
}
