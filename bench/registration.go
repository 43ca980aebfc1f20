package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"satupintu/captcha"
	"satupintu/registration"
)

// The registration scenario: one operation is one trader registering
// through the real wizard (registration/wizard*.go), as a browser with
// JavaScript does it: every step's form, the proof of work solved where
// the page asks for it (the contact step, which mails the code, and the
// submission), the six-digit code read from the mail (MailSink), and a
// scanned letter of about 1 MB uploaded.
//
// Each registration comes from a new loopback address (127.x.y.z), as
// traders come from many addresses: the per-address limits on anonymous
// writes (README "Limits on anonymous writes") would otherwise stop one
// address after ten submissions an hour. The totals still apply; a 429 is
// counted as throttled, apart from errors.

// errThrottled marks an operation the provider answered 429.
var errThrottled = errors.New("throttled (429)")

// registrant makes the answers of each registration unique: a NIB, NPWP,
// NIK and email address no other registration of the run has.
type registrant struct {
	run  uint64 // random per run, so runs against one database differ
	next atomic.Uint64
}

func newRegistrant() *registrant { return &registrant{run: rand.Uint64N(1_000_000)} }

// answers are one registration's values per step, in the wizard's order
// up to the contact step, and its email address.
func (g *registrant) answers() ([]stepAnswer, string) {
	n := g.next.Add(1)
	u := g.run*1_000_000 + n%1_000_000 // 12 digits at most
	email := fmt.Sprintf("pendaftar.%d.%d@bench.example", g.run, n)
	return []stepAnswer{
		{registration.StepPurpose, url.Values{registration.FieldPurpose: {"transaksi"}}},
		{registration.StepTrader, url.Values{registration.FieldTraderType: {"importir"}}},
		{registration.StepNIB, url.Values{registration.FieldNIBType: {"oss"}, registration.FieldNIB: {fmt.Sprintf("9%012d", u)}}},
		{registration.StepNPWP, url.Values{registration.FieldNPWPType: {"15"}, registration.FieldNPWP: {fmt.Sprintf("01%013d", u)}}},
		{registration.StepOrg, url.Values{registration.FieldOrgName: {fmt.Sprintf("PT Uji Beban %d", u)}, registration.FieldBusinessType: {"pt"}}},
		{registration.StepAddress, url.Values{registration.FieldStreet: {"Jl. Merdeka No. 1"}, registration.FieldCity: {"Jakarta Pusat"},
			registration.FieldProvince: {"DKI Jakarta"}, registration.FieldPostalCode: {"10110"}, registration.FieldCountry: {"id"}}},
		{registration.StepPerson, url.Values{registration.FieldFullName: {"Siti Rahayu"}, registration.FieldPosition: {"Direktur"},
			registration.FieldIdentityType: {"nik"}, registration.FieldIdentityNumber: {fmt.Sprintf("3171%012d", u)}}},
		{registration.StepContact, url.Values{registration.FieldEmail: {email}, registration.FieldPhone: {"0812-3456-7890"}}},
	}, email
}

type stepAnswer struct {
	slug   string
	values url.Values
}

// registrationFlow: every operation is a whole registration, from the
// first step to the submission.
func registrationFlow(_ context.Context, t *Target) (func(context.Context) error, error) {
	if t.Mail == nil {
		return nil, unavailable("registration reads the mailed code: only with a provider the bench starts")
	}
	letter := buildLetter(letterSize)
	return func(ctx context.Context) error { return t.register(ctx, letter) }, nil
}

// register runs one registration in a new browser from a new address.
func (t *Target) register(ctx context.Context, letter []byte) error {
	tr := t.transport.Clone()
	defer tr.CloseIdleConnections()
	if local := t.nextLoopback(); local != nil {
		from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: requestTimeout}
		plain := &net.Dialer{Timeout: requestTimeout}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := from.DialContext(ctx, network, addr)
			if err != nil { // a system without all of 127/8 on loopback
				return plain.DialContext(ctx, network, addr)
			}
			return c, nil
		}
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	b := &browser{t: t, client: &http.Client{Jar: jar, Transport: tr, Timeout: requestTimeout}}
	answers, email := t.registrants.answers()

	page, err := b.wizardGet(ctx, registration.StepPurpose)
	if err != nil {
		return err
	}
	mails, forget := t.Mail.expect(email)
	defer forget()
	for i, a := range answers {
		next := registration.StepVerify
		if i+1 < len(answers) {
			next = answers[i+1].slug
		}
		if page, err = b.step(ctx, a.slug, page, a.values, next); err != nil {
			return err
		}
	}
	var code string
	select {
	case text := <-mails:
		m := mailedCode.FindStringSubmatch(text)
		if m == nil {
			return errors.New("registration: no code in the mail")
		}
		code = m[1]
	case <-time.After(requestTimeout):
		return errors.New("registration: no code mailed")
	case <-ctx.Done():
		return ctx.Err()
	}
	if page, err = b.step(ctx, registration.StepVerify, page, url.Values{"code": {code}}, registration.StepDocument); err != nil {
		return err
	}
	body, contentType, err := letterForm(page, letter)
	if err != nil {
		return err
	}
	if page, err = b.wizardPost(ctx, registration.StepDocument, contentType, body, registration.StepTerms); err != nil {
		return err
	}
	if page, err = b.step(ctx, registration.StepTerms, page, url.Values{"terms": {"yes"}}, registration.StepConfirm); err != nil {
		return err
	}
	_, err = b.step(ctx, registration.StepConfirm, page, url.Values{"action": {"submit"}}, registration.StepDone)
	return err
}

// mailedCode is the code's line in the verification mail.
var mailedCode = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// step posts values with the page's CSRF token (and "next") to the step,
// solving the page's proof of work if it has one, and returns the page
// it lands on, which must be want's.
func (b *browser) step(ctx context.Context, slug, page string, values url.Values, want string) (string, error) {
	form := url.Values{"action": {"next"}}
	csrf, err := csrfOf(page)
	if err != nil {
		return "", fmt.Errorf("registration %s: %w", slug, err)
	}
	form.Set("csrf_token", csrf)
	if proof := proofChallenge.FindStringSubmatch(page); proof != nil {
		sol, err := b.t.solve(html.UnescapeString(proof[1]))
		if err != nil {
			return "", fmt.Errorf("registration %s: %w", slug, err)
		}
		form.Set(captcha.FieldProof, sol)
	}
	for k, v := range values {
		form[k] = v
	}
	return b.wizardPost(ctx, slug, "application/x-www-form-urlencoded", []byte(form.Encode()), want)
}

// wizardGet loads the step's page.
func (b *browser) wizardGet(ctx context.Context, slug string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.t.URL+"/register/"+slug, nil)
	if err != nil {
		return "", err
	}
	return b.wizardPage(req, slug, slug)
}

// wizardPost posts body to the step and returns the page it lands on,
// which must be want's.
func (b *browser) wizardPost(ctx context.Context, slug, contentType string, body []byte, want string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.t.URL+"/register/"+slug, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	return b.wizardPage(req, slug, want)
}

// wizardPage sends req, follows the redirects and returns the page if it
// is want's step; a 429 is errThrottled.
func (b *browser) wizardPage(req *http.Request, slug, want string) (string, error) {
	resp, page, err := b.do(req)
	if err != nil {
		return "", fmt.Errorf("registration %s: %w", slug, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return "", fmt.Errorf("registration %s: %w", slug, errThrottled)
	}
	if got := strings.TrimPrefix(resp.Request.URL.Path, "/register/"); resp.StatusCode != http.StatusOK || got != want {
		msg := ""
		if m := fieldError.FindStringSubmatch(page); m != nil {
			msg = ": " + html.UnescapeString(strings.TrimSpace(m[1]))
		}
		return "", fmt.Errorf("registration %s: status %d at %s, want %s%s", slug, resp.StatusCode, resp.Request.URL.Path, want, msg)
	}
	return page, nil
}

var (
	csrfField      = regexp.MustCompile(`name="csrf_token"\s+value="([^"]*)"`)
	proofChallenge = regexp.MustCompile(`<fieldset class="field captcha" data-challenge="([^"]*)"`)
	fieldError     = regexp.MustCompile(`class="[^"]*(?:field-error|alert)[^"]*"[^>]*>\s*([^<]{1,200})`)
)

func csrfOf(page string) (string, error) {
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("no csrf_token on the page")
	}
	return html.UnescapeString(m[1]), nil
}

// letterForm is the document step's form as a browser sends it.
func letterForm(page string, letter []byte) ([]byte, string, error) {
	csrf, err := csrfOf(page)
	if err != nil {
		return nil, "", fmt.Errorf("registration %s: %w", registration.StepDocument, err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", csrf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="` + registration.FieldDocument + `"; filename="Surat Kuasa.pdf"`}
	h["Content-Type"] = []string{registration.TypePDF}
	pw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	pw.Write(letter)
	mw.WriteField("action", "next")
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// solve finds the number of a proof-of-work challenge (captcha/proof.go)
// as captcha.js does, by trying 0, 1, 2, …, and returns the form value.
// The time it takes is the client's CPU, counted per scenario.
func (t *Target) solve(challengeJSON string) (string, error) {
	start := time.Now()
	defer func() { t.powNanos.Add(int64(time.Since(start))) }()
	var c captcha.ProofChallenge
	if err := json.Unmarshal([]byte(challengeJSON), &c); err != nil {
		return "", fmt.Errorf("proof of work: %w", err)
	}
	want, err := hex.DecodeString(c.Challenge)
	if err != nil || len(want) != sha256.Size || c.Algorithm != captcha.Algorithm {
		return "", fmt.Errorf("proof of work: challenge %q of %q", c.Challenge, c.Algorithm)
	}
	salted := []byte(c.Salt)
	for n := int64(0); n <= c.MaxNumber; n++ {
		sum := sha256.Sum256(strconv.AppendInt(salted[:len(c.Salt)], n, 10))
		if bytes.Equal(sum[:], want) {
			return captcha.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature}.Encode(), nil
		}
	}
	return "", fmt.Errorf("proof of work: no number up to %d", c.MaxNumber)
}

// nextLoopback is the next source address of a registration when the
// target listens on 127.0.0.1 (nil otherwise): 127.1.0.1, 127.1.0.2, …,
// never an address ending in 0 or 255.
func (t *Target) nextLoopback() net.IP {
	u, err := url.Parse(t.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return nil
	}
	n := t.loopback.Add(1)
	return net.IPv4(127, byte(1+n/(254*254)%254), byte(n/254%254), byte(1+n%254))
}
