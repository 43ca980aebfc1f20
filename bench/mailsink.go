package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"strings"
	"sync"
	"time"
)

// MailSink is the SMTP server the started provider sends its mail to, so
// the registration scenario reads the verification code from the mail as
// a registrant would. It accepts every message over plain SMTP on
// loopback and hands the text of those to an awaited recipient to the
// worker waiting for it; the rest is dropped.
type MailSink struct {
	ln      net.Listener
	mu      sync.Mutex
	waiting map[string]chan string // lower-case recipient → its messages
	wg      sync.WaitGroup
}

// maxSinkMessage bounds one message: the provider's are a few KB.
const maxSinkMessage = 1 << 20

// NewMailSink listens on a free loopback port.
func NewMailSink() (*MailSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: mail sink: %w", err)
	}
	s := &MailSink{ln: ln, waiting: map[string]chan string{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr is the sink's host:port.
func (s *MailSink) Addr() string { return s.ln.Addr().String() }

// Close stops accepting and waits for the open sessions to end.
func (s *MailSink) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// expect starts keeping the messages to addr; forget ends it. Call it
// before the request that sends the mail.
func (s *MailSink) expect(addr string) (messages <-chan string, forget func()) {
	key := strings.ToLower(addr)
	ch := make(chan string, 4)
	s.mu.Lock()
	s.waiting[key] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.waiting, key)
		s.mu.Unlock()
	}
}

func (s *MailSink) deliver(to []string, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, addr := range to {
		if ch, ok := s.waiting[strings.ToLower(addr)]; ok {
			select {
			case ch <- text:
			default: // nobody reads that many: drop
			}
		}
	}
}

func (s *MailSink) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.wg.Go(func() {
			defer c.Close()
			s.session(c)
		})
	}
}

// session speaks the part of SMTP (RFC 5321) the provider's client uses,
// without TLS or authentication (SATUPINTU_SMTP_TLS=none on loopback).
func (s *MailSink) session(c net.Conn) {
	r := bufio.NewReader(io.LimitReader(c, 16*maxSinkMessage))
	reply := func(line string) bool {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := io.WriteString(c, line+"\r\n")
		return err == nil
	}
	if !reply("220 satupintu-bench ESMTP") {
		return
	}
	var to []string
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ok = reply("250-satupintu-bench") && reply("250-8BITMIME") && reply("250 SIZE 1048576")
		case "MAIL":
			to = nil
			ok = reply("250 OK")
		case "RCPT":
			_, a, _ := strings.Cut(arg, ":") // "TO:<addr>"
			a, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimSpace(a), "<"), ">")
			to = append(to, a)
			ok = reply("250 OK")
		case "DATA":
			if !reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			raw, err := readData(r)
			if err != nil {
				reply("552 " + err.Error())
				return
			}
			s.deliver(to, messageText(raw))
			to = nil
			ok = reply("250 OK")
		case "RSET":
			to = nil
			ok = reply("250 OK")
		case "NOOP":
			ok = reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("502 not implemented")
		}
		if !ok {
			return
		}
	}
}

// readData reads a message up to the line ".", undoing dot-stuffing.
func readData(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
		if b.Len() > maxSinkMessage {
			return nil, errors.New("message too large")
		}
	}
}

// messageText is the body of raw with the quoted-printable undone (all of
// the provider's parts are quoted-printable), line ends "\n".
func messageText(raw []byte) string {
	_, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	text, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))) // as much as decodes
	return strings.ReplaceAll(string(text), "\r\n", "\n")
}
