package mail_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"satupintu/mail"
	"satupintu/mail/mailtest"
)

// send delivers m through a plaintext loopback server and returns what
// the server received.
func send(t *testing.T, m mail.Message) mailtest.Received {
	t.Helper()
	srv := mailtest.NewServer(t)
	if err := newSMTP(t, srv, nil).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	addr := m.To
	if i := strings.IndexByte(addr, '<'); i >= 0 {
		addr = strings.Trim(addr[i:], "<>")
	}
	return srv.WaitFor(t, addr, time.Minute)
}

// checkLines fails if any line of raw exceeds RFC 5322's 998 octets or is
// not ended by CRLF.
func checkLines(t *testing.T, raw []byte) {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d octets", i+1, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF", i+1)
		}
	}
}

func TestHeadersEncodeAndDecode(t *testing.T) {
	tests := []struct {
		name, to, wantName, subject string
	}{
		{"Indonesian subject stays plain ASCII", "Budi Santoso <budi@pt-maju.example>", "Budi Santoso",
			"Aktivasi akun Anda"},
		{"non-ASCII subject and name", "Ñoño Śląski <budi@pt-maju.example>", "Ñoño Śląski",
			"Aktivasi akun Anda — Dirjen Bea dan Cukai · 日本語 ✓"},
		{"name with specials and non-ASCII", `"Śląski, Budi (PT \"Maju\")" <budi@pt-maju.example>`, `Śląski, Budi (PT "Maju")`,
			"Aktivasi"},
		{"long non-ASCII name", "Ąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąą Łłłłłłłłłłłłłłłłł <budi@pt-maju.example>",
			"Ąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąąą Łłłłłłłłłłłłłłłłł", "Aktivasi"},
		{"ASCII that looks like an encoded-word is not decoded", "budi@pt-maju.example", "",
			"=?utf-8?q?palsu?="},
		{"control characters are encoded, not sent raw", "budi@pt-maju.example", "",
			"Aktivasi\x1b[31m\ttab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, mail.Message{To: tc.to, Subject: tc.subject, Text: "Selamat datang, Ñoño!"})
			if r.Subject != tc.subject {
				t.Errorf("subject decodes to %q, want %q", r.Subject, tc.subject)
			}
			to, err := r.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Name != tc.wantName || to[0].Address != "budi@pt-maju.example" {
				t.Errorf("To = %v, %v; want name %q", to, err, tc.wantName)
			}
			head, _, _ := bytes.Cut(r.Raw, []byte("\r\n\r\n"))
			for line := range bytes.SplitSeq(head, []byte("\r\n")) {
				for _, c := range line {
					if c > 0x7e || (c < ' ' && c != '\t') {
						t.Fatalf("header line is not printable ASCII: %q", line)
					}
				}
				if bytes.Contains(line, []byte("=?")) && len(line) > 76 {
					t.Errorf("line with encoded-words has %d characters (RFC 2047 §2: 76): %q", len(line), line)
				}
			}
			if r.Body != "Selamat datang, Ñoño!\n" {
				t.Errorf("body = %q", r.Body)
			}
			checkLines(t, r.Raw)
		})
	}
}

func TestLongSubjectsFold(t *testing.T) {
	for _, subject := range []string{
		strings.Repeat("Aktivasi akun perusahaan ", 20),
		strings.Repeat("Ąktivasi ąkun perusahaan ", 40),
	} {
		subject = strings.TrimSpace(subject)
		r := send(t, mail.Message{To: "budi@pt-maju.example", Subject: subject, Text: "x"})
		if r.Subject != subject {
			t.Errorf("subject decodes to %q, want %q", r.Subject, subject)
		}
		head, _, _ := bytes.Cut(r.Raw, []byte("\r\n\r\n"))
		for line := range bytes.SplitSeq(head, []byte("\r\n")) {
			if len(line) > 78 {
				t.Errorf("header line of %d characters: %q", len(line), line)
			}
		}
	}
}

func TestBodySurvivesTransport(t *testing.T) {
	long := strings.Repeat("0123456789", 500)
	tests := []struct {
		name, text, want string
	}{
		{"a line longer than 998 octets", long, long + "\n"},
		{"a long non-ASCII line", strings.Repeat("ą", 3000), strings.Repeat("ą", 3000) + "\n"},
		{"lines starting with a dot, and a lone dot that would end DATA",
			"baris satu\n.\n.tersembunyi\n..dua titik\nakhir", "baris satu\n.\n.tersembunyi\n..dua titik\nakhir\n"},
		{"a lone dot as the last line", "a\n.", "a\n.\n"},
		{"mixed line ends become CRLF on the wire", "a\r\nb\rc\nd", "a\nb\nc\nd\n"},
		{"trailing spaces are kept", "a  \nb\t\n", "a  \nb\t\n"},
		{"an equals sign and a URL", "https://x.example/a?t=3D&b=1", "https://x.example/a?t=3D&b=1\n"},
		{"From at line start", "From here on\n", "From here on\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, mail.Message{To: "budi@pt-maju.example", Subject: "Uji", Text: tc.text})
			if r.Body != tc.want {
				t.Errorf("body = %q, want %q", r.Body, tc.want)
			}
			checkLines(t, r.Raw)
		})
	}
}

func TestHTMLAlternative(t *testing.T) {
	html := `<p>Klik <a href="https://satupintu.example/activate?t=abc">aktivasi</a>.</p>` + strings.Repeat("<br>", 400)
	r := send(t, mail.Message{
		To:      "budi@pt-maju.example",
		Subject: "Aktivasi",
		Text:    "Klik https://satupintu.example/activate?t=abc",
		HTML:    html,
	})
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative; boundary=") {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.Body != "Klik https://satupintu.example/activate?t=abc\n" {
		t.Errorf("text part = %q", r.Body)
	}
	if r.HTML != html+"\n" {
		t.Errorf("html part = %q", r.HTML)
	}
	if bytes.Index(r.Raw, []byte("text/plain")) > bytes.Index(r.Raw, []byte("text/html")) {
		t.Error("the HTML part comes before the text part; clients prefer the last")
	}
	checkLines(t, r.Raw)
}

// A message's ID becomes its Message-ID, so a queue that sends it twice
// sends one message id; an ID that could break the header is refused.
func TestMessageID(t *testing.T) {
	r := send(t, mail.Message{To: "budi@pt-maju.example", Subject: "Aktivasi", Text: "isi", ID: "abc2def.7-x"})
	if got, want := r.Header.Get("Message-ID"), "<abc2def.7-x@satupintu.example>"; got != want {
		t.Errorf("Message-ID = %q, want %q", got, want)
	}
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv, nil)
	for _, id := range []string{"a b", "a>b", "a\r\nBcc: x@evil.example", ".a", "a..b", "a@b", strings.Repeat("a", 65)} {
		err := s.Send(t.Context(), mail.Message{To: "budi@pt-maju.example", Subject: "Aktivasi", Text: "isi", ID: id})
		if !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("ID %q: got %v, want ErrInvalidMessage", id, err)
		}
	}
}
