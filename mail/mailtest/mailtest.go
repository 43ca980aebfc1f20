// Package mailtest runs an in-process SMTP server for tests, so code that
// sends mail is tested through its real SMTP path and the test reads the
// message that actually went over the wire.
//
// The server is deliberately small but strict where our sender could go
// wrong: it rejects bare CR or LF and lines over 998 octets in DATA, and
// bounds message size, line length and idle time, so a broken client
// fails a test instead of hanging it.
package mailtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// DefaultMaxMessageBytes bounds one message as received.
	DefaultMaxMessageBytes = 2 << 20
	// maxCommandLine is generous for RFC 5321 §4.5.3.1.4's 512 because an
	// AUTH PLAIN initial response can be longer.
	maxCommandLine = 1000
	// maxTextLine is RFC 5321 §4.5.3.1.6 and RFC 5322 §2.1.1: 1000 octets
	// with the CRLF.
	maxTextLine   = 998
	maxRecipients = 100
	// readTimeout ends a connection whose client went quiet, so a test
	// never waits on a stuck peer for longer than this.
	readTimeout = 10 * time.Second
)

// Received is one message as the server accepted it.
type Received struct {
	From     string      // envelope sender (MAIL FROM)
	To       []string    // envelope recipients (RCPT TO)
	Header   mail.Header // parsed with net/mail
	Subject  string      // Subject with RFC 2047 encoded-words decoded
	Body     string      // the text/plain part, transfer encoding undone, "\n" line ends
	HTML     string      // the text/html part if there is one, decoded likewise
	Raw      []byte      // the message as received, after dot-unstuffing
	TLS      bool        // whether the transaction ran over TLS
	Username string      // the AUTH PLAIN identity, if any
	Err      error       // why Header or Body could not be parsed, if so
}

// Option configures a Server.
type Option func(*config)

type config struct {
	username, password string
	noSTARTTLS         bool
	implicitTLS        bool
	maxMessageBytes    int
}

// WithAuth offers AUTH PLAIN, accepts only these credentials, and requires
// authentication before MAIL.
func WithAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithoutSTARTTLS makes the server neither offer nor accept STARTTLS.
func WithoutSTARTTLS() Option {
	return func(c *config) { c.noSTARTTLS = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte, as on
// port 465 (RFC 8314 §3.3).
func WithImplicitTLS() Option {
	return func(c *config) { c.implicitTLS = true }
}

// WithMaxMessageBytes changes DefaultMaxMessageBytes.
func WithMaxMessageBytes(n int) Option {
	return func(c *config) { c.maxMessageBytes = n }
}

// Server is an SMTP server on 127.0.0.1 that keeps what it receives.
type Server struct {
	cfg  config
	ln   net.Listener
	tls  *tls.Config
	pool *x509.CertPool
	wg   sync.WaitGroup

	mu      sync.Mutex
	msgs    []Received
	taken   []map[string]bool // per message, recipients WaitFor has returned it for
	changed chan struct{}     // closed and replaced on every new message
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewServer starts a server on 127.0.0.1 with a random port and closes it
// when the test ends. By default it offers STARTTLS with a fresh
// self-signed certificate (trust it through CertPool) and no AUTH.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{maxMessageBytes: DefaultMaxMessageBytes}
	for _, o := range opts {
		o(&cfg)
	}
	cert, pool, err := selfSigned()
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{
		cfg:     cfg,
		ln:      ln,
		tls:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		pool:    pool,
		changed: make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	s.wg.Go(s.accept)
	t.Cleanup(s.Close)
	return s
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is "127.0.0.1", the name the certificate is valid for.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// CertPool holds the server's self-signed certificate, for a client's
// tls.Config.RootCAs.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// WaitFor returns the oldest message for envelope recipient to (compared
// case-insensitively) that no earlier WaitFor for that recipient returned,
// waiting up to timeout for it to arrive; it fails the test otherwise.
// Returning each message once per recipient lets a test wait for the
// second mail to an address (a password reset after an activation) without
// racing the first.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration) Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		key := strings.ToLower(to)
		for i, m := range s.msgs {
			if !s.taken[i][key] && hasRecipient(m, to) {
				s.taken[i][key] = true
				s.mu.Unlock()
				if m.Err != nil {
					t.Fatalf("mailtest: message to %s does not parse: %v\n%s", to, m.Err, m.Raw)
				}
				return m
			}
		}
		n, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("mailtest: no new message to %s within %v (%d received in all)", to, timeout, n)
			return Received{}
		}
	}
}

func hasRecipient(m Received, to string) bool {
	for _, r := range m.To {
		if strings.EqualFold(r, to) {
			return true
		}
	}
	return false
}

// Close stops the server and ends open connections. It is safe to call
// more than once and runs on t.Cleanup.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			if s.cfg.implicitTLS {
				tc := tls.Server(c, s.tls)
				c.SetDeadline(time.Now().Add(readTimeout))
				if err := tc.Handshake(); err != nil {
					return
				}
				newSession(s, tc, true).serve()
				return
			}
			newSession(s, c, false).serve()
		})
	}
}

func (s *Server) store(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	s.taken = append(s.taken, map[string]bool{})
	close(s.changed)
	s.changed = make(chan struct{})
}

// session is one SMTP connection (RFC 5321 §4.1).
type session struct {
	s    *Server
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tls  bool

	helo     bool
	username string
	from     *string // non-nil while a transaction is open
	to       []string
}

func newSession(s *Server, c net.Conn, isTLS bool) *session {
	return &session{s: s, conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c), tls: isTLS}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most limit octets before its line end,
// which it strips. Longer lines are consumed and reported. bareLF tells
// that the line ended in LF without CR.
func (ss *session) readLine(limit int) (line string, bareLF bool, err error) {
	if err := ss.conn.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
		return "", false, err
	}
	var buf []byte
	tooLong := false
	for {
		chunk, err := ss.r.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > limit+2 {
				tooLong, buf = true, nil // keep reading to the line end, keep nothing
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return "", false, err
		}
		break
	}
	switch {
	case bytes.HasSuffix(buf, []byte("\r\n")):
		buf = buf[:len(buf)-2]
	case !tooLong:
		buf, bareLF = buf[:len(buf)-1], true
	}
	if tooLong || len(buf) > limit {
		return "", bareLF, errLineTooLong
	}
	return string(buf), bareLF, nil
}

// reply writes a possibly multi-line response (RFC 5321 §4.2.1).
func (ss *session) reply(code int, lines ...string) error {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(ss.w, "%d%s%s\r\n", code, sep, l)
	}
	if err := ss.conn.SetWriteDeadline(time.Now().Add(readTimeout)); err != nil {
		return err
	}
	return ss.w.Flush()
}

func (ss *session) reset() { ss.from, ss.to = nil, nil }

func (ss *session) offersSTARTTLS() bool { return !ss.s.cfg.noSTARTTLS && !ss.tls }

func (ss *session) serve() {
	if ss.reply(220, "127.0.0.1 mailtest ESMTP") != nil {
		return
	}
	for {
		line, _, err := ss.readLine(maxCommandLine)
		if errors.Is(err, errLineTooLong) {
			if ss.reply(500, "5.5.2 line too long") != nil {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		var werr error
		switch strings.ToUpper(verb) {
		case "EHLO":
			ss.helo = true
			ss.reset() // RFC 5321 §4.1.4: EHLO also clears the transaction
			ext := []string{"127.0.0.1 greets " + arg, "SIZE " + strconv.Itoa(ss.s.cfg.maxMessageBytes), "8BITMIME"}
			if ss.offersSTARTTLS() {
				ext = append(ext, "STARTTLS")
			}
			if ss.s.cfg.username != "" {
				ext = append(ext, "AUTH PLAIN")
			}
			werr = ss.reply(250, append(ext, "HELP")...)
		case "HELO":
			ss.helo = true
			ss.reset()
			werr = ss.reply(250, "127.0.0.1 greets "+arg)
		case "STARTTLS":
			if !ss.startTLS() {
				return
			}
		case "AUTH":
			werr = ss.auth(arg)
		case "MAIL":
			werr = ss.mail(arg)
		case "RCPT":
			werr = ss.rcpt(arg)
		case "DATA":
			werr = ss.data(arg)
		case "RSET":
			ss.reset()
			werr = ss.reply(250, "2.0.0 OK")
		case "NOOP":
			werr = ss.reply(250, "2.0.0 OK")
		case "VRFY":
			werr = ss.reply(252, "2.5.0 cannot verify")
		case "QUIT":
			ss.reply(221, "2.0.0 bye")
			return
		default:
			werr = ss.reply(500, "5.5.2 command unrecognized")
		}
		if werr != nil {
			return
		}
	}
}

// startTLS upgrades the connection (RFC 3207) and reports whether the
// session can go on.
func (ss *session) startTLS() bool {
	switch {
	case ss.s.cfg.noSTARTTLS:
		return ss.reply(502, "5.5.1 command not implemented") == nil
	case ss.tls:
		return ss.reply(503, "5.5.1 already using TLS") == nil
	case ss.r.Buffered() > 0:
		// Commands sent before the handshake must not be run as if they
		// had been protected by it (the STARTTLS command injection flaw).
		ss.reply(501, "5.5.4 data after STARTTLS")
		return false
	}
	if ss.reply(220, "2.0.0 ready to start TLS") != nil {
		return false
	}
	tc := tls.Server(ss.conn, ss.s.tls)
	if err := tc.SetDeadline(time.Now().Add(readTimeout)); err != nil {
		return false
	}
	if err := tc.Handshake(); err != nil {
		return false
	}
	// RFC 3207 §4.2: forget everything learned before the handshake.
	*ss = *newSession(ss.s, tc, true)
	return true
}

// auth handles AUTH PLAIN (RFC 4954, RFC 4616).
func (ss *session) auth(arg string) error {
	mech, initial, hasInitial := strings.Cut(arg, " ")
	switch {
	case ss.s.cfg.username == "":
		return ss.reply(502, "5.5.1 AUTH not offered")
	case !ss.helo:
		return ss.reply(503, "5.5.1 EHLO first")
	case ss.username != "":
		return ss.reply(503, "5.5.1 already authenticated")
	case ss.from != nil:
		return ss.reply(503, "5.5.1 AUTH not allowed during a transaction")
	case !strings.EqualFold(mech, "PLAIN"):
		return ss.reply(504, "5.5.4 unrecognized authentication type")
	}
	if !hasInitial {
		if err := ss.reply(334, ""); err != nil {
			return err
		}
		line, _, err := ss.readLine(maxCommandLine)
		if err != nil {
			return err
		}
		initial = line
	}
	if initial == "*" {
		return ss.reply(501, "5.0.0 authentication cancelled")
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		return ss.reply(501, "5.5.2 cannot decode response")
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || (parts[0] != "" && parts[0] != parts[1]) ||
		parts[1] != ss.s.cfg.username || parts[2] != ss.s.cfg.password {
		return ss.reply(535, "5.7.8 authentication credentials invalid")
	}
	ss.username = parts[1]
	return ss.reply(235, "2.7.0 authentication successful")
}

// pathArg parses "FROM:<addr> params" or "TO:<addr> params".
func pathArg(prefix, arg string) (addr, params string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", "", false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", "", false
	}
	return rest[1:end], strings.TrimSpace(rest[end+1:]), true
}

func (ss *session) mail(arg string) error {
	switch {
	case !ss.helo:
		return ss.reply(503, "5.5.1 EHLO first")
	case ss.s.cfg.username != "" && ss.username == "":
		return ss.reply(530, "5.7.0 authentication required")
	case ss.from != nil:
		return ss.reply(503, "5.5.1 nested MAIL")
	}
	addr, params, ok := pathArg("FROM:", arg)
	if !ok {
		return ss.reply(501, "5.5.4 syntax: MAIL FROM:<address>")
	}
	for p := range strings.FieldsSeq(params) {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(k, "SIZE") {
			if n, err := strconv.Atoi(v); err != nil || n > ss.s.cfg.maxMessageBytes {
				return ss.reply(552, "5.3.4 message size exceeds fixed limit")
			}
		}
	}
	ss.from = &addr
	return ss.reply(250, "2.1.0 OK")
}

func (ss *session) rcpt(arg string) error {
	if ss.from == nil {
		return ss.reply(503, "5.5.1 MAIL first")
	}
	addr, _, ok := pathArg("TO:", arg)
	if !ok || addr == "" {
		return ss.reply(501, "5.5.4 syntax: RCPT TO:<address>")
	}
	if len(ss.to) >= maxRecipients {
		return ss.reply(452, "4.5.3 too many recipients")
	}
	ss.to = append(ss.to, addr)
	return ss.reply(250, "2.1.5 OK")
}

// data reads the message up to the lone "." (RFC 5321 §4.1.1.4), undoing
// dot-stuffing (§4.5.2), and stores it if nothing was wrong with it.
func (ss *session) data(arg string) error {
	switch {
	case arg != "":
		return ss.reply(501, "5.5.4 DATA takes no argument")
	case len(ss.to) == 0:
		return ss.reply(503, "5.5.1 RCPT first")
	}
	if err := ss.reply(354, "end data with <CR><LF>.<CR><LF>"); err != nil {
		return err
	}
	var body bytes.Buffer
	var problem string
	tooBig := false
	for {
		line, bareLF, err := ss.readLine(maxTextLine)
		if errors.Is(err, errLineTooLong) {
			problem = "5.5.2 line longer than 998 octets"
			continue
		}
		if err != nil {
			return err
		}
		if (bareLF || strings.ContainsRune(line, '\r')) && problem == "" {
			// Bare CR or LF is how SMTP smuggling starts; our own sender
			// must never produce it.
			problem = "5.5.2 bare CR or LF in message"
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".")
		if body.Len()+len(line)+2 > ss.s.cfg.maxMessageBytes {
			tooBig = true
			continue
		}
		body.WriteString(line)
		body.WriteString("\r\n")
	}
	from, to := *ss.from, ss.to
	ss.reset()
	switch {
	case tooBig:
		return ss.reply(552, "5.3.4 message size exceeds fixed limit")
	case problem != "":
		return ss.reply(550, problem)
	}
	r := parse(body.Bytes())
	r.From, r.To, r.TLS, r.Username = from, to, ss.tls, ss.username
	ss.s.store(r)
	return ss.reply(250, "2.0.0 OK queued")
}

// parse fills the parsed fields of a Received; a failure is kept in Err.
func parse(raw []byte) Received {
	r := Received{Raw: raw}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		r.Err = err
		return r
	}
	r.Header = m.Header
	if r.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		r.Err = fmt.Errorf("subject: %w", err)
		return r
	}
	r.Err = walk(&r, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, 0)
	return r
}

// walk decodes a MIME entity into r.Body or r.HTML, descending into
// multipart entities a few levels deep.
func walk(r *Received, contentType, encoding string, body io.Reader, depth int) error {
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii" // RFC 2045 §5.2
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content-type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth > 4 {
			return errors.New("multipart nested too deeply")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // undoes quoted-printable itself
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := walk(r, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("unknown transfer encoding %q", encoding)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && r.Body == "":
		r.Body = text
	case mediaType == "text/html" && r.HTML == "":
		r.HTML = text
	}
	return nil
}

// selfSigned makes a certificate for 127.0.0.1, ::1 and localhost that is
// its own root, so the pool holding it is all a client needs to trust.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
