package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gorilla/securecookie"

	"satupintu/captcha"
	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/quota"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/storagetest"
	"satupintu/templates"
	"satupintu/web"
	"satupintu/web/webtest"
)

// The wizard's tests drive it as a browser does: a test server with the
// real embedded stores (memory for drafts and counters, SQLite for the
// rest), a client with a cookie jar, forms posted with the CSRF token of
// the page they came from. Helpers are prefixed "wiz" to stay apart from
// the other tests of the package.

type wizEnv struct {
	t      *testing.T
	clock  *conformance.Clock
	eph    storage.Ephemeral
	dur    wizDurable
	smtp   *mailtest.Server
	outbox *jobstest.Outbox
	pages  *templates.Pages
	codec  *securecookie.SecureCookie
	h      *Handler
	srv    *httptest.Server
	client *http.Client
}

// wizDurable is what the wizard's tests need of a durable store: both
// SQLite and Postgres provide it.
type wizDurable interface {
	storage.Durable
	storage.DraftDocuments
	CreateOrganization(ctx context.Context, o storage.Organization) error
}

// newWizEnv starts the registration handler as cmd/satupintu wires it:
// security headers, the default body limit with MaxUploadBody for the
// upload path, the trusted-proxy rule (so a test client can speak from
// another address with X-Forwarded-For, wizEnv.clientFrom), and the
// Handler's real dependencies on the embedded backends. secure runs it
// over TLS with Secure=true.
func newWizEnv(t *testing.T, secure bool) *wizEnv {
	t.Helper()
	clk := conformance.NewClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	eph, dur := storagetest.Embedded(t, clk.Now)
	return newWizEnvOn(t, secure, clk, eph, dur)
}

// newWizEnvOn is newWizEnv on the given stores (Redis and Postgres in the
// abuse test).
func newWizEnvOn(t *testing.T, secure bool, clk *conformance.Clock, eph storage.Ephemeral, dur wizDurable) *wizEnv {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	// Mail is a boundary: a real SMTP conversation with mailtest's server,
	// which keeps what it receives (the codes, the outcome of submissions).
	smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
	mailer, err := mail.NewSMTP(mail.SMTPConfig{Host: smtp.Host(), Port: smtp.Port(), TLS: mail.TLSNone,
		From: "satupintu <noreply@satupintu.example>"})
	if err != nil {
		t.Fatal(err)
	}
	outbox := jobstest.Start(t, dur, mailer)
	codec := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h := &Handler{
		Registrations: dur,
		Tokens:        dur,
		Users:         dur,
		Organizations: dur,
		Drafts:        eph,
		Counters:      eph,
		Captcha:       &captcha.Service{Store: eph, Now: clk.Now},
		Audit:         dur,
		Mail:          outbox,
		Pages:         pages,
		CSRF:          web.NewCSRF(securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)), secure),
		Cookies:       codec,
		CurrentUser:   func(*http.Request) (storage.User, bool) { return storage.User{}, false },
		BaseURL:       "http://127.0.0.1",
		Secure:        secure,
		Now:           clk.Now,
		Logger:        logger,
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	h.Captcha.Mount(mux)
	handler := web.SecurityHeaders(web.LimitBodyWith(mux, 0, map[string]int64{
		"/register/dokumen": MaxUploadBody,
	}), secure)
	handler = web.TrustedProxies(handler, wizLoopback)
	var srv *httptest.Server
	if secure {
		srv = httptest.NewTLSServer(handler)
	} else {
		srv = httptest.NewServer(handler)
	}
	t.Cleanup(srv.Close)
	e := &wizEnv{t: t, clock: clk, eph: eph, dur: dur, smtp: smtp, outbox: outbox, pages: pages, codec: codec, h: h, srv: srv}
	e.client = e.newClient()
	return e
}

// wizLoopback is the test server's trusted proxy: the test clients.
var wizLoopback = []*net.IPNet{
	{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// wizAddrTransport sends every request as if from ip, through the
// trusted-proxy header.
type wizAddrTransport struct {
	base http.RoundTripper
	ip   string
}

func (a wizAddrTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", a.ip)
	return a.base.RoundTrip(r)
}

// clientFrom is a fresh browser at client address ip.
func (e *wizEnv) clientFrom(ip string) *http.Client {
	c := e.newClient()
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = wizAddrTransport{base: base, ip: ip}
	return c
}

var wizCode = regexp.MustCompile(`(?m)^\s+(\d{6})$`)

// mails is every message delivered once the outbox has nothing left to
// send: mail leaves after the request that queued it.
func (e *wizEnv) mails() []mailtest.Received {
	e.t.Helper()
	e.outbox.Settle(e.t)
	return e.smtp.Messages()
}

// lastMail is the newest message to the address whose subject starts with
// the Indonesian subject of subjectKey.
func (e *wizEnv) lastMail(to, subjectKey string) (mailtest.Received, bool) {
	e.t.Helper()
	msgs := e.mails()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if strings.HasPrefix(m.Subject, e.pages.T("id", subjectKey)) && slices.ContainsFunc(m.To, func(a string) bool { return strings.EqualFold(a, to) }) {
			return m, true
		}
	}
	return mailtest.Received{}, false
}

// code is the verification code last mailed to the address.
func (e *wizEnv) code(to string) string {
	e.t.Helper()
	m, ok := e.lastMail(to, "reg.code.mail.subject")
	if !ok {
		e.t.Fatalf("no verification code was mailed to %s", to)
	}
	c := wizCode.FindStringSubmatch(m.Body)
	if c == nil {
		e.t.Fatalf("no code in the mail:\n%s", m.Body)
	}
	return c[1]
}

// verify enters the code last mailed to the draft's address.
func (e *wizEnv) verify(c *http.Client, email string) webtest.Response {
	e.t.Helper()
	return e.submitStep(c, StepVerify, "next", url.Values{fieldCode: {e.code(email)}})
}

// newClient is a fresh browser that does not follow redirects, so each
// one can be checked.
func (e *wizEnv) newClient() *http.Client {
	return webtest.NewClient(e.t, e.srv)
}

func (e *wizEnv) do(c *http.Client, req *http.Request) webtest.Response {
	e.t.Helper()
	return webtest.Do(e.t, c, req)
}

func (e *wizEnv) get(c *http.Client, path string) webtest.Response {
	e.t.Helper()
	return webtest.Get(e.t, c, e.srv.URL+path)
}

func (e *wizEnv) post(c *http.Client, path string, form url.Values) webtest.Response {
	e.t.Helper()
	return webtest.PostForm(e.t, c, e.srv.URL+path, form)
}

// postRaw posts body with contentType as is: for hand-made multipart.
func (e *wizEnv) postRaw(c *http.Client, path, contentType string, body io.Reader) webtest.Response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return e.do(c, req)
}

// multipartBody builds the document form as a browser sends it: the CSRF
// token first, then the file (empty name and content when none is
// chosen), then the button.
func multipartBody(t *testing.T, csrf, action, fileName string, file []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if csrf != "" {
		mw.WriteField("csrf_token", csrf)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="document"; filename="%s"`, fileName))
	h.Set("Content-Type", "application/pdf") // what the browser claims; never trusted
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(file)
	mw.WriteField("action", action)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &buf
}

// upload posts a file on the document step with the page's CSRF token.
func (e *wizEnv) upload(c *http.Client, action, fileName string, file []byte) webtest.Response {
	e.t.Helper()
	csrf := e.csrf(c, "/register/dokumen")
	ct, body := multipartBody(e.t, csrf, action, fileName, file)
	return e.postRaw(c, "/register/dokumen", ct, body)
}

var wizCSRFField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads path and returns the CSRF token of its form.
func (e *wizEnv) csrf(c *http.Client, path string) string {
	e.t.Helper()
	page := e.get(c, path)
	if page.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d (Location %q)\n%s", path, page.StatusCode, page.Header.Get("Location"), page.Body)
	}
	m := wizCSRFField.FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("GET %s: no csrf_token\n%s", path, page.Body)
	}
	return html.UnescapeString(m[1])
}

// submitStep loads the step's page and posts values with action, with
// the page's security check solved where the action needs it
// (stepForm, wizard_captcha_test.go).
func (e *wizEnv) submitStep(c *http.Client, slug, action string, values url.Values) webtest.Response {
	e.t.Helper()
	form := e.stepForm(c, slug, action)
	for k, v := range values {
		form[k] = v
	}
	return e.post(c, "/register/"+slug, form)
}

// wizValid is a complete, valid registration, one entry per form step, in
// the forms people type (the wizard normalizes them).
func wizValid() map[string]url.Values {
	return map[string]url.Values{
		StepPurpose: {FieldPurpose: {"transaksi"}},
		StepTrader:  {FieldTraderType: {"importir"}},
		StepNIB:     {FieldNIBType: {"oss"}, FieldNIB: {" 9120001234567 "}},
		StepNPWP:    {FieldNPWPType: {"15"}, FieldNPWP: {"01.234.567.8-901.000"}},
		StepOrg:     {FieldOrgName: {"PT  Maju Bersama"}, FieldBusinessType: {"pt"}},
		StepAddress: {FieldStreet: {"Jl. Merdeka No. 1\nRT 01/RW 02"}, FieldCity: {"Jakarta Pusat"},
			FieldProvince: {"DKI Jakarta"}, FieldPostalCode: {"10110"}, FieldCountry: {"id"}},
		StepPerson: {FieldFullName: {"Siti Rahayu"}, FieldPosition: {"Direktur"},
			FieldIdentityType: {"nik"}, FieldIdentityNumber: {"3171 2345 6789 0123"}},
		StepContact: {FieldEmail: {"Siti@Example.co.id"}, FieldPhone: {"0812-3456-7890"}},
		StepTerms:   {fieldTerms: {"yes"}},
	}
}

var wizPDF = []byte(minimalPDF(""))

func wizWantRedirect(t *testing.T, res webtest.Response, want string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 to %s\n%s", res.StatusCode, want, res.Body)
	}
	if got := res.Header.Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}
}

func wizWant(t *testing.T, res webtest.Response, status int, texts ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", res.StatusCode, status, res.Body)
	}
	for _, s := range texts {
		if !strings.Contains(res.Body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// T is the message as a page shows it (HTML-escaped), in Indonesian.
func (e *wizEnv) T(key string, args ...any) string {
	return html.EscapeString(e.pages.T("id", key, args...))
}

// fillTo completes every step before slug with data (wizValid if nil),
// checking each Next lands on the following step.
func (e *wizEnv) fillTo(c *http.Client, slug string, data map[string]url.Values) {
	e.t.Helper()
	if data == nil {
		data = wizValid()
	}
	for i, s := range steps {
		if s.slug == slug {
			return
		}
		var res webtest.Response
		switch s.slug {
		case StepDocument:
			res = e.upload(c, "next", "Surat Kuasa.pdf", wizPDF)
		case StepVerify:
			email, err := Email(data[StepContact].Get(FieldEmail))
			if err != nil {
				e.t.Fatal(err)
			}
			res = e.verify(c, email)
		default:
			res = e.submitStep(c, s.slug, "next", data[s.slug])
		}
		wizWantRedirect(e.t, res, "/register/"+steps[i+1].slug)
	}
	e.t.Fatalf("no step %q", slug)
}

// submit completes the whole wizard and returns the submission's response.
func (e *wizEnv) submit(c *http.Client, data map[string]url.Values) webtest.Response {
	e.t.Helper()
	e.fillTo(c, StepConfirm, data)
	return e.submitStep(c, StepConfirm, "submit", nil)
}

var wizServiceNumber = regexp.MustCompile(`SP-\d{8}-[0-9A-Z]{9}`)

// serviceNumber follows a successful submission to the success page and
// returns the service number mailed to the registrant (wizValid's email
// unless given).
func (e *wizEnv) serviceNumber(c *http.Client, res webtest.Response, email ...string) string {
	e.t.Helper()
	to := "siti@example.co.id"
	if len(email) > 0 {
		to = email[0]
	}
	wizWantRedirect(e.t, res, "/register/selesai")
	page := e.get(c, "/register/selesai")
	wizWant(e.t, page, http.StatusOK, e.T("reg.done.explain", to))
	m, ok := e.lastMail(to, "reg.mail.received.subject")
	sn := wizServiceNumber.FindString(m.Body)
	if !ok || sn == "" {
		e.t.Fatalf("no service number mailed to %s:\n%s", to, m.Body)
	}
	return sn
}

// draftID is the draft id in c's cookie ("" if none).
func (e *wizEnv) draftID(c *http.Client) string {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL + "/register/tujuan")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == e.h.draftCookie() {
			var id string
			if err := e.codec.Decode(ck.Name, ck.Value, &id); err != nil {
				e.t.Fatal(err)
			}
			return id
		}
	}
	return ""
}

// storedDraft reads the draft of c from the ephemeral store.
func (e *wizEnv) storedDraft(c *http.Client) *draft {
	e.t.Helper()
	id := e.draftID(c)
	if id == "" {
		e.t.Fatal("no draft cookie")
	}
	b, err := e.eph.Draft(e.t.Context(), draftKeyPrefix+id)
	if err != nil {
		e.t.Fatal(err)
	}
	d := &draft{}
	if err := json.Unmarshal(b, d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// storedDocument reports whether c's draft has letter bytes stored.
func (e *wizEnv) storedDocument(c *http.Client) bool {
	e.t.Helper()
	return e.hasDocument(e.draftID(c))
}

// hasDocument reports whether draft id has a live letter in durable storage.
func (e *wizEnv) hasDocument(id string) bool {
	e.t.Helper()
	_, err := e.dur.DraftDocument(e.t.Context(), id, e.clock.Now())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *wizEnv) registrations() []storage.Registration {
	e.t.Helper()
	regs, err := e.dur.ListRegistrations(e.t.Context(), storage.RegistrationFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return regs
}

func (e *wizEnv) auditActions() []string {
	e.t.Helper()
	events, err := e.dur.ListAudit(e.t.Context(), 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		a := events[i].Action
		if r := events[i].Detail["reason"]; r != "" {
			a += " " + r
		}
		out = append(out, a)
	}
	return out
}

func TestWizardHappyPath(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client

	overview := e.get(c, "/register")
	wizWant(t, overview, http.StatusOK,
		e.T("reg.requirement.nib"), e.T("reg.requirement.letter"), e.T("reg.term.5"),
		`<a class="button" href="/register/tujuan">`+e.T("reg.start")+`</a>`)
	if cc := overview.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}

	e.fillTo(c, StepConfirm, nil)
	confirm := e.get(c, "/register/konfirmasi")
	wizWant(t, confirm, http.StatusOK,
		"PT Maju Bersama", "9120001234567", "01.234.567.8-901.000", "3171234567890123",
		"siti@example.co.id", "&#43;6281234567890", "10110", "Jl. Merdeka No. 1 RT 01/RW 02",
		e.T("reg.trader.importir"), e.T("reg.business.pt"), e.T("reg.purpose.transaksi"),
		"Surat_Kuasa.pdf", "(PDF, ", e.T("reg.confirm.submit"), e.T("reg.confirm.cancel"),
		`href="/register/alamat"`, `aria-current="step"`)
	if cc := confirm.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	id := e.draftID(c)

	res := e.submitStep(c, StepConfirm, "submit", nil)
	sn := e.serviceNumber(c, res)
	done := e.get(c, "/register/selesai")
	// The page names where the outcome went, never the outcome itself
	// (no enumeration): the service number is in the mail.
	wizWant(t, done, http.StatusOK, e.T("reg.done.explain", "siti@example.co.id"), e.T("reg.done.keep"), `href="/track"`)
	if strings.Contains(done.Body, sn) {
		t.Error("the success page shows the service number")
	}
	if again := e.get(c, "/register/selesai"); !strings.Contains(again.Body, e.T("reg.done.explain", "siti@example.co.id")) {
		t.Error("reloading the success page lost it")
	}
	m, _ := e.lastMail("siti@example.co.id", "reg.mail.received.subject")
	if want := e.pages.T("id", "reg.mail.received.body", "Siti Rahayu", "PT Maju Bersama", sn, e.h.BaseURL+"/track"); !strings.Contains(m.Body, want) {
		t.Errorf("the received mail lacks %q:\n%s", want, m.Body)
	}

	// Stored: the registration in normal form, its letter, its first event.
	ctx := t.Context()
	g, err := e.dur.RegistrationByServiceNumber(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	want := storage.Registration{
		ServiceNumber: sn, Status: storage.StatusSubmitted, Purpose: "transaksi", TraderType: "importir",
		NIBType: "oss", NIB: "9120001234567", NPWPType: "15", NPWP: "012345678901000",
		OrgName: "PT Maju Bersama", BusinessType: "pt",
		Address: storage.Address{Street: "Jl. Merdeka No. 1 RT 01/RW 02", City: "Jakarta Pusat",
			Province: "DKI Jakarta", PostalCode: "10110", Country: "ID"},
		FullName: "Siti Rahayu", Position: "Direktur", IdentityType: "nik", IdentityNumber: "3171234567890123",
		Email: "siti@example.co.id", Phone: "+6281234567890", SubmittedAt: now, UpdatedAt: now,
	}
	if diff := cmp.Diff(want, g, cmpopts.IgnoreFields(storage.Registration{}, "ID", "DocumentID"), cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("stored registration (-want +got):\n%s", diff)
	}
	if g.SubmittedAt.Location() != time.UTC {
		t.Errorf("SubmittedAt in %v, want UTC", g.SubmittedAt.Location())
	}
	doc, err := e.dur.DocumentByID(ctx, g.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.Data, wizPDF) || doc.ContentType != TypePDF || doc.FileName != "Surat_Kuasa.pdf" || doc.RegistrationID != g.ID {
		t.Errorf("stored document %q %q %q, %d bytes", doc.FileName, doc.ContentType, doc.RegistrationID, len(doc.Data))
	}
	events, err := e.dur.RegistrationEvents(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Status != storage.StatusSubmitted {
		t.Errorf("events %+v, want one submitted", events)
	}
	if got := e.auditActions(); !strings.Contains(strings.Join(got, ","), "registration.submit") {
		t.Errorf("audit %v lacks registration.submit", got)
	}

	// The draft, its letter and the cookie are gone.
	if _, err := e.eph.Draft(ctx, draftKeyPrefix+id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("draft still stored (%v)", err)
	}
	if e.hasDocument(id) {
		t.Error("the draft's letter is still pending after submission")
	}
	if e.draftID(c) != "" {
		t.Error("draft cookie not cleared")
	}
	fresh := e.get(c, "/register/tujuan")
	if strings.Contains(fresh.Body, "checked") {
		t.Error("a new registration starts with the old values")
	}
}

func TestWizardEnglish(t *testing.T) {
	e := newWizEnv(t, false)
	res := e.get(e.client, "/register?lang=en")
	wizWant(t, res, http.StatusOK, "Create a new account", `<html lang="en">`)
	e.fillTo(e.client, StepNIB, nil)
	bad := e.submitStep(e.client, StepNIB, "next", url.Values{FieldNIBType: {"oss"}, FieldNIB: {"123"}})
	wizWant(t, bad, http.StatusOK, html.EscapeString(e.pages.T("en", KeyNIBDigits)), "Step 3 of 12")
}

func TestWizardBackKeepsValuesWithoutValidating(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepNPWP, nil)

	// An invalid NIB typed, then Back: saved as typed, no error shown.
	res := e.submitStep(c, StepNIB, "back", url.Values{FieldNIBType: {"non_oss"}, FieldNIB: {"12-34"}})
	wizWantRedirect(t, res, "/register/trader")
	page := e.get(c, "/register/nib")
	wizWant(t, page, http.StatusOK, `value="12-34"`, `value="non_oss" checked`)
	if strings.Contains(page.Body, `class="field-error"`) {
		t.Error("Back showed a validation error")
	}
	// The NIB step is incomplete again, so the steps after it are closed.
	wizWantRedirect(t, e.get(c, "/register/npwp"), "/register/nib")

	// Back from the first step goes to the overview.
	wizWantRedirect(t, e.submitStep(c, StepPurpose, "back", url.Values{FieldPurpose: {"informasi"}}), "/register")
	wizWant(t, e.get(c, "/register/tujuan"), http.StatusOK, `value="informasi" checked`)
	// The overview offers to continue where the draft stopped.
	wizWant(t, e.get(c, "/register"), http.StatusOK, `href="/register/nib"`, e.T("reg.continue"))
}

func TestWizardRefreshShowsSavedValues(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepOrg, nil)
	// After Next, the normal form is shown.
	wizWant(t, e.get(c, "/register/npwp"), http.StatusOK, `value="012345678901000"`, `value="15" checked`)
	// A failed Next keeps what was typed across a refresh too.
	bad := e.submitStep(c, StepOrg, "next", url.Values{FieldOrgName: {"PT Sinar"}, FieldBusinessType: {""}})
	wizWant(t, bad, http.StatusOK, `value="PT Sinar"`)
	wizWant(t, e.get(c, "/register/organisasi"), http.StatusOK, `value="PT Sinar"`)
}

func TestWizardStepsCannotBeSkipped(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	for _, slug := range []string{"trader", "kontak", "dokumen", "persetujuan", "konfirmasi"} {
		wizWantRedirect(t, e.get(c, "/register/"+slug), "/register/tujuan")
	}
	// A POST to a later step is turned away too, before it stores anything.
	csrf := e.csrf(c, "/register/tujuan")
	wizWantRedirect(t, e.post(c, "/register/kontak", url.Values{"csrf_token": {csrf}, "action": {"next"},
		FieldEmail: {"a@b.co.id"}, FieldPhone: {"081234567890"}}), "/register/tujuan")
	if e.draftID(c) != "" {
		t.Error("a refused POST created a draft")
	}
	ct, body := multipartBody(t, csrf, "next", "a.pdf", wizPDF)
	wizWantRedirect(t, e.postRaw(c, "/register/dokumen", ct, body), "/register/tujuan")

	e.fillTo(c, StepNIB, nil)
	wizWantRedirect(t, e.get(c, "/register/alamat"), "/register/nib")
	wizWantRedirect(t, e.submitStep(c, StepTrader, "next", wizValid()[StepTrader]), "/register/nib")
	res := e.post(c, "/register/konfirmasi", url.Values{"csrf_token": {csrf}, "action": {"submit"}})
	wizWantRedirect(t, res, "/register/nib")
	if n := len(e.registrations()); n != 0 {
		t.Errorf("%d registrations stored from an incomplete draft", n)
	}

	wizWantRedirect(t, e.get(c, "/register/selesai"), "/register")
	wizWant(t, e.get(c, "/register/nope"), http.StatusNotFound)
	wizWant(t, e.post(c, "/register/selesai", url.Values{"csrf_token": {csrf}}), http.StatusNotFound)
}

// One bad value per step: the error is next to its field, in the user's
// language, linked with aria-describedby, and the value typed is kept.
func TestWizardValidationErrors(t *testing.T) {
	tests := []struct {
		name  string
		step  string
		edit  url.Values
		field string
		key   string
		args  []any
		kept  string
	}{
		{"purpose not offered", StepPurpose, url.Values{FieldPurpose: {"admin"}}, FieldPurpose, KeyChoice, nil, ""},
		{"no trader type", StepTrader, url.Values{FieldTraderType: {""}}, FieldTraderType, KeyRequired, nil, ""},
		{"NIB too short", StepNIB, url.Values{FieldNIB: {"12345"}}, FieldNIB, KeyNIBDigits, nil, `value="12345"`},
		{"NPWP half formatted", StepNPWP, url.Values{FieldNPWP: {"01.234.5678901000"}}, FieldNPWP, KeyNPWP15Digits, nil, `value="01.234.5678901000"`},
		{"NPWP 16 with 15 digits", StepNPWP, url.Values{FieldNPWPType: {"16"}, FieldNPWP: {"012345678901000"}}, FieldNPWP, KeyNPWP16Digits, nil, `value="012345678901000"`},
		{"organization name too long", StepOrg, url.Values{FieldOrgName: {strings.Repeat("a", MaxOrgName+1)}}, FieldOrgName, KeyTooLong, []any{MaxOrgName}, ""},
		{"business type forged", StepOrg, url.Values{FieldBusinessType: {"ltd"}}, FieldBusinessType, KeyChoice, nil, ""},
		{"postal code", StepAddress, url.Values{FieldPostalCode: {"0123"}}, FieldPostalCode, KeyPostalCode, nil, `value="0123"`},
		{"city empty", StepAddress, url.Values{FieldCity: {"  "}}, FieldCity, KeyRequired, nil, ""},
		{"name with a control character", StepPerson, url.Values{FieldFullName: {"Siti\u202eRahayu"}}, FieldFullName, KeyInvalidChars, nil, ""},
		{"NIK too short", StepPerson, url.Values{FieldIdentityNumber: {"123"}}, FieldIdentityNumber, KeyNIKDigits, nil, `value="123"`},
		{"passport format", StepPerson, url.Values{FieldIdentityType: {"passport"}, FieldIdentityNumber: {"ABCDEFG"}}, FieldIdentityNumber, KeyPassportFormat, nil, `value="ABCDEFG"`},
		{"email", StepContact, url.Values{FieldEmail: {"siti at example"}}, FieldEmail, KeyEmailFormat, nil, `value="siti at example"`},
		{"phone", StepContact, url.Values{FieldPhone: {"+1 202 555 0100"}}, FieldPhone, KeyPhoneFormat, nil, `value="&#43;1 202 555 0100"`},
		{"terms not ticked", StepTerms, url.Values{fieldTerms: {""}}, fieldTerms, keyTermsRequired, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWizEnv(t, false)
			e.fillTo(e.client, tt.step, nil)
			values := wizValid()[tt.step]
			for k, v := range tt.edit {
				values[k] = v
			}
			res := e.submitStep(e.client, tt.step, "next", values)
			msg := e.T(tt.key, tt.args...)
			wizWant(t, res, http.StatusOK,
				e.T("reg.fix_fields"),
				`<p class="field-error" id="`+tt.field+`-error">`+msg+`</p>`,
				tt.kept)
			// The invalid control carries aria-invalid and points at its message.
			control := regexp.MustCompile(`<[^>]*id="` + tt.field + `"[^>]*>`).FindString(res.Body)
			if !strings.Contains(control, `aria-invalid="true"`) ||
				!regexp.MustCompile(`aria-describedby="[^"]*\b`+tt.field+`-error"`).MatchString(control) {
				t.Errorf("control %s lacks aria-invalid/aria-describedby", control)
			}
			if strings.Count(res.Body, `class="field-error"`) != 1 {
				t.Errorf("want exactly one field error, got %d", strings.Count(res.Body, `class="field-error"`))
			}
			// The step did not move on.
			wizWantRedirect(t, e.get(e.client, "/register/konfirmasi"), "/register/"+tt.step)
		})
	}
	t.Run("no document", func(t *testing.T) {
		e := newWizEnv(t, false)
		e.fillTo(e.client, StepDocument, nil)
		res := e.upload(e.client, "next", "", nil)
		wizWant(t, res, http.StatusOK, `<p class="field-error" id="document-error">`+e.T(KeyRequired)+`</p>`)
	})
}

func TestWizardExpiredDraft(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepNIB, nil)
	// Saving refreshes the lifetime: 1h50 after each save, it is alive.
	e.clock.Advance(DraftTTL - 10*time.Minute)
	wizWantRedirect(t, e.submitStep(c, StepNIB, "next", wizValid()[StepNIB]), "/register/npwp")
	e.clock.Advance(DraftTTL - 10*time.Minute)
	wizWant(t, e.get(c, "/register/npwp"), http.StatusOK, `name="npwp"`)

	e.clock.Advance(DraftTTL + time.Second)
	res := e.get(c, "/register/npwp")
	wizWant(t, res, http.StatusOK, e.T("reg.draft_expired"), `href="/register/tujuan"`)
	var cleared bool
	for _, ck := range res.Cookies() {
		cleared = cleared || ck.Name == "satupintu_reg" && ck.MaxAge < 0
	}
	if !cleared {
		t.Error("the stale draft cookie was not cleared")
	}

	// A POST with a stale cookie (from another tab) gets the same message
	// and stores nothing.
	c2 := e.newClient()
	stale, err := e.codec.Encode("satupintu_reg", storage.NewID())
	if err != nil {
		t.Fatal(err)
	}
	csrf := e.csrf(c2, "/register/tujuan")
	u, _ := url.Parse(e.srv.URL + "/register/")
	c2.Jar.SetCookies(u, []*http.Cookie{{Name: "satupintu_reg", Value: stale, Path: "/register"}})
	res = e.post(c2, "/register/trader", url.Values{"csrf_token": {csrf}, "action": {"next"}, FieldTraderType: {"ppjk"}})
	wizWant(t, res, http.StatusOK, e.T("reg.draft_expired"))
	if e.draftID(c2) != "" {
		t.Error("the stale cookie survived")
	}
}

func TestWizardRequiresCSRF(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.get(c, "/register/tujuan") // the CSRF cookie is set
	res := e.post(c, "/register/tujuan", url.Values{"action": {"next"}, FieldPurpose: {"transaksi"}})
	wizWant(t, res, http.StatusForbidden, e.T("error.csrf"))
	res = e.post(c, "/register/tujuan", url.Values{"csrf_token": {"forged"}, "action": {"next"}, FieldPurpose: {"transaksi"}})
	wizWant(t, res, http.StatusForbidden)
	if e.draftID(c) != "" {
		t.Error("a forged POST created a draft")
	}

	// The upload too: a valid file without the token is not stored.
	e.fillTo(c, StepDocument, nil)
	ct, body := multipartBody(t, "", "next", "a.pdf", wizPDF)
	wizWant(t, e.postRaw(c, "/register/dokumen", ct, body), http.StatusForbidden)
	if e.storedDocument(c) || e.storedDraft(c).Document != nil {
		t.Error("an upload without a CSRF token was stored")
	}
	// A cross-site POST is refused even with a token (Sec-Fetch-Site).
	form := url.Values{"csrf_token": {e.csrf(c, "/register/kontak")}, "action": {"next"}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/register/kontak", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wizWant(t, e.do(c, req), http.StatusForbidden)
}

func TestWizardRepeatedFieldIsRefused(t *testing.T) {
	e := newWizEnv(t, false)
	csrf := e.csrf(e.client, "/register/tujuan")
	res := e.post(e.client, "/register/tujuan", url.Values{"csrf_token": {csrf}, "action": {"next"},
		FieldPurpose: {"transaksi", "informasi"}})
	wizWant(t, res, http.StatusBadRequest)
}

func TestWizardUploadSizeBoundary(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepDocument, nil)

	res := e.upload(c, "next", "besar.pdf", []byte(pdfOfSize(t, MaxDocumentSize+1)))
	wizWant(t, res, http.StatusRequestEntityTooLarge, `id="document-error">`+e.T(KeyFileTooLarge))
	if e.storedDocument(c) || e.storedDraft(c).Document != nil {
		t.Fatal("a refused upload left a document behind")
	}

	res = e.upload(c, "next", "pas.pdf", []byte(pdfOfSize(t, MaxDocumentSize)))
	wizWantRedirect(t, res, "/register/persetujuan")
	d := e.storedDraft(c)
	if d.Document == nil || d.Document.Size != MaxDocumentSize || !e.storedDocument(c) {
		t.Fatalf("a letter of exactly %d bytes was not stored: %+v", MaxDocumentSize, d.Document)
	}
	wizWant(t, e.get(c, "/register/dokumen"), http.StatusOK, "pas.pdf", "(PDF, 1,0 MB)", e.T("reg.document.replace"))
}

func TestWizardHostileUploads(t *testing.T) {
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), bytes.Repeat([]byte{0}, 512)...)
	tests := []struct {
		name   string
		file   string
		data   []byte
		status int
		key    string
	}{
		{"executable renamed .pdf", "surat.pdf", exe, http.StatusOK, KeyFileType},
		{"HTML renamed .pdf", "surat.pdf", []byte("<html><body><script>alert(1)</script></body></html>"), http.StatusOK, KeyFileType},
		{"PDF with HTML inside", "surat.pdf", []byte("%PDF-1.4\n<script>alert(1)</script>\n" + minimalPDF("")[9:]), http.StatusOK, KeyFileType},
		{"PDF with JavaScript", "surat.pdf", []byte(minimalPDF("/OpenAction << /S /JavaScript /JS (app.alert(1)) >>")), http.StatusOK, KeyFileActiveContent},
		{"empty file", "kosong.pdf", nil, http.StatusOK, KeyFileEmpty},
		{"10 MB body", "besar.pdf", bytes.Repeat([]byte("%PDF-1.4 "), 10<<20/9), http.StatusRequestEntityTooLarge, KeyFileTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWizEnv(t, false)
			c := e.client
			e.fillTo(c, StepDocument, nil)
			res := e.upload(c, "next", tt.file, tt.data)
			wizWant(t, res, tt.status, `id="document-error">`+e.T(tt.key), `aria-invalid="true"`)
			if e.storedDocument(c) || e.storedDraft(c).Document != nil {
				t.Error("a refused upload left a document behind")
			}
		})
	}
}

func TestWizardBrokenMultipart(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepDocument, nil)
	csrf := e.csrf(c, "/register/dokumen")
	ct, full := multipartBody(t, csrf, "next", "a.pdf", wizPDF)
	cut := full.Bytes()[:full.Len()/2] // broke off mid-file, no closing boundary

	bigHeader := "--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\nX-Pad: " +
		strings.Repeat("a", MaxUploadBody) + "\r\n\r\nv\r\n--x--\r\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		key         string
	}{
		{"body cut off", ct, string(cut), http.StatusBadRequest, KeyFileRead},
		{"garbage", ct, "this is not multipart at all", http.StatusBadRequest, KeyFileRead},
		{"no boundary", "multipart/form-data", string(full.Bytes()), http.StatusBadRequest, KeyFileRead},
		{"not multipart", "application/x-www-form-urlencoded", "csrf_token=" + url.QueryEscape(csrf) + "&action=next", http.StatusBadRequest, KeyFileRead},
		{"over the body limit in a header", `multipart/form-data; boundary=x`, bigHeader, http.StatusRequestEntityTooLarge, KeyFileTooLarge},
		{"a text field too long", `multipart/form-data; boundary=x`,
			"--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + strings.Repeat("a", 5000) + "\r\n--x--\r\n", http.StatusBadRequest, KeyFileRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.postRaw(c, "/register/dokumen", tt.contentType, strings.NewReader(tt.body))
			wizWant(t, res, tt.status, `id="document-error">`+e.T(tt.key))
			if e.storedDocument(c) || e.storedDraft(c).Document != nil {
				t.Error("a broken upload left a document behind")
			}
		})
	}
}

func TestWizardReplaceDocument(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepTerms, nil)
	before := e.storedDraft(c).Document

	// A refused replacement keeps the stored letter.
	res := e.upload(c, "next", "virus.pdf", []byte("MZ"))
	wizWant(t, res, http.StatusOK, e.T(KeyFileType), "Surat_Kuasa.pdf")
	if after := e.storedDraft(c).Document; after == nil || after.SHA256 != before.SHA256 || !e.storedDocument(c) {
		t.Fatal("a refused replacement touched the stored letter")
	}
	// Next without a new file keeps it too.
	wizWantRedirect(t, e.upload(c, "next", "", nil), "/register/persetujuan")
	// Back with a refused file goes back quietly, storing nothing.
	wizWantRedirect(t, e.upload(c, "back", "x.pdf", []byte("<html>")), "/register/verifikasi")

	img := pngImage(t)
	wizWantRedirect(t, e.upload(c, "next", "scan.png", img), "/register/persetujuan")
	d := e.storedDraft(c)
	if d.Document.ContentType != TypePNG || d.Document.Size != len(img) || d.Document.FileName != "scan.png" {
		t.Errorf("replacement not recorded: %+v", d.Document)
	}
	wizWantRedirect(t, e.submitStep(c, StepTerms, "next", wizValid()[StepTerms]), "/register/konfirmasi")
	wizWant(t, e.get(c, "/register/konfirmasi"), http.StatusOK, "scan.png", "(PNG, ")
	sn := e.serviceNumber(c, e.submitStep(c, StepConfirm, "submit", nil))
	g, err := e.dur.RegistrationByServiceNumber(t.Context(), sn)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := e.dur.DocumentByID(t.Context(), g.DocumentID)
	if err != nil || !bytes.Equal(doc.Data, img) {
		t.Errorf("stored document is not the replacement (%v)", err)
	}
}

func TestWizardScriptInNameIsEscaped(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	const payload = `<script>alert("x")</script>`
	data := wizValid()
	data[StepOrg][FieldOrgName] = []string{"PT " + payload}
	data[StepPerson][FieldFullName] = []string{`"><img src=x onerror=alert(1)>`}
	e.fillTo(c, StepConfirm, data)
	for _, path := range []string{"/register/konfirmasi", "/register/organisasi", "/register/penanggung-jawab"} {
		page := e.get(c, path)
		wizWant(t, page, http.StatusOK)
		if strings.Contains(page.Body, "<script>") || strings.Contains(page.Body, "<img src=x") {
			t.Errorf("%s renders the payload as markup", path)
		}
	}
	wizWant(t, e.get(c, "/register/konfirmasi"), http.StatusOK, "PT &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	sn := e.serviceNumber(c, e.submitStep(c, StepConfirm, "submit", nil))
	g, err := e.dur.RegistrationByServiceNumber(t.Context(), sn)
	if err != nil {
		t.Fatal(err)
	}
	if g.OrgName != "PT "+payload {
		t.Errorf("stored org name %q: text must be kept as typed", g.OrgName)
	}
}

// No enumeration (issue 8 item 3): a submission whose email already has
// an account or a registration in progress stores nothing,
// yet answers exactly as a new registration does; the registrant learns
// which by the mail to the verified address.
func TestWizardDuplicateAnswersLikeANewRegistration(t *testing.T) {
	e := newWizEnv(t, false)
	ctx := t.Context()
	now := e.clock.Now()
	if err := e.dur.CreateOrganization(ctx, storage.Organization{ID: storage.NewID(), NIB: "9120009999999",
		NPWP: "019999999999000", Name: "PT Lama", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.dur.CreateUser(ctx, storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@example.co.id",
		Name: "Budi", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// What a new registration gets: the reference every duplicate must match.
	first := e.client
	e.fillTo(first, StepConfirm, nil)
	fresh, freshPage := e.submitAndFollow(first)
	e.serviceNumber(first, fresh)

	base := e.h.BaseURL
	login, reset, track := base+"/login", base+"/password/forgot", base+"/track"
	tests := []struct {
		name, nib, email, reason, mailKey string
		mailArgs                          []any
	}{
		{"open registration with the email", "9120005555555", "SITI@example.co.id", "open_registration",
			"reg.mail.duplicate.open", []any{"Siti Rahayu", track}},
		{"account with the email", "9120007777777", "budi@example.co.id", "user_exists",
			"reg.mail.duplicate.user", []any{"Siti Rahayu", login, reset}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient()
			data := wizValid()
			data[StepNIB][FieldNIB] = []string{tt.nib}
			data[StepContact][FieldEmail] = []string{tt.email}
			e.fillTo(c, StepConfirm, data)
			id := e.draftID(c)
			res, page := e.submitAndFollow(c)

			// The same answer, byte for byte but for the address named.
			to := strings.ToLower(tt.email)
			if res.StatusCode != fresh.StatusCode || res.Header.Get("Location") != fresh.Header.Get("Location") {
				t.Errorf("answered %d to %q, a new registration %d to %q", res.StatusCode, res.Header.Get("Location"),
					fresh.StatusCode, fresh.Header.Get("Location"))
			}
			if got, want := wizCookieShape(res), wizCookieShape(fresh); got != want {
				t.Errorf("cookies %s, a new registration's %s", got, want)
			}
			if got, want := strings.ReplaceAll(page.Body, to, "@"), strings.ReplaceAll(freshPage.Body, "siti@example.co.id", "@"); got != want {
				t.Errorf("the success page differs from a new registration's:\n%s", cmp.Diff(want, got))
			}
			// Nothing stored, the draft is closed like a submitted one.
			if n := len(e.registrations()); n != 1 {
				t.Errorf("%d registrations stored, want 1", n)
			}
			if e.hasDocument(id) {
				t.Error("the duplicate's letter is still pending")
			}
			if got := e.auditActions(); got[len(got)-1] != "registration.submit_refused "+tt.reason {
				t.Errorf("audit %v", got)
			}
			// The mail says what happened and what to do.
			m, ok := e.lastMail(to, "reg.mail.duplicate.subject")
			if !ok {
				t.Fatalf("no mail to %s", to)
			}
			for _, lang := range []string{"id", "en"} {
				if want := e.pages.T(lang, tt.mailKey, tt.mailArgs...); !strings.Contains(m.Body, want) {
					t.Errorf("the mail lacks %s in %s:\n%q\nwant %q", tt.mailKey, lang, m.Body, want)
				}
			}
			var received int
			for _, m := range e.mails() {
				if strings.HasPrefix(m.Subject, e.pages.T("id", "reg.mail.received.subject")) {
					received++
				}
			}
			if received != 1 {
				t.Errorf("%d service numbers mailed, want 1 (the new registration's)", received)
			}
		})
	}
}

// submitAndFollow submits the confirmation and loads the page it leads to.
func (e *wizEnv) submitAndFollow(c *http.Client) (webtest.Response, webtest.Response) {
	e.t.Helper()
	res := e.submitStep(c, StepConfirm, "submit", nil)
	return res, e.get(c, res.Header.Get("Location"))
}

// wizCookieShape lists the cookies a response sets with their attributes
// and value length: what an observer could compare.
func wizCookieShape(res webtest.Response) string {
	var out []string
	for _, ck := range res.Cookies() {
		out = append(out, fmt.Sprintf("%s len=%d maxage=%d path=%s", ck.Name, len(ck.Value), ck.MaxAge, ck.Path))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// Submissions are bounded per address, an IPv6 /64 counting as one
// address (issue 8 item 7), with a friendly 429.
func TestWizardSubmissionRateLimit(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.SubmitLimit = quota.Limit{Name: "reg-submit", PerAddress: 2, Window: time.Hour}
	e.h.CodeLimit = quota.Limit{Name: "reg-code", PerAddress: 100, Window: time.Hour}
	e.h.DraftLimit = quota.Limit{Name: "reg-draft", PerAddress: 100, Window: 24 * time.Hour}
	submitFrom := func(ip string, n int) webtest.Response {
		c := e.clientFrom(ip)
		data := wizValid()
		data[StepContact][FieldEmail] = []string{fmt.Sprintf("orang%d@example.co.id", n)}
		return e.submit(c, data)
	}
	wizWantRedirect(t, submitFrom("2001:db8:1:2::1", 1), "/register/selesai")
	wizWantRedirect(t, submitFrom("2001:db8:1:2::2", 2), "/register/selesai")
	// A third address of the same /64 shares its allowance.
	res := submitFrom("2001:db8:1:2:ffff::3", 3)
	wizWant(t, res, http.StatusTooManyRequests, e.T("reg.rate_limited"))
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another /64 and an IPv4 address have their own.
	wizWantRedirect(t, submitFrom("2001:db8:1:3::1", 4), "/register/selesai")
	wizWantRedirect(t, submitFrom("192.0.2.7", 5), "/register/selesai")
	e.clock.Advance(time.Hour + time.Second)
	wizWantRedirect(t, submitFrom("2001:db8:1:2::9", 6), "/register/selesai")
}

func TestWizardDoubleSubmitStoresOnce(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	form := e.confirmForm(c) // one page, one CAPTCHA answer for both clicks
	form.Set("action", "submit")
	u, _ := url.Parse(e.srv.URL + "/register/konfirmasi")
	cookies := c.Jar.Cookies(u)

	// Two clicks at once, from the same browser state.
	post := func() webtest.Response {
		req, _ := http.NewRequest("POST", u.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		return e.do(&http.Client{Transport: c.Transport, CheckRedirect: c.CheckRedirect}, req)
	}
	var wg sync.WaitGroup
	results := make([]webtest.Response, 2)
	for i := range results {
		wg.Go(func() { results[i] = post() })
	}
	wg.Wait()
	for _, res := range results {
		wizWantRedirect(t, res, "/register/selesai")
	}
	// And once more, later, with the old cookie (a reload of the POST).
	wizWantRedirect(t, post(), "/register/selesai")
	if n := len(e.registrations()); n != 1 {
		t.Fatalf("%d registrations stored, want 1", n)
	}
}

func TestWizardCancelDiscardsAfterConfirmation(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	id := e.draftID(c)
	// "Batal" is the 2023 manual's "go back and change": the step before,
	// with everything kept; discarding is a separate, explicit act.
	confirm := e.get(c, stepURL(StepConfirm))
	wizWant(t, confirm, http.StatusOK, `name="action" value="back"`, e.T("reg.confirm.cancel"), e.T("reg.confirm.discard"))
	wizWantRedirect(t, e.submitStep(c, StepConfirm, "back", nil), backURL(stepIndex(StepConfirm)))
	if !e.storedDocument(c) || e.draftID(c) != id {
		t.Fatal("going back lost the draft or its letter")
	}
	ask := e.submitStep(c, StepConfirm, "cancel", nil)
	wizWant(t, ask, http.StatusOK, e.T("reg.discard.title"), `value="discard"`, `href="/register/konfirmasi"`)
	if !e.storedDocument(c) {
		t.Fatal("asking deleted the draft")
	}
	res := e.submitStep(c, StepConfirm, "discard", nil)
	wizWantRedirect(t, res, "/register?dibatalkan=1")
	wizWant(t, e.get(c, "/register?dibatalkan=1"), http.StatusOK, e.T("reg.discarded"))
	if _, err := e.eph.Draft(t.Context(), draftKeyPrefix+id); !errors.Is(err, storage.ErrNotFound) {
		t.Error("draft still stored after discard")
	}
	if e.hasDocument(id) {
		t.Error("letter still stored after discard")
	}
	if len(e.registrations()) != 0 {
		t.Error("a discarded draft was registered")
	}
}

func TestWizardDocumentOutlivesDraft(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepTerms, nil)
	// Each save after the letter's first hour stores it again, so it is
	// there as long as the draft is.
	e.clock.Advance(DraftTTL - 30*time.Minute)
	wizWantRedirect(t, e.submitStep(c, StepTerms, "next", wizValid()[StepTerms]), "/register/konfirmasi")
	e.clock.Advance(DraftTTL - 10*time.Minute)
	e.serviceNumber(c, e.submitStep(c, StepConfirm, "submit", nil))
}

func TestWizardLostDocumentIsAskedAgain(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	if err := e.dur.DeleteDraftDocument(t.Context(), e.draftID(c)); err != nil {
		t.Fatal(err)
	}
	wizWantRedirect(t, e.submitStep(c, StepConfirm, "submit", nil), "/register/dokumen")
	wizWant(t, e.get(c, "/register/dokumen"), http.StatusOK, e.T("reg.document_lost"))
	wizWantRedirect(t, e.get(c, "/register/konfirmasi"), "/register/dokumen")
	if len(e.registrations()) != 0 {
		t.Error("registered without a letter")
	}
}

func TestWizardCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			e := newWizEnv(t, secure)
			csrf := e.csrf(e.client, "/register/tujuan")
			res := e.post(e.client, "/register/tujuan", url.Values{"csrf_token": {csrf}, "action": {"next"}, FieldPurpose: {"transaksi"}})
			wizWantRedirect(t, res, "/register/trader")
			var got *http.Cookie
			for _, ck := range res.Cookies() {
				if strings.Contains(ck.Name, "satupintu_reg") {
					got = ck
				}
			}
			if got == nil {
				t.Fatal("no draft cookie")
			}
			name, path := "satupintu_reg", "/register"
			if secure {
				name, path = "__Host-satupintu_reg", "/"
			}
			if got.Name != name || got.Path != path || got.Secure != secure || !got.HttpOnly ||
				got.SameSite != http.SameSiteLaxMode || got.Domain != "" {
				t.Errorf("cookie %+v", got)
			}
			if strings.Contains(got.Value, e.draftID(e.client)) {
				t.Error("the draft id is readable in the cookie")
			}
		})
	}
}

func TestWizardStepIndicator(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepNPWP, nil)
	page := e.get(c, "/register/nib")
	wizWant(t, page, http.StatusOK,
		e.T("reg.step_count", 3, len(steps)),
		`<li class="reg-step-current" aria-current="step">`,
		`<a href="/register/tujuan">`, `<a href="/register/npwp">`)
	if strings.Contains(page.Body, `href="/register/organisasi"`) {
		t.Error("a step not yet reachable is linked")
	}
}

// Rules of the steps, without HTTP.
func TestFirstIncomplete(t *testing.T) {
	d := newDraft(time.Now())
	if got := firstIncomplete(d); got != 0 {
		t.Fatalf("empty draft: %d", got)
	}
	for _, vals := range wizValid() {
		for k, v := range vals {
			if k == fieldTerms {
				d.Terms = true
				continue
			}
			d.Values[k] = v[0]
		}
	}
	if got := steps[firstIncomplete(d)].slug; got != StepVerify {
		t.Fatalf("without a verified email: %s", got)
	}
	d.EmailVerified = "siti@example.co.id"
	if got := steps[firstIncomplete(d)].slug; got != StepDocument {
		t.Fatalf("without a letter: %s", got)
	}
	d.Document = &draftDocument{FileName: "a.pdf"}
	if got := steps[firstIncomplete(d)].slug; got != StepConfirm {
		t.Fatalf("complete draft: %s", got)
	}
	c, bad := normalized(d)
	if c == nil {
		t.Fatalf("normalized fails at %s", steps[bad].slug)
	}
	if d.Values[FieldPhone] != "0812-3456-7890" || c.Values[FieldPhone] != "+6281234567890" {
		t.Error("normalizing changed the draft, or did not normalize the copy")
	}
	d.Values[FieldNIB] = "1"
	if got := steps[firstIncomplete(d)].slug; got != StepNIB {
		t.Errorf("bad NIB: first incomplete %s", got)
	}
}

func TestDraftValuesAreBounded(t *testing.T) {
	d := newDraft(time.Now())
	long := "a" + strings.Repeat("é", maxStoredValue) // the cut falls inside a rune
	d.set(FieldOrgName, long)
	if v := d.Values[FieldOrgName]; len(v) != maxStoredValue-1 || !utf8.ValidString(v) || !strings.HasPrefix(long, v) {
		t.Errorf("stored %d bytes, cut mid-rune or not at all", len(v))
	}
	// Only the step's own fields are taken from a form (ASVS 8.2.3).
	form := url.Values{FieldPurpose: {"transaksi"}, FieldEmail: {"x@y.co.id"}, "status": {"approved"}}
	d = newDraft(time.Now())
	d.apply(steps[stepIndex(StepPurpose)], form.Get)
	if _, ok := d.Values[FieldEmail]; ok || len(d.Values) != 1 {
		t.Errorf("values %v", d.Values)
	}
}

func TestUploadErrorMapsBodyLimit(t *testing.T) {
	fe, status := uploadError(&http.MaxBytesError{Limit: MaxUploadBody})
	if fe.Key != KeyFileTooLarge || status != http.StatusRequestEntityTooLarge {
		t.Errorf("MaxBytesError: %s %d", fe.Key, status)
	}
	fe, status = uploadError(&FieldError{Field: FieldDocument, Key: KeyFileRead, Err: &http.MaxBytesError{}})
	if fe.Key != KeyFileTooLarge || status != http.StatusRequestEntityTooLarge {
		t.Errorf("wrapped MaxBytesError: %s %d", fe.Key, status)
	}
	fe, _ = uploadError(errors.New("unexpected EOF"))
	if fe.Key != KeyFileRead {
		t.Errorf("broken body: %s", fe.Key)
	}
}

func TestPrintedNPWPAndSize(t *testing.T) {
	if got := printedNPWP("012345678901000"); got != "01.234.567.8-901.000" {
		t.Errorf("printedNPWP = %q", got)
	}
	if got := printedNPWP("0012345678901000"); got != "0012345678901000" {
		t.Errorf("16 digits = %q", got)
	}
	for _, tt := range []struct {
		lang string
		n    int
		want string
	}{{"id", 500, "500 B"}, {"id", 1536, "1,5 KB"}, {"en", 1536, "1.5 KB"}, {"id", MaxDocumentSize, "1,0 MB"}} {
		if got := formatSize(tt.lang, tt.n); got != tt.want {
			t.Errorf("formatSize(%s, %d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

// Every key this package hands to the UI, and every key the wizard names,
// is in both registration catalogs (templates checks the keys the
// templates name literally, and id/en parity).
func TestRegistrationCatalogs(t *testing.T) {
	keys := append([]string(nil), MessageKeys...)
	keys = append(keys, keyTermsRequired)
	for _, s := range steps {
		keys = append(keys, "reg.step."+s.slug, "reg.intro."+s.slug)
		for _, f := range s.fields {
			keys = append(keys, "reg.field."+f.name)
			if f.hint {
				keys = append(keys, "reg.hint."+f.name)
			}
		}
	}
	literal := regexp.MustCompile(`"(reg\.[a-z0-9_.-]+)"`)
	files, err := filepath.Glob("wizard*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") { // prefixes such as "reg.step." + slug
				keys = append(keys, m[1])
			}
		}
	}
	for _, lang := range []string{"id", "en"} {
		b, err := os.ReadFile(filepath.Join("..", "templates", "messages", lang, "registration.json"))
		if err != nil {
			t.Fatal(err)
		}
		cat := map[string]string{}
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("%s/registration.json: %v", lang, err)
		}
		for _, k := range keys {
			if strings.TrimSpace(cat[k]) == "" {
				t.Errorf("%s/registration.json lacks %q", lang, k)
			}
		}
	}
}

// waitForSecondClick returns once the submission under test has taken its
// turn at lock (the count is 2) and so is waiting for the first one: the
// first one may finish only then, however slow the machine.
func waitForSecondClick(e *wizEnv, lock string) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if n, err := e.eph.Count(context.Background(), lock); err == nil && n >= 2 {
			return
		}
	}
}

// A click while another submission of the same draft is in flight waits
// for that one's result instead of storing a second registration.
func TestWizardSubmitWaitsForTheOneInFlight(t *testing.T) {
	e := newWizEnv(t, false)
	// Far longer than any step takes on a loaded machine: each click's
	// answer must come from the other submission's outcome, never from the
	// timer.
	const wait = time.Minute
	e.h.submitWait = wait
	c := e.client
	e.fillTo(c, StepConfirm, nil)
	id := e.draftID(c)
	ctx := t.Context()
	lock := submitLockPrefix + id

	// The other submission succeeds while this one waits.
	if _, err := e.eph.Incr(ctx, lock, submitLockTTL); err != nil {
		t.Fatal(err)
	}
	go func() {
		waitForSecondClick(e, lock)
		e.eph.SaveDraft(ctx, doneKeyPrefix+id, []byte("siti@example.co.id"), doneTTL)
	}()
	res := e.submitStep(c, StepConfirm, "submit", nil)
	wizWantRedirect(t, res, "/register/selesai")
	wizWant(t, e.get(c, "/register/selesai"), http.StatusOK, e.T("reg.done.explain", "siti@example.co.id"))
	if n := len(e.registrations()); n != 0 {
		t.Errorf("%d registrations stored by the waiting click", n)
	}

	// The other submission fails: the wait ends with the confirmation.
	c2 := e.newClient()
	e.fillTo(c2, StepConfirm, nil)
	lock2 := submitLockPrefix + e.draftID(c2)
	if _, err := e.eph.Incr(ctx, lock2, submitLockTTL); err != nil {
		t.Fatal(err)
	}
	go func() {
		waitForSecondClick(e, lock2)
		e.eph.ResetCounter(ctx, lock2)
	}()
	start := time.Now()
	res = e.submitStep(c2, StepConfirm, "submit", nil)
	wizWant(t, res, http.StatusConflict, e.T("reg.submit_busy"))
	if d := time.Since(start); d >= wait {
		t.Errorf("waited %v, for the timer, although the other submission had given up", d)
	}
	if n := len(e.registrations()); n != 0 {
		t.Errorf("%d registrations stored", n)
	}
}
