package account

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"satupintu/storage"
)

func TestMayOpen(t *testing.T) {
	tests := []struct {
		name   string
		client storage.Client
		trader string
		want   bool
	}{
		{"listed for everyone", storage.Client{Listed: true}, "importir", true},
		{"listed for everyone, staff account", storage.Client{Listed: true}, "", true},
		{"not listed", storage.Client{}, "importir", false},
		{"trader type allowed", storage.Client{Listed: true, AllowedTraderTypes: []string{"eksportir", "importir"}}, "importir", true},
		{"trader type not allowed", storage.Client{Listed: true, AllowedTraderTypes: []string{"eksportir"}}, "importir", false},
		{"restricted app, staff account", storage.Client{Listed: true, AllowedTraderTypes: []string{"eksportir"}}, "", false},
	}
	for _, tt := range tests {
		if got := mayOpen(tt.client, tt.trader); got != tt.want {
			t.Errorf("%s: mayOpen = %v", tt.name, got)
		}
	}
}

func TestYourAppsFilteredByTraderType(t *testing.T) {
	e := newEnv(t)
	e.createClient(storage.Client{ID: "insw", Name: "Portal INSW", Listed: true, Description: "Portal layanan INSW",
		LaunchURL: "https://portal.insw.example/"})
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, AllowedTraderTypes: []string{"importir"},
		LaunchURL: "https://ebpom.example/"})
	e.createClient(storage.Client{ID: "ekspor", Name: "Ekspor Online", Listed: true, AllowedTraderTypes: []string{"eksportir"},
		LaunchURL: "https://ekspor.example/"})
	e.createClient(storage.Client{ID: "internal", Name: "Internal Service", LaunchURL: "https://internal.example/"})

	tests := []struct {
		user      storage.User
		want, not []string
	}{
		{e.trader, []string{"Portal INSW", "e-BPOM", "https://ebpom.example/", "Portal layanan INSW"}, []string{"Ekspor Online", "Internal Service", "internal.example"}},
		{e.exporter, []string{"Portal INSW", "Ekspor Online"}, []string{"e-BPOM", "Internal Service"}},
	}
	for _, tt := range tests {
		resp, body := e.browser(e.session(tt.user, "test")).get("/apps")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET /apps %d", tt.user.Username, resp.StatusCode)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page lacks %q", tt.user.Username, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: page shows %q", tt.user.Username, n)
			}
		}
	}

	// The link form of an app the user may not open does not exist for them.
	e.createClient(storage.Client{ID: "ekspor-link", Name: "Ekspor Link", Listed: true, AllowedTraderTypes: []string{"eksportir"},
		AccountLinkURL: "https://ekspor.example/link"})
	e.createClient(storage.Client{ID: "hidden-link", Name: "Hidden Link", AccountLinkURL: "https://hidden.example/link"})
	b := e.browser(e.session(e.trader, "test"))
	for _, id := range []string{"ekspor-link", "hidden-link", "no-such-app", "insw"} {
		if resp, _ := b.get("/apps/" + id + "/link"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /apps/%s/link: %d, want 404", id, resp.StatusCode)
		}
	}
}

func TestYourAppsNeverRendersUnsafeURLs(t *testing.T) {
	e := newEnv(t)
	e.createClient(storage.Client{ID: "evil", Name: "Evil", Listed: true,
		LogoURL: "javascript:alert(1)", LaunchURL: "javascript:alert(2)"})
	e.createClient(storage.Client{ID: "data", Name: "Data", Listed: true,
		LogoURL: "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", LaunchURL: "//evil.example/"})
	e.createClient(storage.Client{ID: "plain", Name: "Plain", Listed: true,
		LogoURL: "http://logo.example/x.png", LaunchURL: "http://plain.example/"})
	e.createClient(storage.Client{ID: "good", Name: "Good", Listed: true,
		LogoURL: `https://cdn.good.example/logo.png?a=1&b="x"`, LaunchURL: "https://good.example/"})

	resp, body := e.browser(e.session(e.trader, "test")).get("/apps")
	for _, bad := range []string{"javascript:", "data:image", "evil.example", "logo.example", "plain.example", "ZgotmplZ"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(body, `<img class="app-logo" src="https://cdn.good.example/logo.png?a=1&amp;b=%22x%22"`) {
		t.Errorf("good logo not rendered, escaped:\n%s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' data: https://cdn.good.example;") {
		t.Errorf("CSP does not allow the logo's origin: %q", csp)
	}
	if strings.Count(body, `class="button app-open"`) != 1 {
		t.Errorf("want one Open button (the https app)")
	}
}

// linkApp is a client application's account-verification endpoint: a
// boundary we do not own, served in-process on loopback.
type linkApp struct {
	mu    sync.Mutex
	calls []url.Values
	srv   *httptest.Server
}

func newLinkApp(t *testing.T, answer http.HandlerFunc) *linkApp {
	a := &linkApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		a.mu.Lock()
		a.calls = append(a.calls, r.PostForm)
		a.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *linkApp) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.calls) }

func (a *linkApp) last() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[len(a.calls)-1]
}

// demoAccounts answers like the demo relying party: one known account.
func demoAccounts(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.PostForm.Get("username"), "ebpom.budi") && r.PostForm.Get("password") == "rahasia-ebpom" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"username": "EBPOM.BUDI"})
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
}

func TestLinkAnAppAccount(t *testing.T) {
	e := newEnv(t)
	app := newLinkApp(t, demoAccounts)
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, LaunchURL: "https://ebpom.example/",
		AccountLinkURL: app.srv.URL + "/account-link"})
	ctx := t.Context()
	b := e.browser(e.session(e.trader, "test"))

	_, body := b.get("/apps")
	if !strings.Contains(body, "SSO belum terdaftar") || !strings.Contains(body, `href="/apps/ebpom/link"`) {
		t.Fatalf("unlinked app not offered for linking:\n%s", body)
	}

	t.Run("wrong password shows a friendly error and stores nothing", func(t *testing.T) {
		form := b.csrf("/apps/ebpom/link")
		form.Set("username", "ebpom.budi")
		form.Set("password", "salah")
		resp, body := b.post("/apps/ebpom/link", form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Aplikasi tidak menerima username dan kata sandi ini") {
			t.Fatalf("rejected: %d\n%s", resp.StatusCode, body)
		}
		if strings.Contains(body, "salah") {
			t.Error("the password is echoed back")
		}
		if !strings.Contains(body, `value="ebpom.budi"`) {
			t.Error("the username is not kept in the form")
		}
		if _, err := e.dur.AppLink(ctx, e.trader.ID, "ebpom"); err == nil {
			t.Error("a link was stored for rejected credentials")
		}
	})

	t.Run("empty fields are refused before calling the app", func(t *testing.T) {
		before := app.count()
		form := b.csrf("/apps/ebpom/link")
		resp, body := b.post("/apps/ebpom/link", form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Masukkan username Anda di aplikasi") {
			t.Fatalf("empty form: %d", resp.StatusCode)
		}
		if app.count() != before {
			t.Error("the app was called with an empty form")
		}
	})

	t.Run("right password links with the app's own username", func(t *testing.T) {
		form := b.csrf("/apps/ebpom/link")
		form.Set("username", "ebpom.budi")
		form.Set("password", "rahasia-ebpom")
		resp, _ := b.post("/apps/ebpom/link", form)
		wantRedirect(t, resp, "/apps?done=linked")
		l, err := e.dur.AppLink(ctx, e.trader.ID, "ebpom")
		if err != nil || l.AppUsername != "EBPOM.BUDI" || !l.LinkedAt.Equal(e.clock.Now()) {
			t.Fatalf("link = %+v, %v", l, err)
		}
		last := app.last()
		if last.Get("username") != "ebpom.budi" || last.Get("password") != "rahasia-ebpom" || len(last) != 2 {
			t.Errorf("the app received %v", last)
		}
		_, body := b.get("/apps?done=linked")
		if !strings.Contains(body, "SSO terdaftar") || !strings.Contains(body, "EBPOM.BUDI") || !strings.Contains(body, "Akun berhasil dihubungkan") {
			t.Errorf("linked app not marked:\n%s", body)
		}
		events, err := e.dur.ListAudit(ctx, 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, ev := range events {
			for _, v := range ev.Detail {
				if strings.Contains(v, "rahasia") || strings.Contains(v, "salah") {
					t.Errorf("audit event %s holds the password", ev.Action)
				}
			}
			found = found || ev.Action == "app.link" && ev.ClientID == "ebpom" && ev.ActorID == e.trader.ID
		}
		if !found {
			t.Error("no app.link audit event")
		}
	})

	t.Run("another user's link is not touched by unlinking", func(t *testing.T) {
		if err := e.dur.LinkApp(ctx, storage.AppLink{UserID: e.exporter.ID, ClientID: "ebpom", AppUsername: "sari", LinkedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		form := b.csrf("/apps")
		resp, _ := b.post("/apps/ebpom/unlink", form)
		wantRedirect(t, resp, "/apps?done=unlinked")
		if _, err := e.dur.AppLink(ctx, e.trader.ID, "ebpom"); err == nil {
			t.Error("own link still there")
		}
		if _, err := e.dur.AppLink(ctx, e.exporter.ID, "ebpom"); err != nil {
			t.Errorf("the other user's link is gone: %v", err)
		}
	})
}

func TestLinkFailuresAreFriendly(t *testing.T) {
	tests := []struct {
		name   string
		answer http.HandlerFunc
	}{
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(time.Minute): // far past the linker's limit
			case <-r.Context().Done():
			}
		}},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}},
		{"oversized answer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"username": "` + strings.Repeat("a", 5000) + `"}`))
		}},
		{"not json", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("OK")) }},
		{"no username", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"user": "x"}`)) }},
		{"username with control characters", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"username": "a\u0000b"}`)) }},
		{"username too long", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"username": "` + strings.Repeat("a", 129) + `"}`))
		}},
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			app := newLinkApp(t, tt.answer)
			e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, AccountLinkURL: app.srv.URL + "/account-link"})
			b := e.browser(e.session(e.trader, "test"))
			form := b.csrf("/apps/ebpom/link")
			form.Set("username", "ebpom.budi")
			form.Set("password", "rahasia-ebpom")
			start := time.Now()
			resp, body := b.post("/apps/ebpom/link", form)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "Aplikasi belum dapat memeriksa akun Anda") {
				t.Fatalf("%d\n%s", resp.StatusCode, body)
			}
			// Far below the answer's minute, so only the limit stopped it;
			// far above the limit, so a loaded machine does not fail it.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v; the time limit is %v", d, e.linker.Timeout)
			}
			if _, err := e.dur.AppLink(t.Context(), e.trader.ID, "ebpom"); err == nil {
				t.Error("link stored")
			}
		})
	}
}

func TestLinkAttemptsAreLimited(t *testing.T) {
	e := newEnv(t)
	app := newLinkApp(t, demoAccounts)
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, AccountLinkURL: app.srv.URL})
	b := e.browser(e.session(e.trader, "test"))
	for i := range linkLimit + 1 {
		form := b.csrf("/apps/ebpom/link")
		form.Set("username", "ebpom.budi")
		form.Set("password", "tebakan")
		resp, body := b.post("/apps/ebpom/link", form)
		if i < linkLimit && resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
		if i == linkLimit && (resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Terlalu banyak percobaan")) {
			t.Fatalf("attempt %d: %d, want 429", i+1, resp.StatusCode)
		}
	}
	if app.count() != linkLimit {
		t.Errorf("the app was called %d times, want %d", app.count(), linkLimit)
	}
}

// TestOpenStartsTheAppsOwnSignIn: with a third-party login endpoint
// (OIDC Core §4), "Open" goes there with iss and target_link_uri, so the
// application starts the sign-in and the user lands signed in; without
// one, "Open" is the launch URL; an unsafe endpoint is never rendered.
func TestOpenStartsTheAppsOwnSignIn(t *testing.T) {
	e := newEnv(t)
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, LaunchURL: "https://ebpom.example/",
		InitiateLoginURI: "https://ebpom.example/sso/initiate"})
	e.createClient(storage.Client{ID: "insw", Name: "Portal INSW", Listed: true, LaunchURL: "https://insw.example/"})
	e.createClient(storage.Client{ID: "bad", Name: "Bad", Listed: true, LaunchURL: "https://bad.example/",
		InitiateLoginURI: "javascript:alert(1)"})
	_, body := e.browser(e.session(e.trader, "test")).get("/apps")
	want := "https://ebpom.example/sso/initiate?" + url.Values{"iss": {e.h.BaseURL}, "target_link_uri": {"https://ebpom.example/"}}.Encode()
	for _, href := range []string{html.EscapeString(want), `href="https://insw.example/"`, `href="https://bad.example/"`} {
		if !strings.Contains(body, href) {
			t.Errorf("Your Apps lacks %s", href)
		}
	}
	if strings.Contains(body, "javascript:") {
		t.Error("an unsafe initiate_login_uri was rendered")
	}
}
