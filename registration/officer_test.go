package registration

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/web/webtest"
)

// decide posts an officer's decision form from the registration's page.
func (e *reviewEnv) decide(c *http.Client, id, action string, form url.Values) webtest.Response {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	// Any page's token will do (one secret per browser); /track always
	// has a form, even when the registration offers no decision.
	form.Set("csrf_token", e.csrf(c, "/track"))
	return e.post(c, "/officer/registrations/"+id+"/"+action, form)
}

func TestOfficerRoutesNeedTheOfficerRole(t *testing.T) {
	e := newReviewEnv(t, false)
	g := e.seed(nil)
	e.setStatus(g.ID, storage.StatusInReview, "o", "")
	trader := e.signedIn(e.createUser("trader"))
	admin := e.signedIn(e.createUser("admin", storage.RoleAdmin))
	// Non-officers hold a valid CSRF token of their own, so only the role
	// check can stop them.
	token := e.csrf(trader, "/track")
	adminToken := e.csrf(admin, "/track")

	routes := []struct{ method, path string }{
		{"GET", "/officer"},
		{"GET", "/officer?status=submitted"},
		{"GET", "/officer/registrations/" + g.ID},
		{"GET", "/officer/documents/" + g.DocumentID},
		{"POST", "/officer/registrations/" + g.ID + "/review"},
		{"POST", "/officer/registrations/" + g.ID + "/approve"},
		{"POST", "/officer/registrations/" + g.ID + "/reject"},
		{"POST", "/officer/registrations/" + g.ID + "/revision"},
		{"POST", "/officer/registrations/" + g.ID + "/resend-activation"},
	}
	for _, rt := range routes {
		send := func(c *http.Client, tok string) webtest.Response {
			if rt.method == "GET" {
				return e.get(c, rt.path)
			}
			return e.post(c, rt.path, url.Values{"csrf_token": {tok}, "note": {"ditolak"}})
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			reviewWantRedirect(t, send(e.client(), ""), "/login")
			for _, c := range []struct {
				client *http.Client
				token  string
			}{{trader, token}, {admin, adminToken}} {
				res := send(c.client, c.token)
				reviewWant(t, res, http.StatusForbidden, e.T("officer.forbidden"))
				if strings.Contains(res.Body, g.NIB) || strings.Contains(res.Body, "%PDF") {
					t.Error("the refusal shows registration data")
				}
			}
		})
	}
	if got := e.registration(g.ID); got.Status != storage.StatusInReview {
		t.Errorf("status changed to %s", got.Status)
	}
	if _, err := e.dur.UserByLogin(t.Context(), g.Email); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an account was created: %v", err)
	}
	e.outbox.Settle(t)
	if len(e.smtp.Messages()) != 0 {
		t.Error("mail was sent")
	}
}

func TestOfficerDecisionsNeedCSRF(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	g := e.seed(nil)
	e.get(oc, "/officer/registrations/"+g.ID) // the CSRF cookie, not the token
	for _, action := range []string{"review", "approve", "reject", "revision", "resend-activation"} {
		res := e.post(oc, "/officer/registrations/"+g.ID+"/"+action, url.Values{"note": {"x"}})
		reviewWant(t, res, http.StatusForbidden, e.T("error.csrf"))
	}
	if got := e.registration(g.ID); got.Status != storage.StatusSubmitted {
		t.Errorf("status changed to %s", got.Status)
	}
}

func TestOfficerDecisions(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("andi.pratama")
	g := e.seed(nil)
	detail := "/officer/registrations/" + g.ID

	page := e.get(oc, detail)
	reviewWant(t, page, http.StatusOK, g.ServiceNumber, html.EscapeString(g.OrgName), g.NIB, "01.234.567.8-900.001",
		g.Email, "&#43;"+g.Phone[1:], g.IdentityNumber, "/officer/documents/"+g.DocumentID, detail+"/review")
	if strings.Contains(page.Body, detail+"/approve") {
		t.Error("approve offered before review")
	}
	// Approving needs the review step first.
	reviewWant(t, e.decide(oc, g.ID, "approve", nil), http.StatusConflict, e.T("officer.conflict"))

	reviewWantRedirect(t, e.decide(oc, g.ID, "review", nil), detail+"?notice=decided")
	page = e.get(oc, detail+"?notice=decided")
	reviewWant(t, page, http.StatusOK, e.T("officer.decided"), detail+"/approve", detail+"/reject", detail+"/revision")

	// A rejection needs a reason.
	res := e.decide(oc, g.ID, "reject", url.Values{"note": {"  \n "}})
	reviewWant(t, res, http.StatusOK, e.T("officer.note_required"))
	res = e.decide(oc, g.ID, "reject", url.Values{"note": {strings.Repeat("a", maxNoteLen+1)}})
	reviewWant(t, res, http.StatusOK, e.T("officer.note_too_long"))
	if got := e.registration(g.ID); got.Status != storage.StatusInReview {
		t.Fatalf("status %s after refused notes", got.Status)
	}
	reason := "NIB <b>tidak</b> terdaftar di OSS."
	reviewWantRedirect(t, e.decide(oc, g.ID, "reject", url.Values{"note": {reason}}), detail+"?notice=decided")
	page = e.get(oc, detail)
	reviewWant(t, page, http.StatusOK, html.EscapeString(reason), officer.Username, e.T("review.status.rejected"))
	if strings.Contains(page.Body, detail+"/approve") || strings.Contains(page.Body, detail+"/review\"") {
		t.Error("decision forms offered for a decided registration")
	}

	events := e.events(g.ID)
	last := events[len(events)-1]
	if last.Status != storage.StatusRejected || last.ActorID != officer.ID || last.Note != reason || !last.Time.Equal(e.clock.Now()) {
		t.Errorf("last event %+v", last)
	}
	for _, action := range []string{"registration.review", "registration.reject"} {
		a := e.audits(action)
		if len(a) != 1 || a[0].ActorID != officer.ID || a[0].Subject != g.ID {
			t.Errorf("audit %s: %+v", action, a)
		}
	}
	// Decided is final.
	reviewWant(t, e.decide(oc, g.ID, "revision", url.Values{"note": {"x"}}), http.StatusConflict, e.T("officer.conflict"))
	reviewWant(t, e.get(oc, "/officer/registrations/nosuchid"), http.StatusNotFound)
	reviewWant(t, e.get(oc, "/officer/registrations/..%2f..%2fetc"), http.StatusNotFound)
}

func TestConcurrentDecisionsOneWins(t *testing.T) {
	e := newReviewEnv(t, false)
	_, a := e.officer("andi")
	_, b := e.officer("budi")
	outcomes := map[storage.RegistrationStatus]int{}
	for range 6 {
		g := e.seed(nil)
		e.setStatus(g.ID, storage.StatusInReview, "o", "")
		detail := "/officer/registrations/" + g.ID
		approveForm := url.Values{"csrf_token": {e.csrf(a, detail)}}
		rejectForm := url.Values{"csrf_token": {e.csrf(b, detail)}, "note": {"Dokumen palsu."}}

		var wg sync.WaitGroup
		var approved, rejected webtest.Response
		start := make(chan struct{})
		wg.Go(func() { <-start; approved = e.post(a, detail+"/approve", approveForm) })
		wg.Go(func() { <-start; rejected = e.post(b, detail+"/reject", rejectForm) })
		close(start)
		wg.Wait()

		got := e.registration(g.ID)
		outcomes[got.Status]++
		switch got.Status {
		case storage.StatusApproved:
			reviewWantRedirect(t, approved, detail+"?notice=approved")
			reviewWant(t, rejected, http.StatusConflict, e.T("officer.conflict"))
			if _, err := e.dur.UserByLogin(t.Context(), g.Email); err != nil {
				t.Errorf("approved without a user: %v", err)
			}
		case storage.StatusRejected:
			reviewWantRedirect(t, rejected, detail+"?notice=decided")
			reviewWant(t, approved, http.StatusConflict, e.T("officer.conflict"))
			if _, err := e.dur.UserByLogin(t.Context(), g.Email); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("rejected, yet a user exists: %v", err)
			}
			if _, err := e.dur.OrganizationByNIB(t.Context(), g.NIB); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("rejected, yet an organization exists: %v", err)
			}
		default:
			t.Fatalf("status %s", got.Status)
		}
		decisions := 0
		for _, ev := range e.events(g.ID) {
			if !ev.Status.Open() {
				decisions++
			}
		}
		if decisions != 1 {
			t.Errorf("%d final decisions recorded", decisions)
		}
		// The loser's transaction rolled back with its event.
		audited := 0
		for _, action := range []string{"registration.approve", "registration.reject"} {
			for _, a := range e.audits(action) {
				if a.Subject == g.ID {
					audited++
				}
			}
		}
		if audited != 1 {
			t.Errorf("%d decision events for %s", audited, g.ID)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

var reviewNextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
var reviewRowLink = regexp.MustCompile(`<a href="/officer/registrations/([a-z0-9]+)">`)

// walkQueue follows the next-page links from path and returns the ids in
// the order shown and the number of pages.
func (e *reviewEnv) walkQueue(c *http.Client, path string) ([]string, int) {
	e.t.Helper()
	var ids []string
	pages := 0
	for path != "" {
		page := e.get(c, path)
		if page.StatusCode != http.StatusOK {
			e.t.Fatalf("GET %s: %d\n%s", path, page.StatusCode, page.Body)
		}
		pages++
		rows := reviewRowLink.FindAllStringSubmatch(page.Body, -1)
		if len(rows) > queuePageSize {
			e.t.Fatalf("page %d has %d rows", pages, len(rows))
		}
		for _, m := range rows {
			ids = append(ids, m[1])
		}
		path = ""
		if m := reviewNextLink.FindStringSubmatch(page.Body); m != nil {
			path = html.UnescapeString(m[1])
			if strings.Contains(path, "offset") || strings.Contains(path, "page=") {
				e.t.Fatalf("next link pages by offset: %s", path)
			}
		}
		if pages > 10 {
			e.t.Fatal("the queue does not end")
		}
	}
	return ids, pages
}

func TestQueueFiltersAndKeysetPagination(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	var all []storage.Registration
	for i := range 60 {
		// Pairs share a submission time, so the id must break ties.
		if i%2 == 0 {
			e.clock.Advance(3 * time.Hour)
		}
		g := e.seed(func(g *storage.Registration, _ *storage.Document) {
			if i%3 == 0 {
				g.TraderType = "eksportir"
			}
		})
		if i%4 == 0 {
			e.setStatus(g.ID, storage.StatusInReview, "o", "")
			g.Status = storage.StatusInReview
		}
		all = append(all, g)
	}
	newestFirst := func(keep func(storage.Registration) bool) []string {
		var gs []storage.Registration
		for _, g := range all {
			if keep(g) {
				gs = append(gs, g)
			}
		}
		slices.SortFunc(gs, func(a, b storage.Registration) int {
			if c := b.SubmittedAt.Compare(a.SubmittedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		ids := make([]string, len(gs))
		for i, g := range gs {
			ids[i] = g.ID
		}
		return ids
	}

	ids, pages := e.walkQueue(oc, "/officer")
	if pages != 3 {
		t.Errorf("%d pages for 60 rows", pages)
	}
	if want := newestFirst(func(storage.Registration) bool { return true }); !slices.Equal(ids, want) {
		t.Errorf("queue order:\n got %v\nwant %v", ids, want)
	}

	// A registration arriving while the officer pages does not shift the
	// later pages (it is newer than the cursor).
	first := e.get(oc, "/officer")
	next := html.UnescapeString(reviewNextLink.FindStringSubmatch(first.Body)[1])
	e.clock.Advance(time.Hour)
	late := e.seed(nil)
	rest, _ := e.walkQueue(oc, next)
	if slices.Contains(rest, late.ID) || len(rest) != 35 {
		t.Errorf("after a new arrival the later pages hold %d rows", len(rest))
	}
	all = append(all, late)

	byStatus, _ := e.walkQueue(oc, "/officer?status=in_review")
	if want := newestFirst(func(g storage.Registration) bool { return g.Status == storage.StatusInReview }); !slices.Equal(byStatus, want) {
		t.Errorf("status filter: got %d rows, want %d", len(byStatus), len(want))
	}
	byTrader, traderPages := e.walkQueue(oc, "/officer?trader_type=eksportir")
	if want := newestFirst(func(g storage.Registration) bool { return g.TraderType == "eksportir" }); !slices.Equal(byTrader, want) || traderPages != 1 {
		t.Errorf("trader filter: got %d rows on %d pages, want %d", len(byTrader), traderPages, len(want))
	}

	// Dates are Jakarta days, "to" inclusive. The clock started at 09:00
	// WIB on 1 March and moved 3 hours per pair: 2 March holds the pairs
	// submitted from 00:00 to 21:00 WIB.
	day := func(g storage.Registration) string { return g.SubmittedAt.In(jakarta).Format("2006-01-02") }
	byDate, _ := e.walkQueue(oc, "/officer?from=2025-03-02&to=2025-03-03")
	want := newestFirst(func(g storage.Registration) bool { return day(g) == "2025-03-02" || day(g) == "2025-03-03" })
	if !slices.Equal(byDate, want) || len(want) == 0 {
		t.Errorf("date filter: got %d rows, want %d", len(byDate), len(want))
	}
	combined, _ := e.walkQueue(oc, "/officer?status=submitted&trader_type=importir&from=2025-03-02")
	want = newestFirst(func(g storage.Registration) bool {
		return g.Status == storage.StatusSubmitted && g.TraderType == "importir" && day(g) >= "2025-03-02"
	})
	if !slices.Equal(combined, want) {
		t.Errorf("combined filters: got %d rows, want %d", len(combined), len(want))
	}

	for _, bad := range []string{"?status=approvedx", "?trader_type=pirate", "?from=2025-13-01", "?to=kemarin", "?after=abc", "?after=123_UPPER"} {
		reviewWant(t, e.get(oc, "/officer"+bad), http.StatusBadRequest, e.T("officer.filter_invalid"))
	}
	reviewWant(t, e.get(oc, "/officer?status=approved"), http.StatusOK, e.T("officer.queue_empty"))
}

func TestDocumentDownload(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("petugas")
	g := e.seed(func(_ *storage.Registration, d *storage.Document) { d.FileName = "surat kuasa \"PT A\".pdf" })

	res := e.get(oc, "/officer/documents/"+g.DocumentID)
	reviewWant(t, res, http.StatusOK)
	want := map[string]string{
		"Content-Type":            "application/pdf",
		"Content-Disposition":     `attachment; filename="surat_kuasa_PT_A.pdf"; filename*=UTF-8''surat%20kuasa%20%22PT%20A%22.pdf`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if res.Body != string(reviewPDF) {
		t.Error("body is not the stored document")
	}
	if a := e.audits("registration.document_download"); len(a) != 1 || a[0].ActorID != officer.ID || a[0].Subject != g.ID || a[0].Detail["document_id"] != g.DocumentID {
		t.Errorf("audit %+v", a)
	}

	// A stored type outside the accepted three goes out as opaque bytes.
	odd := e.seed(func(_ *storage.Registration, d *storage.Document) { d.ContentType = "text/html"; d.FileName = "" })
	res = e.get(oc, "/officer/documents/"+odd.DocumentID)
	if ct, cd := res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"); ct != "application/octet-stream" || !strings.HasPrefix(cd, "attachment") {
		t.Errorf("odd type served as %q, %q", ct, cd)
	}

	reviewWant(t, e.get(e.signedIn(e.createUser("trader")), "/officer/documents/"+g.DocumentID), http.StatusForbidden, e.T("officer.forbidden"))
	reviewWantRedirect(t, e.get(e.client(), "/officer/documents/"+g.DocumentID), "/login")
	reviewWant(t, e.get(oc, "/officer/documents/nosuchdocument"), http.StatusNotFound)

	// The detail page links the download; it never embeds the document.
	page := e.get(oc, "/officer/registrations/"+g.ID)
	for _, embed := range []string{"<iframe", "<embed", "<object", "<img"} {
		if strings.Contains(page.Body, embed) {
			t.Errorf("detail page has %s", embed)
		}
	}
}
