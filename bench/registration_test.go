package bench

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"satupintu/mail"
	"satupintu/registration"
)

// The letter the registration scenario uploads passes the wizard's own
// check as a PDF and is about 1 MB, within the 1 MiB the wizard takes.
func TestScannedLetterIsAccepted(t *testing.T) {
	letter := buildLetter(letterSize)
	doc, err := registration.ReadDocument(bytes.NewReader(letter), "Surat Kuasa.pdf")
	if err != nil {
		t.Fatalf("the upload refuses the letter: %v", err)
	}
	if doc.ContentType != registration.TypePDF {
		t.Errorf("content type %q, want a PDF", doc.ContentType)
	}
	if n := len(letter); n < 990_000 || n > registration.MaxDocumentSize {
		t.Errorf("%d bytes, want about 1 MB and at most %d", n, registration.MaxDocumentSize)
	}
}

// The sink hands a mail sent by the provider's SMTP client to the worker
// expecting its recipient, with the quoted-printable undone so the code's
// line is found; mail to anyone else is dropped.
func TestMailSinkDeliversTheCode(t *testing.T) {
	sink, err := NewMailSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	host, port, _ := strings.Cut(sink.Addr(), ":")
	p, _ := strconv.Atoi(port)
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: p, TLS: mail.TLSNone, From: "Satu Pintu <no-reply@satupintu.localhost>"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, forget := sink.expect("Siti@Bench.Example")
	defer forget()
	long := strings.Repeat("kata ", 30) // a line quoted-printable has to break
	for _, to := range []string{"other@bench.example", "siti@bench.example"} {
		if err := sender.Send(t.Context(), mail.Message{To: to, Subject: "Kode verifikasi", Text: long + "\n\n    123456\n\nSalam",
			HTML: "<p>123456</p>"}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case text := <-msgs:
		m := mailedCode.FindStringSubmatch(text)
		if m == nil || m[1] != "123456" {
			t.Fatalf("no code found in:\n%s", text)
		}
		if !strings.Contains(text, long) {
			t.Errorf("the long line was not joined again:\n%s", text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
	}
	if len(msgs) != 0 {
		t.Errorf("%d more messages, want only siti's", len(msgs))
	}
}

// A 429 counts as throttled, neither a success nor an error.
func TestResultCountsThrottledApart(t *testing.T) {
	var m vegeta.Metrics
	for _, r := range []vegeta.Result{{Code: 200}, {Code: 429}, {Code: 0, Error: "connection refused"}, {Code: 200}} {
		m.Add(&r)
	}
	m.Close()
	r := result("x", &m)
	if r.Operations != 4 || r.Throttled != 1 || r.Errors != 1 {
		t.Fatalf("%d operations, %d throttled, %d errors; want 4, 1, 1", r.Operations, r.Throttled, r.Errors)
	}
}
