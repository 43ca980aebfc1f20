package mailtest

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// dial opens a raw SMTP conversation and reads the greeting.
func dial(t *testing.T, s *Server) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	expect(t, c, 220)
	return c
}

func expect(t *testing.T, c *textproto.Conn, code int) string {
	t.Helper()
	got, msg, err := c.ReadResponse(0)
	if err != nil && got == 0 {
		t.Fatalf("reading the reply: %v", err)
	}
	if got != code {
		t.Fatalf("reply %d %s, want %d", got, msg, code)
	}
	return msg
}

// say sends raw text, which may hold several lines, and checks the reply.
func say(t *testing.T, c *textproto.Conn, raw string, code int) string {
	t.Helper()
	if _, err := c.W.WriteString(raw); err != nil {
		t.Fatal(err)
	}
	if err := c.W.Flush(); err != nil {
		t.Fatal(err)
	}
	return expect(t, c, code)
}

// transaction opens a transaction ready for DATA.
func transaction(t *testing.T, c *textproto.Conn) {
	t.Helper()
	say(t, c, "EHLO test\r\n", 250)
	say(t, c, "MAIL FROM:<a@b.example>\r\n", 250)
	say(t, c, "RCPT TO:<budi@pt-maju.example>\r\n", 250)
	say(t, c, "DATA\r\n", 354)
}

func TestDotUnstuffing(t *testing.T) {
	s := NewServer(t)
	c := dial(t, s)
	transaction(t, c)
	say(t, c, "Subject: x\r\n\r\n..\r\n..hidden\r\nend\r\n.\r\n", 250)
	say(t, c, "QUIT\r\n", 221)
	r := s.WaitFor(t, "Budi@PT-Maju.example", time.Minute)
	if r.Body != ".\n.hidden\nend\n" {
		t.Errorf("body = %q", r.Body)
	}
	if r.Subject != "x" || r.From != "a@b.example" {
		t.Errorf("subject, from = %q, %q", r.Subject, r.From)
	}
}

func TestRejectsBrokenData(t *testing.T) {
	tests := []struct {
		name, data string
		opts       []Option
		code       int
	}{
		{"bare LF", "Subject: x\r\n\r\na\nb\r\n.\r\n", nil, 550},
		{"bare CR", "Subject: x\r\n\r\na\rb\r\n.\r\n", nil, 550},
		{"a line of 999 octets", "Subject: x\r\n\r\n" + strings.Repeat("a", 999) + "\r\n.\r\n", nil, 550},
		{"over the size limit", "Subject: x\r\n\r\n" + strings.Repeat("a\r\n", 100) + ".\r\n", []Option{WithMaxMessageBytes(100)}, 552},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(t, tc.opts...)
			c := dial(t, s)
			transaction(t, c)
			say(t, c, tc.data, tc.code)
			// The session goes on after a rejected message.
			say(t, c, "NOOP\r\n", 250)
			if n := len(s.Messages()); n != 0 {
				t.Errorf("stored %d messages", n)
			}
		})
	}
	t.Run("a line of exactly 998 octets is fine", func(t *testing.T) {
		s := NewServer(t)
		c := dial(t, s)
		transaction(t, c)
		say(t, c, "Subject: x\r\n\r\n"+strings.Repeat("a", 998)+"\r\n.\r\n", 250)
	})
}

func TestSequenceAndSyntax(t *testing.T) {
	s := NewServer(t)
	c := dial(t, s)
	say(t, c, "MAIL FROM:<a@b.example>\r\n", 503) // no EHLO
	say(t, c, "EHLO test\r\n", 250)
	say(t, c, "RCPT TO:<x@y.example>\r\n", 503) // no MAIL
	say(t, c, "DATA\r\n", 503)
	say(t, c, "MAIL FROM:a@b.example\r\n", 501)
	say(t, c, "MAIL FROM:<a@b.example> SIZE=999999999\r\n", 552)
	say(t, c, "MAIL FROM:<a@b.example> SIZE=10\r\n", 250)
	say(t, c, "MAIL FROM:<a@b.example>\r\n", 503) // nested
	say(t, c, "RCPT TO:<>\r\n", 501)
	say(t, c, "RSET\r\n", 250)
	say(t, c, "RCPT TO:<x@y.example>\r\n", 503) // RSET ended the transaction
	say(t, c, "AUTH PLAIN\r\n", 502)            // not configured
	say(t, c, "STARTTLS\r\n", 220)
	if n := len(s.Messages()); n != 0 {
		t.Errorf("stored %d messages", n)
	}
}

func TestLongCommandLine(t *testing.T) {
	s := NewServer(t)
	c := dial(t, s)
	say(t, c, "NOOP "+strings.Repeat("x", 5000)+"\r\n", 500)
	say(t, c, "NOOP\r\n", 250)
}

func TestAuth(t *testing.T) {
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}
	s := NewServer(t, WithAuth("app", "s3cret"), WithoutSTARTTLS())
	c := dial(t, s)
	ext := say(t, c, "EHLO test\r\n", 250)
	if !strings.Contains(ext, "AUTH PLAIN") || strings.Contains(ext, "STARTTLS") {
		t.Errorf("EHLO = %q", ext)
	}
	say(t, c, "MAIL FROM:<a@b.example>\r\n", 530)
	say(t, c, "AUTH LOGIN\r\n", 504)
	say(t, c, "AUTH PLAIN "+plain("app", "wrong")+"\r\n", 535)
	say(t, c, "AUTH PLAIN "+plain("other", "s3cret")+"\r\n", 535)
	say(t, c, "AUTH PLAIN\r\n", 334)
	say(t, c, "*\r\n", 501)
	say(t, c, "AUTH PLAIN\r\n", 334)
	say(t, c, plain("app", "s3cret")+"\r\n", 235)
	say(t, c, "AUTH PLAIN "+plain("app", "s3cret")+"\r\n", 503)
	say(t, c, "MAIL FROM:<a@b.example>\r\n", 250)
}

func TestSTARTTLSWithNetSMTP(t *testing.T) {
	s := NewServer(t, WithAuth("app", "s3cret"))
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: s.Host(), RootCAs: s.CertPool()}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS is still offered inside TLS")
	}
	if err := c.Auth(smtp.PlainAuth("", "app", "s3cret", s.Host())); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@b.example"); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"x@y.example", "z@y.example"} {
		if err := c.Rcpt(to); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: two\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	// WaitFor returns a message once for each of its recipients.
	for _, to := range []string{"x@y.example", "z@y.example"} {
		r := s.WaitFor(t, to, time.Minute)
		if !r.TLS || r.Username != "app" || r.Body != "hello\n" {
			t.Errorf("for %s: TLS %v, user %q, body %q", to, r.TLS, r.Username, r.Body)
		}
	}
}

func TestWaitForReturnsEachMessageOnce(t *testing.T) {
	s := NewServer(t)
	for _, subject := range []string{"first", "second"} {
		c := dial(t, s)
		transaction(t, c)
		say(t, c, "Subject: "+subject+"\r\n\r\nx\r\n.\r\n", 250)
	}
	for _, want := range []string{"first", "second"} {
		if r := s.WaitFor(t, "budi@pt-maju.example", time.Minute); r.Subject != want {
			t.Errorf("WaitFor = %q, want %q", r.Subject, want)
		}
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("Messages has %d, want 2", n)
	}
}

func TestCloseEndsIdleConnections(t *testing.T) {
	s := NewServer(t)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for an idle client")
	}
	s.Close() // again, as t.Cleanup will
}
