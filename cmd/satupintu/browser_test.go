package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"satupintu/demorp"
	"satupintu/password"
	"satupintu/storage"
)

// TestBrowserSingleSignOn drives a real (headless) chromium through single
// sign-on between two demo relying parties and the provider's own sign-in
// page, then through RP-initiated logout:
//
//  1. app 1: sign in with the password form; the claims page shows the
//     user's name and the organization's NIB and NPWP;
//  2. app 2: sign in without the form (the provider's session answers);
//  3. app 1: sign out, which ends the provider's session too;
//  4. app 2: signing in asks for the password again.
//
// Screenshots of the sign-in page and the claims page go to
// $SATUPINTU_SCREENSHOTS if set, else to a temporary directory.
func TestBrowserSingleSignOn(t *testing.T) {
	b := newBrowserSession(t) // first: its time limit then covers the servers' shutdown
	tp := newTestProvider(t)
	app1 := tp.startDemoApp("ebpom-test", "e-BPOM (test)")
	app2 := tp.startDemoApp("insw-test", "Portal INSW (test)")
	start := time.Now()

	// 1. App 1, first sign-in: the provider asks for the password.
	b.open(app1.ExternalURL+"/", "#signin")
	b.clickAndLoad("#signin", tp.issuer+"/login?")
	b.wait(`input[name="password"]`)
	if h1 := b.text("h1"); !strings.Contains(h1, app1.Name) {
		b.fatalf("sign-in page heading %q does not name the client %q", h1, app1.Name)
	}
	b.screenshot("provider-signin.png")
	b.submitPassword(tp.user.Username, tp.password, app1.ExternalURL+"/")
	b.wait("#claims")
	b.checkClaims(tp)
	b.screenshot("app1-claims.png")

	// 2. App 2: single sign-on, the browser never shows a provider page.
	b.open(app2.ExternalURL+"/", "#signin")
	b.nav.reset()
	b.clickAndLoad("#signin", app2.ExternalURL+"/")
	b.wait("#claims")
	shown, requested := b.nav.reset()
	if len(shown) == 0 || !sameOrigin(shown[len(shown)-1], app2.ExternalURL) {
		b.fatalf("pages shown during single sign-on: %q, want app 2's last", shown)
	}
	for _, u := range shown {
		if sameOrigin(u, tp.issuer) {
			b.fatalf("single sign-on showed a provider page %s (pages shown: %q)", u, shown)
		}
	}
	if !hasRequest(requested, tp.issuer, "/authorize") {
		b.fatalf("sign-in at app 2 did not go through the provider: %q", requested)
	}
	// Single sign-on is answered by /authorize itself, without the
	// /login and callback hops.
	if hasRequest(requested, tp.issuer, "/login") || hasRequest(requested, tp.issuer, "/authorize/callback") {
		b.fatalf("single sign-on took extra provider round trips: %q", requested)
	}
	if n := b.count(`input[name="password"]`); n != 0 {
		b.fatalf("password field on app 2's page after single sign-on")
	}
	b.checkClaims(tp)

	// 3. App 1: sign out. The provider ends its session (the ID token hint
	// is verified, so no confirmation) and sends the browser back.
	b.open(app1.ExternalURL+"/", "#signout")
	b.clickAndLoad("#signout", app1.ExternalURL+"/?")
	b.wait("#signed-out")
	b.wait("#signin")
	if n := b.count("#claims"); n != 0 {
		b.fatalf("app 1 still shows claims after signing out")
	}

	// 4. App 2 again: without the provider's session the form is back.
	b.open(app2.ExternalURL+"/", "#signin, #signout")
	if b.count("#signin") == 1 {
		b.clickAndLoad("#signin", tp.issuer+"/login?")
	} else {
		// App 2 still has its own session: logging out at app 1 ends the
		// provider's session, not other relying parties' (there is no
		// front- or back-channel logout). Start a new sign-in as #signin
		// would.
		t.Logf("app 2 kept its local session after the logout at app 1; starting a new sign-in at %s/login", app2.ExternalURL)
		b.navigate(app2.ExternalURL+"/login", tp.issuer+"/login?")
	}
	b.wait(`input[name="password"]`)
	if h1 := b.text("h1"); !strings.Contains(h1, app2.Name) {
		b.fatalf("sign-in page heading %q does not name the client %q", h1, app2.Name)
	}
	b.submitPassword(tp.user.Username, tp.password, app2.ExternalURL+"/")
	b.wait("#claims")
	b.checkClaims(tp)

	t.Logf("browser flow took %s", time.Since(start).Round(time.Millisecond))
}

// startDemoApp serves a demorp app on loopback and registers it at the
// provider as a confidential client, the way the demo data does.
func (tp *testProvider) startDemoApp(clientID, name string) demorp.App {
	t := tp.t
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	app := demorp.App{
		Name:         name,
		ClientID:     clientID,
		ClientSecret: password.GenerateSecret(),
		ExternalURL:  "http://" + srv.Listener.Addr().String(),
	}
	now := tp.clock.Now()
	err := tp.durable.CreateClient(t.Context(), storage.Client{
		ID: app.ClientID, Name: app.Name, SecretHash: password.HashSecret(app.ClientSecret),
		RedirectURIs:           []string{app.RedirectURI()},
		PostLogoutRedirectURIs: []string{app.PostLogoutRedirectURI()},
		GrantTypes:             []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		AccessTokenFormat:      "opaque", CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := demorp.NewHandler(t.Context(), tp.issuer, app, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return app
}

// browserSession is one chromium tab with helpers that fail the test with
// the page's location and text, and a screenshot, when a step goes wrong.
type browserSession struct {
	t           *testing.T
	ctx         context.Context
	nav         *navRecorder
	screenshots string
}

// stepTimeout bounds one step, so a failure names the step that hung
// instead of only hitting browserTestTimeout. A healthy step takes well under
// a second; the bound is for a loaded CI machine, not a speed assertion.
const stepTimeout = 60 * time.Second

func newBrowserSession(t *testing.T) *browserSession {
	t.Helper()
	ctx := newChromium(t)
	dir := os.Getenv("SATUPINTU_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browserSession{t: t, ctx: ctx, nav: &navRecorder{}, screenshots: dir}
	if err := chromedp.Listen(ctx, b.nav.record); err != nil {
		t.Fatal(err)
	}
	return b
}

// navRecorder sees the main frame's navigations: every document request
// (redirects included) and every document the tab actually displayed.
type navRecorder struct {
	mu        sync.Mutex
	shown     []string
	requested []string
}

// record runs in chromedp's event loop: it must be quick and run no command.
func (n *navRecorder) record(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeDocument {
			n.requested = append(n.requested, ev.Request.URL)
		}
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			n.shown = append(n.shown, ev.Frame.URL)
		}
	}
}

// reset returns what was recorded since the last reset and starts afresh.
func (n *navRecorder) reset() (shown, requested []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	shown, requested = n.shown, n.requested
	n.shown, n.requested = nil, nil
	return shown, requested
}

func (b *browserSession) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// fatalf fails the test with where the browser is and what it shows.
func (b *browserSession) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(body) > 2000 {
		body = body[:2000] + "…"
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(b.screenshots, "failure.png")
		if os.WriteFile(path, png, 0o644) == nil {
			b.t.Logf("screenshot at failure: %s", path)
		}
	}
	b.t.Fatalf(format+"\nbrowser at %s showing:\n%s", append(args, loc, body)...)
}

// load runs actions that navigate the tab, waits for the resulting page to
// load and checks it was answered 200 at a URL starting with want.
func (b *browserSession) load(what string, want string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	if resp == nil {
		b.fatalf("%s: no document response", what)
	}
	if resp.Status != 200 || !strings.HasPrefix(resp.URL, want) {
		b.fatalf("%s: got %d at %s, want 200 at %s…", what, resp.Status, resp.URL, want)
	}
}

// navigate opens rawURL and expects to end at a URL starting with want.
func (b *browserSession) navigate(rawURL, want string) {
	b.t.Helper()
	b.load("open "+rawURL, want, chromedp.Navigate(rawURL))
}

// open loads rawURL and waits until sel is visible.
func (b *browserSession) open(rawURL string, sel string) {
	b.t.Helper()
	b.navigate(rawURL, rawURL)
	b.wait(sel)
}

// clickAndLoad clicks sel and waits for the page it leads to, which must
// be at a URL starting with want.
func (b *browserSession) clickAndLoad(sel string, want string) {
	b.t.Helper()
	b.load("click "+sel, want, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browserSession) wait(sel string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fatalf("wait for %s: %v", sel, err)
	}
}

func (b *browserSession) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// count returns how many elements match the CSS selector now, without
// waiting.
func (b *browserSession) count(css string) int {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	if err != nil {
		b.fatalf("count %s: %v", css, err)
	}
	return n
}

// submitPassword fills the provider's sign-in form and submits it by
// clicking its button; the browser must end up at want.
func (b *browserSession) submitPassword(username, secret, want string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), secret),
	); err != nil {
		b.fatalf("fill in the sign-in form: %v", err)
	}
	b.clickAndLoad(`form:has(input[name="password"]) button[type="submit"]`, want)
}

// checkClaims checks what the demo app shows about the signed-in user.
func (b *browserSession) checkClaims(tp *testProvider) {
	b.t.Helper()
	for _, c := range []struct{ id, want string }{
		{"user-name", tp.user.Name},
		{"org-nib", tp.org.NIB},
		{"org-npwp", tp.org.NPWP},
	} {
		if got := b.text("#" + c.id); got != c.want {
			b.fatalf("#%s = %q, want %q", c.id, got, c.want)
		}
	}
	if info := b.text("#userinfo"); !strings.Contains(info, tp.user.Email) {
		b.fatalf("#userinfo does not contain the email %q:\n%s", tp.user.Email, info)
	}
}

// screenshot saves the whole page as a PNG file.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.screenshots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func sameOrigin(rawURL, origin string) bool {
	u, err := url.Parse(rawURL)
	o, err2 := url.Parse(origin)
	return err == nil && err2 == nil && u.Scheme == o.Scheme && u.Host == o.Host
}

// hasRequest reports whether one of the URLs is path on origin.
func hasRequest(urls []string, origin, path string) bool {
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && sameOrigin(raw, origin) && u.Path == path {
			return true
		}
	}
	return false
}
