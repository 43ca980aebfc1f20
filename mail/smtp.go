package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// TLS modes for SMTPConfig.TLS.
const (
	// TLSStartTLS upgrades a plain connection (port 587, RFC 3207) and
	// fails if the server does not offer STARTTLS: silently falling back
	// would hand activation links to anyone on the path.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465, RFC 8314 §3.3).
	TLSImplicit = "tls"
	// TLSNone is plaintext, for tests and local development only: it is
	// refused for any host that is not loopback.
	TLSNone = "none"
)

const (
	dialTimeout = 10 * time.Second
	// sendTimeout bounds a send whose ctx has no deadline, so a server that
	// accepts and then stalls cannot hold a request forever.
	sendTimeout = time.Minute
)

// SMTPConfig configures an SMTP sender. Its zero values are defaults where
// a safe one exists.
type SMTPConfig struct {
	Host     string
	Port     int    // 0 means 587 for starttls, 465 for tls, 25 for none
	Username string // empty means no AUTH
	Password string
	From     string // "Satu Pintu <noreply@example.go.id>"
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone; empty means TLSImplicit on port 465, else TLSStartTLS
	// TLSConfig, if set, is cloned for the handshake, e.g. to trust a
	// private CA through RootCAs. ServerName defaults to Host. There is
	// deliberately no switch to skip verification.
	TLSConfig *tls.Config
}

// String leaves the password out, so a config printed while debugging
// does not leak it.
func (c SMTPConfig) String() string {
	pw := ""
	if c.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("{Host:%s Port:%d Username:%s Password:%s From:%s TLS:%s}",
		c.Host, c.Port, c.Username, pw, c.From, c.TLS)
}

// GoString keeps %#v from printing the password.
func (c SMTPConfig) GoString() string { return "mail.SMTPConfig" + c.String() }

// LogValue keeps slog, whose JSON handler would otherwise marshal every
// field, from logging the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.String("from", c.From),
		slog.String("tls", c.TLS),
	)
}

func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.TLS == "" {
		// Port 465 is implicit TLS (RFC 8314 §3.3); STARTTLS there would
		// wait for a greeting the server never sends in clear.
		c.TLS = TLSStartTLS
		if c.Port == 465 {
			c.TLS = TLSImplicit
		}
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSStartTLS:
			c.Port = 587
		case TLSImplicit:
			c.Port = 465
		case TLSNone:
			c.Port = 25
		}
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c SMTPConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch {
	case c.Host == "":
		errs = append(errs, errors.New("smtp host is required"))
	case strings.ContainsAny(c.Host, " \t\r\n\x00/:") && net.ParseIP(c.Host) == nil:
		errs = append(errs, fmt.Errorf("smtp host %q is not a host name or IP address", c.Host))
	}
	// Port is still 0 here only when TLS is unknown, reported below.
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp port %d is out of range", c.Port))
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Host != "" && !isLoopback(c.Host) {
			errs = append(errs, fmt.Errorf("smtp tls %q is only allowed for a loopback host, not %q", TLSNone, c.Host))
		}
	default:
		errs = append(errs, fmt.Errorf("smtp tls %q is not one of %s, %s, %s", c.TLS, TLSStartTLS, TLSImplicit, TLSNone))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("smtp username and password must be set together"))
	}
	if strings.ContainsAny(c.Username, "\x00\r\n") || strings.ContainsAny(c.Password, "\x00\r\n") {
		// NUL separates the fields of AUTH PLAIN (RFC 4616 §2).
		errs = append(errs, errors.New("smtp username or password contains NUL, CR or LF"))
	}
	if c.From == "" {
		errs = append(errs, errors.New("smtp from address is required"))
	} else if _, err := parseFrom(c.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp from %q is not a single address without line breaks", c.From))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether host is this machine, by name or address.
// Only these may receive plaintext and PLAIN credentials without TLS.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMTP delivers messages to a submission server, one connection per
// message: activation mail is rare, and a fresh connection needs no pool
// to go stale.
type SMTP struct {
	cfg  SMTPConfig
	from *netmail.Address
	addr string
	now  func() time.Time
}

var _ Sender = (*SMTP)(nil)

// NewSMTP validates c and returns a sender.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	from, err := parseFrom(c.From)
	if err != nil {
		return nil, err
	}
	return &SMTP{
		cfg:  c,
		from: from,
		addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		now:  time.Now,
	}, nil
}

// Send renders m and delivers it. An invalid message fails with
// ErrInvalidMessage before any connection is made. The whole exchange is
// bounded by ctx (and by a minute when ctx has no deadline).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := compose(s.from, m, s.now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if err := s.deliver(ctx, msg); err != nil {
		// An expired ctx shows up as an i/o timeout from the connection;
		// say what really happened so callers can match it. The socket
		// deadline can fire a moment before ctx's own timer does.
		ctxErr := ctx.Err()
		if dl, ok := ctx.Deadline(); ok && ctxErr == nil && !time.Now().Before(dl) {
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("mail: smtp %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTP) deliver(ctx context.Context, msg composed) error {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	// net/smtp knows nothing of ctx: a deadline on the socket bounds every
	// read and write, and cancellation moves that deadline to the past.
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("server does not offer STARTTLS")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			// Sending unauthenticated would be refused or, worse, relayed
			// by a server we did not mean to use.
			return errors.New("server does not offer AUTH")
		}
		// PlainAuth itself refuses to send credentials without TLS unless
		// the host is localhost; TLSNone is loopback-only, so that holds.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth as %q: %w", s.cfg.Username, s.redact(err))
		}
	}
	if err := c.Mail(msg.envFrom); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(msg.envTo); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The DATA writer dot-stuffs lines that begin with "." (RFC 5321
	// §4.5.2) and its Close waits for the server's acceptance.
	if _, err := w.Write(msg.raw); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message is accepted once DATA is answered with 250; a failed
	// QUIT must not make the caller send it twice.
	_ = c.Quit()
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// redact removes the password from an authentication error, in case a
// server echoes what it was sent; errors end up in logs.
func (s *SMTP) redact(err error) error {
	if s.cfg.Password == "" || !strings.Contains(err.Error(), s.cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.cfg.Password, "[redacted]"))
}
