package registration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"satupintu/mail/mailtest"
	"satupintu/templates"
)

// checkBilingual checks a delivered mail against the catalogs: the subject
// is the Indonesian one, then the English one; the body holds the
// Indonesian text first and the English text after it.
func checkBilingual(t *testing.T, pages *templates.Pages, m mailtest.Received, to, subjectKey, bodyKey string, args ...any) {
	t.Helper()
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
		t.Errorf("mail went to %v, want %s", m.To, to)
	}
	if want := pages.T(templates.LangID, subjectKey) + " / " + pages.T(templates.LangEN, subjectKey); m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	id := strings.Index(m.Body, pages.T(templates.LangID, bodyKey, args...))
	en := strings.Index(m.Body, pages.T(templates.LangEN, bodyKey, args...))
	if id < 0 || en < 0 || id > en {
		t.Errorf("the body does not hold %s in Indonesian, then English (at %d and %d):\n%s", bodyKey, id, en, m.Body)
	}
}

// mailsTo returns the delivered mails to addr, once the outbox is idle.
func (e *reviewEnv) mailsTo(addr string) []mailtest.Received {
	e.t.Helper()
	e.outbox.Settle(e.t)
	var out []mailtest.Received
	for _, m := range e.smtp.Messages() {
		if len(m.To) == 1 && strings.EqualFold(m.To[0], addr) {
			out = append(out, m)
		}
	}
	return out
}

// A revision request and a rejection each send the registrant exactly
// one mail, with the officer's note, in Indonesian and then English; a
// decision that lost to another sends nothing, nor does starting a review.
func TestDecisionMailsReachTheRegistrant(t *testing.T) {
	e := newReviewEnv(t, false)
	_, oc := e.officer("petugas")
	tests := []struct {
		action, subjectKey, bodyKey, link string
	}{
		{"revision", "review.mail.revision.subject", "review.mail.revision.body", "/track"},
		{"reject", "review.mail.rejected.subject", "review.mail.rejected.body", "/register"},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			g := e.seed(nil)
			detail := "/officer/registrations/" + g.ID
			reviewWantRedirect(t, e.decide(oc, g.ID, "review", nil), detail+"?notice=decided")
			if got := e.mailsTo(g.Email); len(got) != 0 {
				t.Fatalf("starting the review sent %d mails", len(got))
			}
			// Written over two lines with extra blanks: the mail carries it
			// as the officer's page stores it, white space collapsed.
			note := "Surat kuasa belum ditandatangani direktur — mohon unggah ulang.\n  NPWP tidak sesuai."
			stored := "Surat kuasa belum ditandatangani direktur — mohon unggah ulang. NPWP tidak sesuai."
			reviewWantRedirect(t, e.decide(oc, g.ID, tt.action, url.Values{"note": {note}}), detail+"?notice=decided")
			// The second officer's decision loses and must not mail.
			reviewWant(t, e.decide(oc, g.ID, tt.action, url.Values{"note": {"lagi"}}), http.StatusConflict, e.T("officer.conflict"))

			got := e.mailsTo(g.Email)
			if len(got) != 1 {
				t.Fatalf("%d mails to %s, want 1", len(got), g.Email)
			}
			checkBilingual(t, e.pages, got[0], g.Email, tt.subjectKey, tt.bodyKey,
				g.FullName, g.OrgName, g.ServiceNumber, stored, e.srv.URL+tt.link)
		})
	}
}

// A submission sends exactly one mail with the service number, besides
// the verification code, in Indonesian and then English.
func TestSubmissionMailsTheServiceNumberOnce(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	sn := e.serviceNumber(c, e.submit(c, nil))
	g, err := e.dur.RegistrationByServiceNumber(t.Context(), sn)
	if err != nil {
		t.Fatal(err)
	}
	var received []mailtest.Received
	for _, m := range e.mails() {
		if strings.HasPrefix(m.Subject, e.pages.T(templates.LangID, "reg.mail.received.subject")) {
			received = append(received, m)
		}
	}
	if len(received) != 1 {
		t.Fatalf("%d registration-received mails, want 1", len(received))
	}
	checkBilingual(t, e.pages, received[0], "siti@example.co.id", "reg.mail.received.subject", "reg.mail.received.body",
		g.FullName, g.OrgName, sn, e.h.BaseURL+"/track")
	if n := len(e.mails()); n != 2 {
		t.Errorf("%d mails in all, want the code and the service number", n)
	}
}
