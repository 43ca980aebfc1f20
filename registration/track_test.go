package registration

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/web/webtest"
)

// track posts the tracking form from a fresh page of c.
func (e *reviewEnv) track(c *http.Client, number, email string) webtest.Response {
	e.t.Helper()
	return e.post(c, "/track", url.Values{"csrf_token": {e.csrf(c, "/track")}, "service_number": {number}, "email": {email}})
}

// trackedBy returns a browser that tracked g successfully.
func (e *reviewEnv) trackedBy(g storage.Registration) *http.Client {
	e.t.Helper()
	c := e.client()
	reviewWantRedirect(e.t, e.track(c, g.ServiceNumber, g.Email), "/track/status")
	return c
}

func TestTrackShowsHistoryWithNotes(t *testing.T) {
	e := newReviewEnv(t, false)
	officer := e.createUser("andi.pratama", storage.RoleOfficer)
	g := e.seed(nil)
	e.clock.Advance(time.Hour)
	e.setStatus(g.ID, storage.StatusInReview, officer.ID, "")
	e.setStatus(g.ID, storage.StatusRevisionRequested, officer.ID, "Surat kuasa belum ditandatangani direktur.")

	c := e.client()
	// Typed as people copy it: lower case, spaces instead of dashes, the
	// email in another case.
	typed := strings.ToLower(strings.ReplaceAll(g.ServiceNumber, "-", " "))
	res := e.track(c, typed, strings.ToUpper(g.Email))
	reviewWantRedirect(t, res, "/track/status")
	var grant *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "satupintu_track" {
			grant = ck
		}
	}
	if grant == nil || !grant.HttpOnly || grant.SameSite != http.SameSiteLaxMode || grant.MaxAge != 1800 || grant.Path != "/" || grant.Secure {
		t.Fatalf("grant cookie %+v", grant)
	}
	if strings.Contains(grant.Value, g.ID) {
		t.Error("grant cookie shows the registration id in clear")
	}

	page := e.get(c, "/track/status")
	reviewWant(t, page, http.StatusOK,
		g.ServiceNumber, html.EscapeString(g.OrgName),
		e.T("review.status.submitted"), e.T("review.status.in_review"), e.T("review.status.revision_requested"),
		"Surat kuasa belum ditandatangani direktur.",
		"2025-03-01 09:00 WIB", "2025-03-01 10:00 WIB",
		`href="/track/revisi"`, e.T("track.revise"))
	if strings.Contains(page.Body, officer.Username) || strings.Contains(page.Body, officer.ID) {
		t.Error("the registrant sees who the officer is")
	}

	// A rejection shows its reason; an approval does not offer revision.
	r := e.seed(nil)
	e.setStatus(r.ID, storage.StatusInReview, officer.ID, "")
	e.setStatus(r.ID, storage.StatusRejected, officer.ID, "NIB tidak terdaftar di OSS.")
	page = e.get(e.trackedBy(r), "/track/status")
	reviewWant(t, page, http.StatusOK, e.T("review.status.rejected"), "NIB tidak terdaftar di OSS.", e.T("track.rejected_explain"))
	if strings.Contains(page.Body, "/track/revisi") {
		t.Error("a rejected registration offers revision")
	}
}

// reviewVolatile strips what differs between two renderings of the same page:
// the CSRF token and the echoed inputs.
var reviewVolatile = regexp.MustCompile(`value="[^"]*"`)

func TestTrackSameAnswerForUnknownNumberAndWrongEmail(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	unknown := NewServiceNumber(e.clock.Now())

	wrongEmail := e.track(e.client(), g.ServiceNumber, "orang.lain@example.co.id")
	noSuchNumber := e.track(e.client(), unknown, g.Email)
	for _, res := range []webtest.Response{wrongEmail, noSuchNumber} {
		reviewWant(t, res, http.StatusOK, e.T("track.not_found"))
		if len(res.Cookies()) > 0 && res.Cookies()[0].Name == "satupintu_track" {
			t.Error("a failed lookup got a grant")
		}
		if strings.Contains(res.Body, html.EscapeString(g.OrgName)) || strings.Contains(res.Body, e.T("review.status.submitted")) {
			t.Error("a failed lookup shows registration data")
		}
	}
	a, b := reviewVolatile.ReplaceAllString(wrongEmail.Body, ""), reviewVolatile.ReplaceAllString(noSuchNumber.Body, "")
	if a != b {
		t.Errorf("wrong email and unknown number render differently:\n%s\n----\n%s", a, b)
	}
}

func TestTrackMalformedNumberIsAFieldErrorWithoutLookup(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	// Change the check character: a typo the Luhn check catches.
	bad := []byte(g.ServiceNumber)
	last := &bad[len(bad)-1]
	if *last == '0' {
		*last = '1'
	} else {
		*last = '0'
	}
	for _, number := range []string{string(bad), "SP-2025", "bukan nomor", ""} {
		res := e.track(e.client(), number, g.Email)
		want := KeyServiceNumberInvalid
		if number == "" {
			want = KeyRequired
		}
		reviewWant(t, res, http.StatusOK, e.T(want), `aria-invalid="true"`)
	}
	if n, err := e.eph.Count(t.Context(), "quota:track:addr:127.0.0.1"); err != nil || n != 0 {
		t.Errorf("malformed numbers counted against the limit: %d, %v", n, err)
	}
	res := e.track(e.client(), g.ServiceNumber, "not an email")
	reviewWant(t, res, http.StatusOK, e.T(KeyEmailFormat))
}

func TestTrackRateLimit(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	c := e.client()
	for i := range DefaultTrackLimit.PerAddress {
		res := e.track(c, NewServiceNumber(e.clock.Now()), g.Email)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("lookup %d: %d", i+1, res.StatusCode)
		}
	}
	// Over the limit even the right pair is refused, from any browser on
	// the same address.
	res := e.track(e.client(), g.ServiceNumber, g.Email)
	reviewWant(t, res, http.StatusTooManyRequests, e.T("track.rate_limited"))
	e.clock.Advance(DefaultTrackLimit.Window)
	reviewWantRedirect(t, e.track(e.client(), g.ServiceNumber, g.Email), "/track/status")
}

func TestTrackRequiresCSRF(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	c := e.client()
	e.get(c, "/track") // has the cookie, but the form lacks the token
	res := e.post(c, "/track", url.Values{"service_number": {g.ServiceNumber}, "email": {g.Email}})
	reviewWant(t, res, http.StatusForbidden, e.T("error.csrf"))
}

func TestTrackGrantExpires(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	c := e.trackedBy(g)
	reviewWant(t, e.get(c, "/track/status"), http.StatusOK, g.ServiceNumber)
	e.clock.Advance(TrackGrantTTL)
	reviewWantRedirect(t, e.get(c, "/track/status"), "/track")
	reviewWantRedirect(t, e.get(e.client(), "/track/status"), "/track")
}

func TestTrackGrantCookieUnderHTTPS(t *testing.T) {
	e := newReviewEnv(t, true)
	g := e.seed(nil)
	c := e.client()
	res := e.track(c, g.ServiceNumber, g.Email)
	reviewWantRedirect(t, res, "/track/status")
	var grant *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-satupintu_track" {
			grant = ck
		}
	}
	if grant == nil || !grant.Secure || !grant.HttpOnly || grant.Path != "/" || grant.Domain != "" {
		t.Fatalf("grant cookie %+v", grant)
	}
	reviewWant(t, e.get(c, "/track/status"), http.StatusOK, g.ServiceNumber)
}

// revisionForm returns the revision page's form values as the browser
// would send them back unchanged.
var (
	reviewInputValue  = regexp.MustCompile(`<input id="([a-z_]+)" name="[a-z_]+" type="(?:text|email|tel)" value="([^"]*)"`)
	reviewSelectStart = regexp.MustCompile(`<select id="([a-z_]+)"`)
	reviewSelected    = regexp.MustCompile(`<option value="([^"]*)" selected>`)
)

func revisionValues(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range reviewInputValue.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	// Each select is followed by its options; the selected one is the
	// first "selected" after it.
	for _, loc := range reviewSelectStart.FindAllStringSubmatchIndex(body, -1) {
		name := body[loc[2]:loc[3]]
		m := reviewSelected.FindStringSubmatch(body[loc[1]:])
		if m == nil {
			t.Fatalf("select %s has no selected option", name)
		}
		v.Set(name, m[1])
	}
	if m := reviewCSRFField.FindStringSubmatch(body); m != nil {
		v.Set("csrf_token", m[1])
	}
	return v
}

func TestRevisionEndToEnd(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.seed(nil)
	detail := "/officer/registrations/" + g.ID

	// The officer takes it into review and asks for a revision.
	reviewWantRedirect(t, e.post(oc, detail+"/review", url.Values{"csrf_token": {e.csrf(oc, detail)}}), detail+"?notice=decided")
	note := "Nama perusahaan harus sama dengan akta: PT Sinar Samudra Logistik."
	reviewWantRedirect(t, e.post(oc, detail+"/revision", url.Values{"csrf_token": {e.csrf(oc, detail)}, "note": {note}}), detail+"?notice=decided")

	// Without tracking first, the revision pages are closed.
	stranger := e.client()
	reviewWantRedirect(t, e.get(stranger, "/track/revisi"), "/track")

	c := e.trackedBy(g)
	reviewWant(t, e.get(c, "/track/status"), http.StatusOK, html.EscapeString(note), `href="/track/revisi"`)
	page := e.get(c, "/track/revisi")
	reviewWant(t, page, http.StatusOK, html.EscapeString(note), html.EscapeString(g.OrgName), g.NIB, g.Email, `enctype="multipart/form-data"`)
	form := revisionValues(t, page.Body)
	for field, want := range map[string]string{FieldOrgName: g.OrgName, FieldNIB: g.NIB, FieldTraderType: g.TraderType,
		FieldCity: g.Address.City, FieldPhone: g.Phone, FieldIdentityType: "nik", FieldNPWPType: "15"} {
		if form.Get(field) != want {
			t.Errorf("prefilled %s = %q, want %q", field, form.Get(field), want)
		}
	}

	// A bad correction is refused field by field; nothing is stored.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set(FieldNIB, "12345")
	bad.Set(FieldPhone, "nomor saya")
	res := e.postMultipart(c, "/track/revisi", bad, "", nil)
	reviewWant(t, res, http.StatusOK, e.T(KeyNIBDigits), e.T(KeyPhoneFormat), `value="12345"`)
	if got := e.registration(g.ID); got.Status != storage.StatusRevisionRequested || got.NIB != g.NIB {
		t.Fatalf("a refused correction changed the record: %+v", got)
	}
	// So is a letter that is not what it claims.
	res = e.postMultipart(c, "/track/revisi", form, "surat.pdf", []byte("MZ\x90\x00 this is a program"))
	reviewWant(t, res, http.StatusOK, e.T(KeyFileType))

	// The correction with a new letter.
	form.Set(FieldOrgName, "PT Sinar Samudra Logistik")
	form.Set("status", "approved") // a forged field changes nothing
	letter := []byte(minimalPDF("/Lang (id-ID)"))
	res = e.postMultipart(c, "/track/revisi", form, `C:\Dokumen\surat kuasa baru.pdf`, letter)
	reviewWantRedirect(t, res, "/track/status?done=resubmitted")
	reviewWant(t, e.get(c, "/track/status?done=resubmitted"), http.StatusOK, e.T("track.resubmitted"), e.T("review.status.resubmitted"))

	got := e.registration(g.ID)
	if got.Status != storage.StatusResubmitted || got.OrgName != "PT Sinar Samudra Logistik" || got.DocumentID == g.DocumentID {
		t.Fatalf("after resubmission: %+v", got)
	}
	doc, err := e.dur.DocumentByID(t.Context(), got.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.Data, letter) || doc.FileName != "surat_kuasa_baru.pdf" || doc.ContentType != TypePDF || doc.RegistrationID != g.ID {
		t.Errorf("new document %q %q %q", doc.FileName, doc.ContentType, doc.RegistrationID)
	}
	events := e.events(g.ID)
	if last := events[len(events)-1]; last.Status != storage.StatusResubmitted || last.ActorID != "" {
		t.Errorf("last event %+v", last)
	}
	if a := e.audits("registration.resubmit"); len(a) != 1 || a[0].Subject != g.ID || a[0].Detail["document_replaced"] != "true" {
		t.Errorf("audit %+v", a)
	}

	// The form is single-use: the status moved on.
	reviewWantRedirect(t, e.get(c, "/track/revisi"), "/track/status")
	res = e.postMultipart(c, "/track/revisi", form, "", nil)
	reviewWant(t, res, http.StatusConflict, e.T("track.revisi_not_open"))

	// The officer sees the new letter and can start the next review.
	reviewWant(t, e.get(oc, detail), http.StatusOK, "/officer/documents/"+got.DocumentID, e.T("review.status.resubmitted"))
}

func TestRevisionWithoutNewDocumentKeepsTheOld(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	e.setStatus(g.ID, storage.StatusInReview, "o", "")
	e.setStatus(g.ID, storage.StatusRevisionRequested, "o", "Perbaiki jabatan.")
	c := e.trackedBy(g)
	form := revisionValues(t, e.get(c, "/track/revisi").Body)
	form.Set(FieldPosition, "Direktur Utama")
	// An empty file part, as browsers send for "no file chosen".
	reviewWantRedirect(t, e.postMultipart(c, "/track/revisi", form, "", []byte{}), "/track/status?done=resubmitted")
	got := e.registration(g.ID)
	if got.Position != "Direktur Utama" || got.DocumentID != g.DocumentID || got.Status != storage.StatusResubmitted {
		t.Errorf("after resubmission: %+v", got)
	}
}

// inRevision seeds a registration an officer sent back, tracked by a
// browser that holds its revision form.
func (e *reviewEnv) inRevision() (storage.Registration, *http.Client, url.Values) {
	e.t.Helper()
	g := e.seed(nil)
	e.setStatus(g.ID, storage.StatusInReview, "o", "")
	e.setStatus(g.ID, storage.StatusRevisionRequested, "o", "Gunakan email kantor.")
	c := e.trackedBy(g)
	return g, c, revisionValues(e.t, e.get(c, "/track/revisi").Body)
}

// A correction to an email that already has an account, or another
// registration in progress, is answered like one to a free email: the
// page never tells whether an email is known (ASVS 6.3.8). The address
// learns it by mail; the officer's approval refuses it.
func TestRevisionDoesNotRevealATakenEmail(t *testing.T) {
	e := newReviewEnv(t, false)
	taken := e.createUser("budi")
	pending := e.seed(nil) // another registration, still open
	const free = "kantor.baru@sinarsamudra.example"
	var answers []string
	for _, email := range []string{free, taken.Email, pending.Email} {
		g, c, form := e.inRevision()
		form.Set(FieldEmail, email)
		res := e.postMultipart(c, "/track/revisi", form, "", nil)
		reviewWantRedirect(t, res, "/track/status?done=resubmitted")
		status := e.get(c, "/track/status?done=resubmitted")
		answers = append(answers, fmt.Sprint(res.StatusCode, res.Header.Get("Location"), " ",
			strings.ReplaceAll(strings.ReplaceAll(status.Body, g.ServiceNumber, "N"), g.OrgName, "O")))
		if got := e.registration(g.ID); got.Status != storage.StatusResubmitted || got.Email != email {
			t.Fatalf("%s: after resubmission %s %s", email, got.Status, got.Email)
		}
	}
	for i, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("answer %d differs from the free email's:\n%s\n---\n%s", i+1, a, answers[0])
		}
	}

	if got := e.mailsTo(free); len(got) != 0 {
		t.Errorf("%d mails to a free email", len(got))
	}
	mails := e.mailsTo(taken.Email)
	if len(mails) != 1 {
		t.Fatalf("%d mails to the taken email, want 1", len(mails))
	}
	checkBilingual(t, e.pages, mails[0], taken.Email, "reg.mail.duplicate.subject", "review.mail.revision_taken.user",
		"Siti Rahayu", e.srv.URL+"/login", e.srv.URL+"/password/forgot")
	mails = e.mailsTo(pending.Email)
	if len(mails) != 1 {
		t.Fatalf("%d mails to the pending registration's email, want 1", len(mails))
	}
	checkBilingual(t, e.pages, mails[0], pending.Email, "reg.mail.duplicate.subject", "review.mail.revision_taken.open",
		"Siti Rahayu", e.srv.URL+"/track")
	reasons := map[string]bool{}
	for _, a := range e.audits("registration.resubmit") {
		reasons[a.Detail["email_taken"]] = true
	}
	if !reasons["user_exists"] || !reasons["open_registration"] || !reasons[""] {
		t.Errorf("audit reasons %v", reasons)
	}
}

// Correction posts are bounded per tracked registration and per address,
// field errors or not: a grant is no unlimited lookup.
func TestRevisionPostsAreBounded(t *testing.T) {
	e := newReviewEnv(t, false)
	bad := func(form url.Values) url.Values {
		form.Set(FieldNIB, "12345")
		return form
	}
	g, c, form := e.inRevision()
	form = bad(form)
	for i := range revisionsPerRegistration.PerAddress {
		if res := e.postMultipart(c, "/track/revisi", form, "", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("post %d: %d", i+1, res.StatusCode)
		}
	}
	res := e.postMultipart(c, "/track/revisi", form, "", nil)
	reviewWant(t, res, http.StatusTooManyRequests, e.T("track.revisi_rate_limited"))
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if got := e.registration(g.ID); got.Status != storage.StatusRevisionRequested {
		t.Fatalf("status %s", got.Status)
	}

	// The address's allowance: other registrations from the same address
	// use up the rest of it.
	for used := revisionsPerRegistration.PerAddress + 1; used < DefaultRevisionLimit.PerAddress; {
		_, c, form := e.inRevision()
		form = bad(form)
		for range min(revisionsPerRegistration.PerAddress, DefaultRevisionLimit.PerAddress-used) {
			if res := e.postMultipart(c, "/track/revisi", form, "", nil); res.StatusCode != http.StatusOK {
				t.Fatalf("post %d from the address: %d", used+1, res.StatusCode)
			}
			used++
		}
	}
	last, other, otherForm := e.inRevision()
	reviewWant(t, e.postMultipart(other, "/track/revisi", otherForm, "", nil), http.StatusTooManyRequests, e.T("track.revisi_rate_limited"))

	// The next window (and a new grant: the old one has expired by then).
	e.clock.Advance(DefaultRevisionLimit.Window)
	other = e.trackedBy(last)
	otherForm = revisionValues(t, e.get(other, "/track/revisi").Body)
	reviewWantRedirect(t, e.postMultipart(other, "/track/revisi", otherForm, "", nil), "/track/status?done=resubmitted")
}

func TestRevisionNeedsGrantAndCSRF(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	e.setStatus(g.ID, storage.StatusInReview, "o", "")
	e.setStatus(g.ID, storage.StatusRevisionRequested, "o", "x")
	c := e.trackedBy(g)
	form := revisionValues(t, e.get(c, "/track/revisi").Body)

	noToken := url.Values{}
	for k, v := range form {
		noToken[k] = v
	}
	noToken.Del("csrf_token")
	reviewWant(t, e.postMultipart(c, "/track/revisi", noToken, "", nil), http.StatusForbidden, e.T("error.csrf"))

	// Another browser with its own CSRF cookie but no grant.
	other := e.client()
	form.Set("csrf_token", e.csrf(other, "/track"))
	reviewWant(t, e.postMultipart(other, "/track/revisi", form, "", nil), http.StatusForbidden, e.T("track.expired"))
	if got := e.registration(g.ID); got.Status != storage.StatusRevisionRequested {
		t.Errorf("status %s", got.Status)
	}
}

func TestRevisionBodyLimit(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	e.setStatus(g.ID, storage.StatusInReview, "o", "")
	e.setStatus(g.ID, storage.StatusRevisionRequested, "o", "x")
	c := e.trackedBy(g)
	form := revisionValues(t, e.get(c, "/track/revisi").Body)
	huge := bytes.Repeat([]byte("A"), 2*MaxDocumentSize)
	reviewWant(t, e.postMultipart(c, "/track/revisi", form, "surat.pdf", huge), http.StatusRequestEntityTooLarge)
	// Just over the letter limit but within the body limit: a field error.
	big := []byte(pdfOfSize(t, MaxDocumentSize+1))
	reviewWant(t, e.postMultipart(c, "/track/revisi", form, "surat.pdf", big), http.StatusOK, e.T(KeyFileTooLarge))
	if got := e.registration(g.ID); got.Status != storage.StatusRevisionRequested {
		t.Errorf("status %s", got.Status)
	}
}
