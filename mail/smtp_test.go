package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/mail"
	"satupintu/mail/mailtest"
)

const from = "Satu Pintu <noreply@satupintu.example>"

// newSMTP returns a sender for srv, starting from a loopback plaintext
// config that edit may change.
func newSMTP(t *testing.T, srv *mailtest.Server, edit func(*mail.SMTPConfig)) *mail.SMTP {
	t.Helper()
	cfg := mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(), From: from, TLS: mail.TLSNone}
	if edit != nil {
		edit(&cfg)
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPDelivers(t *testing.T) {
	tests := []struct {
		name     string
		opts     []mailtest.Option
		edit     func(srv *mailtest.Server) func(*mail.SMTPConfig)
		wantTLS  bool
		wantUser string
	}{
		{
			name: "plaintext on loopback",
		},
		{
			name: "plaintext with AUTH PLAIN on loopback",
			opts: []mailtest.Option{mailtest.WithAuth("app", "s3cret")},
			edit: func(*mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) { c.Username, c.Password = "app", "s3cret" }
			},
			wantUser: "app",
		},
		{
			name: "starttls with AUTH PLAIN trusting the test certificate",
			opts: []mailtest.Option{mailtest.WithAuth("app", "s3cret")},
			edit: func(srv *mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) {
					c.TLS = mail.TLSStartTLS
					c.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
					c.Username, c.Password = "app", "s3cret"
				}
			},
			wantTLS:  true,
			wantUser: "app",
		},
		{
			name: "implicit tls",
			opts: []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth("app", "s3cret")},
			edit: func(srv *mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) {
					c.TLS = mail.TLSImplicit
					c.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
					c.Username, c.Password = "app", "s3cret"
				}
			},
			wantTLS:  true,
			wantUser: "app",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tc.opts...)
			var edit func(*mail.SMTPConfig)
			if tc.edit != nil {
				edit = tc.edit(srv)
			}
			s := newSMTP(t, srv, edit)
			err := s.Send(t.Context(), mail.Message{
				To:      "Budi <budi@pt-maju.example>",
				Subject: "Aktivasi akun",
				Text:    "Klik tautan berikut:\nhttps://satupintu.example/activate?t=abc",
			})
			if err != nil {
				t.Fatal(err)
			}
			r := srv.WaitFor(t, "budi@pt-maju.example", time.Minute)
			if r.From != "noreply@satupintu.example" {
				t.Errorf("envelope from = %q", r.From)
			}
			if r.TLS != tc.wantTLS || r.Username != tc.wantUser {
				t.Errorf("TLS, user = %v, %q; want %v, %q", r.TLS, r.Username, tc.wantTLS, tc.wantUser)
			}
			if r.Subject != "Aktivasi akun" {
				t.Errorf("subject = %q", r.Subject)
			}
			if want := "Klik tautan berikut:\nhttps://satupintu.example/activate?t=abc\n"; r.Body != want {
				t.Errorf("body = %q, want %q", r.Body, want)
			}
			to, err := r.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Name != "Budi" || to[0].Address != "budi@pt-maju.example" {
				t.Errorf("To = %v, %v", to, err)
			}
			if _, err := r.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			if id := r.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@satupintu.example>") {
				t.Errorf("Message-ID = %q", id)
			}
			if got := r.Header.Get("MIME-Version"); got != "1.0" {
				t.Errorf("MIME-Version = %q", got)
			}
			if got := r.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func TestSMTPRefuses(t *testing.T) {
	msg := mail.Message{To: "budi@pt-maju.example", Subject: "Aktivasi", Text: "x"}
	tests := []struct {
		name    string
		opts    []mailtest.Option
		edit    func(srv *mailtest.Server) func(*mail.SMTPConfig)
		wantErr string
	}{
		{
			name: "starttls when the server does not offer it",
			opts: []mailtest.Option{mailtest.WithoutSTARTTLS()},
			edit: func(srv *mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) {
					c.TLS = mail.TLSStartTLS
					c.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
				}
			},
			wantErr: "does not offer STARTTLS",
		},
		{
			name: "starttls to an untrusted certificate",
			edit: func(*mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) { c.TLS = mail.TLSStartTLS }
			},
			wantErr: "certificate",
		},
		{
			name: "implicit tls to an untrusted certificate",
			opts: []mailtest.Option{mailtest.WithImplicitTLS()},
			edit: func(*mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) { c.TLS = mail.TLSImplicit }
			},
			wantErr: "certificate",
		},
		{
			name: "wrong password",
			opts: []mailtest.Option{mailtest.WithAuth("app", "s3cret")},
			edit: func(*mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) { c.Username, c.Password = "app", "wrong-password" }
			},
			wantErr: "535",
		},
		{
			name: "credentials configured but the server offers no AUTH",
			edit: func(*mailtest.Server) func(*mail.SMTPConfig) {
				return func(c *mail.SMTPConfig) { c.Username, c.Password = "app", "s3cret" }
			},
			wantErr: "does not offer AUTH",
		},
		{
			name:    "no credentials where the server requires them",
			opts:    []mailtest.Option{mailtest.WithAuth("app", "s3cret")},
			wantErr: "530",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tc.opts...)
			var edit func(*mail.SMTPConfig)
			if tc.edit != nil {
				edit = tc.edit(srv)
			}
			err := newSMTP(t, srv, edit).Send(t.Context(), msg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Send = %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error reveals the password: %v", err)
			}
			if errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("a transport failure is reported as an invalid message: %v", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server received %d messages", n)
			}
		})
	}
}

// countingListener accepts connections and never says a word, like a
// server that hangs or a firewall that swallows packets after the SYN.
func countingListener(t *testing.T) (addr *net.TCPAddr, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr), accepted
}

func TestInvalidMessageRefusedBeforeConnecting(t *testing.T) {
	addr, accepted := countingListener(t)
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: from, TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	ok := mail.Message{To: "budi@pt-maju.example", Subject: "Aktivasi", Text: "x"}
	tests := []struct {
		name string
		edit func(*mail.Message)
	}{
		{"CRLF in To adds a Bcc", func(m *mail.Message) { m.To = "a@b.c\r\nBcc: x@y.z" }},
		{"LF in To adds a Bcc", func(m *mail.Message) { m.To = "a@b.c\nBcc: x@y.z" }},
		{"CRLF in Subject adds a Bcc", func(m *mail.Message) { m.Subject = "Aktivasi\r\nBcc: x@y.z" }},
		{"CRLF CRLF in Subject starts a body", func(m *mail.Message) { m.Subject = "Aktivasi\r\n\r\nfake body" }},
		{"bare CR in Subject", func(m *mail.Message) { m.Subject = "Aktivasi\rBcc: x@y.z" }},
		{"NUL in To", func(m *mail.Message) { m.To = "a@b.c\x00" }},
		{"To is not an address", func(m *mail.Message) { m.To = "not an address" }},
		{"To is two addresses", func(m *mail.Message) { m.To = "a@b.c, x@y.z" }},
		{"To is empty", func(m *mail.Message) { m.To = "" }},
		{"Subject is empty", func(m *mail.Message) { m.Subject = " " }},
		{"Text is empty", func(m *mail.Message) { m.Text = "" }},
		{"Subject is not UTF-8", func(m *mail.Message) { m.Subject = "Aktivasi \xff" }},
		{"Text is not UTF-8", func(m *mail.Message) { m.Text = "\xfe\xff" }},
		{"an unbreakable Subject longer than a header line", func(m *mail.Message) { m.Subject = strings.Repeat("a", 1000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			if err := s.Send(t.Context(), m); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Send = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections were made for invalid messages", n)
	}
}

func TestSMTPStopsWithContext(t *testing.T) {
	addr, accepted := countingListener(t)
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: from, TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	msg := mail.Message{To: "budi@pt-maju.example", Subject: "Aktivasi", Text: "x"}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Send(ctx, msg)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send = %v, want DeadlineExceeded", err)
		}
		// Far below sendTimeout (a minute), so only ctx can have stopped it;
		// far above 300ms, so a loaded machine does not fail it.
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("Send took %v after a 300ms deadline", d)
		}
	})
	t.Run("cancel without deadline", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		err := s.Send(ctx, msg)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want Canceled", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("Send took %v after cancellation at 300ms", d)
		}
	})
	if accepted.Load() == 0 {
		t.Error("the silent server was never reached; the test proves nothing")
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	good := mail.SMTPConfig{Host: "smtp.example.go.id", Username: "app", Password: "pw", From: from}
	tests := []struct {
		name string
		edit func(*mail.SMTPConfig)
		want []string // substrings of the error; none means valid
	}{
		{"defaults to starttls", func(*mail.SMTPConfig) {}, nil},
		{"implicit tls", func(c *mail.SMTPConfig) { c.TLS = mail.TLSImplicit }, nil},
		{"no TLS on localhost", func(c *mail.SMTPConfig) { c.Host, c.TLS = "localhost", mail.TLSNone }, nil},
		{"no TLS on ::1", func(c *mail.SMTPConfig) { c.Host, c.TLS = "::1", mail.TLSNone }, nil},
		{"no credentials", func(c *mail.SMTPConfig) { c.Username, c.Password = "", "" }, nil},
		{"no TLS to a remote host is refused", func(c *mail.SMTPConfig) { c.TLS = mail.TLSNone }, []string{"loopback"}},
		{"unknown TLS mode", func(c *mail.SMTPConfig) { c.TLS = "ssl" }, []string{`"ssl"`}},
		{"username without password", func(c *mail.SMTPConfig) { c.Password = "" }, []string{"together"}},
		{"From with a line break", func(c *mail.SMTPConfig) { c.From = "a@b.c\r\nBcc: x@y.z" }, []string{"from"}},
		{"From is not an address", func(c *mail.SMTPConfig) { c.From = "Satu Pintu" }, []string{"from"}},
		{"port out of range", func(c *mail.SMTPConfig) { c.Port = 70000 }, []string{"70000"}},
		{"every problem at once", func(c *mail.SMTPConfig) { *c = mail.SMTPConfig{TLS: "ssl", Username: "x"} },
			[]string{"host is required", `"ssl"`, "together", "from address is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				if _, err := mail.NewSMTP(c); err != nil {
					t.Fatalf("NewSMTP = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
			if _, err := mail.NewSMTP(c); err == nil {
				t.Error("NewSMTP accepted an invalid config")
			}
		})
	}
}

func TestSMTPConfigHidesPassword(t *testing.T) {
	c := mail.SMTPConfig{Host: "smtp.example", Username: "app", Password: "s3cret", From: from}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "smtp", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "smtp", c)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), logs.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%q reveals the password", s)
		}
	}
	if !strings.Contains(logs.String(), `"password_set":true`) {
		t.Errorf("log does not say a password is set: %s", logs.String())
	}
}
