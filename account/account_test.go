package account

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/registration"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
	"satupintu/storage/storagetest"
	"satupintu/templates"
	"satupintu/web"
	"satupintu/web/webtest"
)

// testCookie names the session in these tests. The real cookie belongs to
// the login package; CurrentSession is the boundary this package is given.
const testCookie = "test_session"

// env is the account pages on a test server, backed by the real embedded
// stores (SQLite durable, in-process ephemeral).
// testPassword is every test user's password as EmailChange checks it.
const testPassword = "kata sandi benar"

type env struct {
	t        *testing.T
	clock    *conformance.Clock
	eph      *memory.Store
	dur      *sqlite.Store
	h        *Handler
	srv      *httptest.Server
	linker   *Linker
	trader   storage.User // importir
	exporter storage.User // eksportir
	org      storage.Organization
	smtp     *mailtest.Server
	mail     *mailbox
}

// mailbox records the messages the handler sends and passes them on to
// next, the test's SMTP server, so every message also makes a real SMTP
// exchange.
type mailbox struct {
	next mail.Sender
	mu   sync.Mutex
	sent []mail.Message
}

// Mail stands in for the outbox, which the jobs package tests: it delivers
// at once.
func (m *mailbox) Mail(ctx context.Context, _ storage.Tx, msg mail.Message) error {
	m.mu.Lock()
	m.sent = append(m.sent, msg)
	m.mu.Unlock()
	return m.next.Send(ctx, msg)
}

// to returns the messages sent to addr, oldest first.
func (m *mailbox) to(addr string) []mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mail.Message
	for _, msg := range m.sent {
		if msg.To == addr {
			out = append(out, msg)
		}
	}
	return out
}

// fieldCheck adapts a registration validator, as cmd/satupintu does.
func fieldCheck(fn func(string) (string, error)) Check {
	return func(s string) (string, *Problem) {
		v, err := fn(s)
		if err == nil {
			return v, nil
		}
		var fe *registration.FieldError
		if errors.As(err, &fe) {
			return "", &Problem{Key: fe.Key, Args: fe.Args}
		}
		return "", &Problem{Key: "account.profile.fix_fields"}
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	eph, dur := storagetest.Embedded(t, clk.Now)
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &env{t: t, clock: clk, eph: eph, dur: dur}
	e.mail = &mailbox{next: e.mailer()}
	e.linker = &Linker{AllowLoopback: true, Timeout: 5 * time.Second} // a loaded CI machine must not reach it
	codec := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	e.h = &Handler{
		Users: dur, Organizations: dur, Clients: dur, Links: dur, Grants: dur, AccessTokens: eph, Sessions: eph, Counters: eph, Audit: dur,
		Pages: pages, CSRF: web.NewCSRF(codec, false),
		CurrentSession: func(r *http.Request) (storage.Session, storage.User, bool) {
			c, err := r.Cookie(testCookie)
			if err != nil {
				return storage.Session{}, storage.User{}, false
			}
			s, err := eph.SessionByID(r.Context(), c.Value)
			if err != nil {
				return storage.Session{}, storage.User{}, false
			}
			u, err := dur.UserByID(r.Context(), s.UserID)
			if err != nil {
				return storage.Session{}, storage.User{}, false
			}
			return s, u, true
		},
		Linker: e.linker,
		CheckName: fieldCheck(func(s string) (string, error) {
			return registration.Name(registration.FieldFullName, s, registration.MaxFullName)
		}),
		CheckPhone: fieldCheck(registration.Phone),
		EmailChange: &EmailChange{Pending: eph,
			CheckEmail: fieldCheck(registration.Email),
			CheckPassword: func(_ context.Context, _ storage.User, secret string) (bool, error) {
				return secret == testPassword, nil // login's argon2id check, which login tests
			}},
		CheckPosition: fieldCheck(func(s string) (string, error) {
			return registration.Name(registration.FieldPosition, s, registration.MaxPosition)
		}),
		Memberships: dur, Invitations: dur, RefreshTokens: dur, Mail: e.mail, BaseURL: "https://sso.example",
		AuthRequests: eph,
		CallbackURL: func(_ context.Context, id string) string {
			return "/authorize/callback?id=" + url.QueryEscape(id)
		},
		NewUsername: func(ctx context.Context, email string) (string, error) {
			return registration.FreeUsername(ctx, dur, email)
		},
		Now: clk.Now, Logger: logger,
	}
	mux := http.NewServeMux()
	e.h.Mount(mux)
	e.srv = httptest.NewServer(web.SecurityHeaders(web.LimitBody(mux, 0), false))
	t.Cleanup(e.srv.Close)

	now := clk.Now()
	e.org = storage.Organization{ID: storage.NewID(), NIB: "9120001234567", NPWP: "012345678901000",
		Name: "PT Contoh Niaga Nusantara", TraderType: "importir", BusinessType: "pt",
		Address:   storage.Address{Street: "Jl. Pelabuhan Raya No. 12", City: "Jakarta Utara", Province: "DKI Jakarta", PostalCode: "14310", Country: "ID"},
		CreatedAt: now, UpdatedAt: now}
	exportOrg := storage.Organization{ID: storage.NewID(), NIB: "9120007654321", NPWP: "019876543210000",
		Name: "CV Ekspor Jaya", TraderType: "eksportir", CreatedAt: now, UpdatedAt: now}
	for _, o := range []storage.Organization{e.org, exportOrg} {
		if err := dur.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e.trader = e.createUser("budi", e.org.ID)
	e.exporter = e.createUser("sari", exportOrg.ID)
	return e
}

func (e *env) createUser(username, orgID string) storage.User {
	e.t.Helper()
	now := e.clock.Now()
	u := storage.User{ID: storage.NewID(), Username: username, Email: username + "@contoh.co.id", EmailVerified: true,
		Name: "User " + username, Phone: "+6281234567890", Position: "Direktur", OrganizationID: orgID,
		ExpiresAt: time.Date(2026, 9, 2, 0, 0, 0, 0, time.UTC), CreatedAt: now, UpdatedAt: now}
	if err := e.dur.CreateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) createClient(c storage.Client) storage.Client {
	e.t.Helper()
	c.CreatedAt, c.UpdatedAt = e.clock.Now(), e.clock.Now()
	if c.GrantTypes == nil {
		c.GrantTypes = []string{storage.GrantAuthorizationCode}
		c.RedirectURIs = []string{"https://" + c.ID + ".example/callback"}
	}
	if err := e.dur.CreateClient(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// session stores an SSO session for u, as the login package would.
func (e *env) session(u storage.User, ua string, clients ...string) storage.Session {
	e.t.Helper()
	now := e.clock.Now()
	s := storage.Session{ID: storage.NewID(), UserID: u.ID, AuthTime: now, AMR: []string{"pwd"}, ClientIDs: clients,
		UserAgent: ua, IP: "192.0.2.10", CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	if err := e.eph.CreateSession(e.t.Context(), s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// browser is a user agent with a cookie jar that does not follow
// redirects, signed in with session s (or nobody, for the zero value).
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser(s storage.Session) *browser {
	c := webtest.NewClient(e.t, nil)
	u, _ := url.Parse(e.srv.URL)
	if s.ID != "" {
		c.Jar.SetCookies(u, []*http.Cookie{{Name: testCookie, Value: s.ID, Path: "/"}})
	}
	return &browser{e: e, client: c}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.e.t.Helper()
	r := webtest.Get(b.e.t, b.client, b.e.srv.URL+path)
	return r.Response, r.Body
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	r := webtest.PostForm(b.e.t, b.client, b.e.srv.URL+path, form)
	return r.Response, r.Body
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrf loads path and returns a form holding its CSRF token.
func (b *browser) csrf(path string) url.Values {
	b.e.t.Helper()
	resp, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.e.t.Fatalf("GET %s: %d, no csrf token:\n%s", path, resp.StatusCode, body)
	}
	return url.Values{"csrf_token": {html.UnescapeString(m[1])}}
}

func wantRedirect(t *testing.T, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
		t.Fatalf("got %d Location %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), to)
	}
}

func TestEveryAccountPageRequiresSignIn(t *testing.T) {
	e := newEnv(t)
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, AccountLinkURL: "https://ebpom.example/link"})
	anon := e.browser(storage.Session{})
	for _, path := range []string{"/apps", "/apps/ebpom/link", "/apps/ebpom/data", "/profile", "/sessions", "/company", "/organization?authRequestID=x"} {
		resp, _ := anon.get(path)
		wantRedirect(t, resp, "/login")
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
		}
	}
	for _, path := range []string{"/apps/ebpom/link", "/apps/ebpom/unlink", "/apps/ebpom/withdraw", "/profile", "/sessions/x/end", "/sessions/end-others",
		"/company/o/invitations", "/company/o/invitations/i/resend", "/company/o/invitations/i/cancel", "/company/o/members/u/remove", "/company/o/members/u/make-admin", "/company/o/members/u/role", "/apps/ebpom/organization", "/organization"} {
		resp, _ := anon.post(path, url.Values{"phone": {"0812"}})
		wantRedirect(t, resp, "/login")
	}

	// Signed in, every POST still needs the form's CSRF token (ASVS 3.5.1).
	b := e.browser(e.session(e.trader, "test"))
	b.get("/apps") // gets the CSRF cookie, but the forms below lack the token
	for _, path := range []string{"/apps/ebpom/link", "/apps/ebpom/unlink", "/apps/ebpom/withdraw", "/profile", "/sessions/x/end", "/sessions/end-others",
		"/company/o/invitations", "/company/o/invitations/i/resend", "/company/o/invitations/i/cancel", "/company/o/members/u/remove", "/company/o/members/u/make-admin", "/company/o/members/u/role", "/apps/ebpom/organization", "/organization"} {
		resp, _ := b.post(path, url.Values{"username": {"a"}, "password": {"b"}, "phone": {"0812 1111 2222"}, "position": {"x"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without csrf_token: %d", path, resp.StatusCode)
		}
	}
}

func TestHelpAndContactArePublic(t *testing.T) {
	e := newEnv(t)
	anon := e.browser(storage.Session{})
	signed := e.browser(e.session(e.trader, "test"))
	for _, tt := range []struct{ path, id, en string }{
		{"/help", "Pusat Bantuan", "Help Center"},
		{"/contact", "Contact Center", "Contact Center"},
	} {
		resp, body := anon.get(tt.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tt.id) {
			t.Errorf("GET %s: %d", tt.path, resp.StatusCode)
		}
		if strings.Contains(body, `class="account-nav"`) {
			t.Errorf("GET %s signed out shows the account menu", tt.path)
		}
		resp, body = anon.get(tt.path + "?lang=en")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tt.en) {
			t.Errorf("GET %s?lang=en: %d", tt.path, resp.StatusCode)
		}
		_, body = signed.get(tt.path)
		if !strings.Contains(body, `class="account-nav"`) || !strings.Contains(body, `href="/apps"`) {
			t.Errorf("GET %s signed in lacks the account menu", tt.path)
		}
	}
}

func TestNavKeysExist(t *testing.T) {
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range navItems {
		if !pages.Catalog().Has(it.Key) {
			t.Errorf("nav key %q missing", it.Key)
		}
	}
	for _, key := range notices {
		if !pages.Catalog().Has(key) {
			t.Errorf("notice key %q missing", key)
		}
	}
}

// mailer starts an SMTP server for the test and returns a sender to it;
// e.smtp receives what it sends.
func (e *env) mailer() mail.Sender {
	e.t.Helper()
	e.smtp = mailtest.NewServer(e.t, mailtest.WithoutSTARTTLS())
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: e.smtp.Host(), Port: e.smtp.Port(), TLS: mail.TLSNone, From: "satupintu <no-reply@satupintu.test>"})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}
