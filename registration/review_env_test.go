package registration

// The test environment of tracking, officer review and activation: the
// Handler on an httptest server over the real embedded stores (SQLite in a
// temporary directory, the in-process ephemeral store) and a real SMTP
// conversation with mailtest's server. Names carry a "review" prefix so
// they cannot collide with the wizard's tests in this package.

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/captcha"
	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/storage/sqlite"
	"satupintu/storage/storagetest"
	"satupintu/templates"
	"satupintu/web"
	"satupintu/web/webtest"
)

// switchMailer forwards to whichever real sender the test set last, so a
// test can make delivery fail and then recover.
type switchMailer struct{ to atomic.Pointer[mail.Sender] }

func (s *switchMailer) set(m mail.Sender) { s.to.Store(&m) }
func (s *switchMailer) Send(ctx context.Context, m mail.Message) error {
	return (*s.to.Load()).Send(ctx, m)
}

type reviewEnv struct {
	t      *testing.T
	clock  *conformance.Clock
	eph    *memory.Store
	dur    *sqlite.Store
	h      *Handler
	srv    *httptest.Server
	smtp   *mailtest.Server
	mailer *switchMailer
	outbox *jobstest.Outbox
	pages  *templates.Pages
	codec  *securecookie.SecureCookie
	seq    atomic.Int64
}

// reviewUserCookie names the test's stand-in for the login package's
// session: an authenticated cookie holding a user id. CurrentUser reads
// the user from the real store, as login does.
const reviewUserCookie = "test_user"

func newReviewEnv(t *testing.T, secure bool) *reviewEnv {
	t.Helper()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)) // 09:00 WIB
	eph, dur := storagetest.Embedded(t, clk.Now)
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	smtp := mailtest.NewServer(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: smtp.Host(), Port: smtp.Port(), TLS: mail.TLSNone,
		From: "satupintu <noreply@satupintu.example>"})
	if err != nil {
		t.Fatal(err)
	}
	mailer := &switchMailer{}
	mailer.set(sender)
	outbox := jobstest.Start(t, dur, mailer)

	codec := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &reviewEnv{t: t, clock: clk, eph: eph, dur: dur, smtp: smtp, mailer: mailer, outbox: outbox, pages: pages, codec: codec}
	e.h = &Handler{
		Registrations: dur, Tokens: dur, Users: dur, Organizations: dur,
		Drafts: eph, Counters: eph, Audit: dur, Mail: outbox, Captcha: &captcha.Service{Store: eph, Now: clk.Now},
		Pages: pages, CSRF: web.NewCSRF(codec, secure), Cookies: codec,
		CurrentUser: e.currentUser, Secure: secure, Now: clk.Now, Logger: logger,
	}
	mux := http.NewServeMux()
	handler := web.SecurityHeaders(web.LimitBodyWith(mux, 0, map[string]int64{"/track/revisi": revisionBodyLimit}), secure)
	if secure {
		e.srv = httptest.NewTLSServer(handler)
	} else {
		e.srv = httptest.NewServer(handler)
	}
	t.Cleanup(e.srv.Close)
	e.h.BaseURL = e.srv.URL
	e.h.Mount(mux)
	return e
}

func (e *reviewEnv) currentUser(r *http.Request) (storage.User, bool) {
	c, err := r.Cookie(reviewUserCookie)
	if err != nil {
		return storage.User{}, false
	}
	var id string
	if err := e.codec.Decode(reviewUserCookie, c.Value, &id); err != nil {
		return storage.User{}, false
	}
	u, err := e.dur.UserByID(r.Context(), id)
	return u, err == nil
}

// client is a browser with a cookie jar that does not follow redirects.
func (e *reviewEnv) client() *http.Client {
	return webtest.NewClient(e.t, e.srv)
}

// createUser stores an account with roles.
func (e *reviewEnv) createUser(username string, roles ...string) storage.User {
	e.t.Helper()
	now := e.clock.Now()
	u := storage.User{ID: storage.NewID(), Username: username, Email: username + "@kemendag.example",
		Name: "Petugas " + username, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		Roles: roles, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	if err := e.dur.CreateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// signedIn returns a browser signed in as u.
func (e *reviewEnv) signedIn(u storage.User) *http.Client {
	e.t.Helper()
	c := e.client()
	v, err := e.codec.Encode(reviewUserCookie, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	su, _ := url.Parse(e.srv.URL)
	c.Jar.SetCookies(su, []*http.Cookie{{Name: reviewUserCookie, Value: v, Path: "/"}})
	return c
}

func (e *reviewEnv) officer(name string) (storage.User, *http.Client) {
	u := e.createUser(name, storage.RoleOfficer)
	return u, e.signedIn(u)
}

// reviewPDF is the letter seeded registrations carry.
var reviewPDF = []byte(minimalPDF(""))

// seed stores a submitted registration with a unique NIB and email, edited
// by edit, submitted at the clock's time.
func (e *reviewEnv) seed(edit func(*storage.Registration, *storage.Document)) storage.Registration {
	e.t.Helper()
	n := e.seq.Add(1)
	now := e.clock.Now().UTC()
	g := storage.Registration{
		ID: storage.NewID(), ServiceNumber: NewServiceNumber(now), Status: storage.StatusSubmitted,
		Purpose: "transaksi", TraderType: "importir", NIBType: "oss", NIB: fmt.Sprintf("91200%08d", n),
		NPWPType: "15", NPWP: fmt.Sprintf("0123456789%05d", n), OrgName: fmt.Sprintf("PT Sinar Samudra %d", n),
		BusinessType: "pt",
		Address: storage.Address{Street: "Jl. Yos Sudarso Kav. 7", City: "Jakarta Utara",
			Province: "DKI Jakarta", PostalCode: "14310", Country: "ID"},
		FullName: "Siti Rahayu", Position: "Manajer Ekspor-Impor", IdentityType: "nik",
		IdentityNumber: "3171234567890001", Email: fmt.Sprintf("siti.rahayu%d@sinarsamudra.example", n),
		Phone: "+6281298765432", SubmittedAt: now, UpdatedAt: now,
	}
	doc := storage.Document{ID: storage.NewID(), RegistrationID: g.ID, FileName: "surat-kuasa.pdf",
		ContentType: TypePDF, SHA256: "00", Data: reviewPDF, CreatedAt: now}
	if edit != nil {
		edit(&g, &doc)
	}
	if err := e.dur.CreateRegistration(e.t.Context(), g, doc); err != nil {
		e.t.Fatal(err)
	}
	g.DocumentID = doc.ID
	return g
}

// setStatus moves a registration on directly in the store, as an officer
// would have.
func (e *reviewEnv) setStatus(id string, status storage.RegistrationStatus, actor, note string) {
	e.t.Helper()
	now := e.clock.Now().UTC()
	err := e.dur.UpdateRegistration(e.t.Context(), id, func(g *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		g.Status, g.UpdatedAt = status, now
		return storage.RegistrationEvent{Status: status, ActorID: actor, Note: note, Time: now}, nil, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *reviewEnv) registration(id string) storage.Registration {
	e.t.Helper()
	g, err := e.dur.RegistrationByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *reviewEnv) events(id string) []storage.RegistrationEvent {
	e.t.Helper()
	es, err := e.dur.RegistrationEvents(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// audits returns the audit events with action, oldest first.
func (e *reviewEnv) audits(action string) []storage.AuditEvent {
	e.t.Helper()
	all, err := e.dur.ListAudit(e.t.Context(), 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []storage.AuditEvent
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Action == action {
			out = append(out, all[i])
		}
	}
	return out
}

// T is the message of key in Indonesian, HTML-escaped as pages show it
// (html/template also escapes '+').
func (e *reviewEnv) T(key string, args ...any) string {
	return strings.ReplaceAll(html.EscapeString(e.pages.T(templates.LangID, key, args...)), "+", "&#43;")
}

func (e *reviewEnv) get(c *http.Client, path string) webtest.Response {
	e.t.Helper()
	return webtest.Get(e.t, c, e.srv.URL+path)
}

func (e *reviewEnv) post(c *http.Client, path string, form url.Values) webtest.Response {
	e.t.Helper()
	return webtest.PostForm(e.t, c, e.srv.URL+path, form)
}

// postMultipart posts form with an optional file part named document.
func (e *reviewEnv) postMultipart(c *http.Client, path string, form url.Values, fileName string, file []byte) webtest.Response {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	if file != nil || fileName != "" {
		fw, err := mw.CreateFormFile(FieldDocument, fileName)
		if err != nil {
			e.t.Fatal(err)
		}
		fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest("POST", e.srv.URL+path, &b)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return webtest.Do(e.t, c, req)
}

var reviewCSRFField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the first form on a page, fetching it
// with GET path.
func (e *reviewEnv) csrf(c *http.Client, path string) string {
	e.t.Helper()
	page := e.get(c, path)
	m := reviewCSRFField.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("GET %s: %d, no csrf_token:\n%s", path, page.StatusCode, page.Body)
	}
	return m[1]
}

func reviewWantRedirect(t *testing.T, res webtest.Response, want string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303\n%s", res.StatusCode, res.Body)
	}
	if got := res.Header.Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}
}

func reviewWant(t *testing.T, res webtest.Response, status int, texts ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", res.StatusCode, status, res.Body)
	}
	for _, s := range texts {
		if !strings.Contains(res.Body, s) {
			t.Errorf("page lacks %q:\n%s", s, res.Body)
		}
	}
}
