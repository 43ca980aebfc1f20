// Package mail sends the provider's own email (activation and reset links,
// registration news) over SMTP, or into a folder for the embedded demo.
// Handlers do not call it: they queue messages in the outbox (package jobs),
// whose worker sends them here and retries what fails.
//
// Messages are built here rather than by callers so that every one is clean
// RFC 5322 and MIME by construction: From, To and Subject are checked for CR,
// LF and NUL before anything is written (an injection attempt is an error,
// never a silently repaired string; ASVS 1.3.11), addresses must parse with
// net/mail, non-ASCII subjects and names become RFC 2047 encoded-words, and
// bodies are quoted-printable, so no line exceeds the 998 octets of
// RFC 5322 §2.1.1 whatever the text holds.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one outgoing email to one recipient.
type Message struct {
	To      string // "budi@example.co.id" or "Budi Santoso <budi@example.co.id>"
	Subject string
	Text    string // the plain-text body; always sent
	HTML    string // optional; when set the message is multipart/alternative
	// ID, if set, is the left part of the Message-ID: a queue that must
	// send a message again (its node died after the server took it) sends
	// the same Message-ID, by which mail readers recognize the duplicate.
	// ASCII letters, digits, '.' and '-' only, at most 64; empty: random.
	ID string
}

// Sender delivers a message. Consumers depend on this (or their own
// narrower copy of it); cmd/satupintu chooses SMTP or Folder.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage marks a message refused before any delivery was
// attempted: a bad address, a header with a line break, invalid UTF-8.
// Retrying it cannot help, unlike a transport error.
var ErrInvalidMessage = errors.New("mail: invalid message")

// maxHeaderLine is RFC 5322 §2.1.1's hard limit, without the CRLF.
const maxHeaderLine = 998

// composed is a rendered message and the bare addresses for the SMTP
// envelope, which must not carry display names.
type composed struct {
	raw     []byte
	envFrom string
	envTo   string
}

// parseFrom checks a configured From once, at construction.
func parseFrom(from string) (*netmail.Address, error) {
	if err := checkHeaderValue("from", from); err != nil {
		return nil, err
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: from: %v", ErrInvalidMessage, err)
	}
	return a, nil
}

// checkHeaderValue refuses the characters that end a header line. Encoding
// would neutralise them too, but a line break in an address or subject is a
// bug or an attack, and the caller should hear about it.
func checkHeaderValue(field, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%w: %s contains CR, LF or NUL", ErrInvalidMessage, field)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidMessage, field)
	}
	return nil
}

// compose validates m and renders it as an RFC 5322 message from from.
func compose(from *netmail.Address, m Message, now time.Time) (composed, error) {
	if err := checkHeaderValue("to", m.To); err != nil {
		return composed{}, err
	}
	if err := checkHeaderValue("subject", m.Subject); err != nil {
		return composed{}, err
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return composed{}, fmt.Errorf("%w: to: %v", ErrInvalidMessage, err)
	}
	if strings.TrimSpace(m.Subject) == "" {
		return composed{}, fmt.Errorf("%w: subject is empty", ErrInvalidMessage)
	}
	if m.Text == "" {
		return composed{}, fmt.Errorf("%w: text body is empty", ErrInvalidMessage)
	}
	if !validID(m.ID) {
		return composed{}, fmt.Errorf("%w: id is not 1 to 64 letters, digits, '.' or '-'", ErrInvalidMessage)
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return composed{}, fmt.Errorf("%w: body is not valid UTF-8", ErrInvalidMessage)
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", formatAddress(len("From: "), from))
	header("To", formatAddress(len("To: "), to))
	header("Subject", formatText(len("Subject: "), m.Subject))
	header("Date", now.Format(time.RFC1123Z)) // RFC 5322 §3.3 date-time
	// RFC 5322 §3.6.4: globally unique; the random left part needs no
	// state, the right part is a domain we own.
	id := m.ID
	if id == "" {
		id = rand.Text()
	}
	header("Message-ID", "<"+id+"@"+domainOf(from.Address)+">")
	// RFC 3834: an activation mail is machine-generated, so vacation
	// responders must not answer it.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	if err := writeBody(&b, header, m); err != nil {
		return composed{}, fmt.Errorf("mail: render body: %w", err)
	}

	raw := b.Bytes()
	if err := checkHeaderLines(raw); err != nil {
		return composed{}, err
	}
	return composed{raw: raw, envFrom: from.Address, envTo: to.Address}, nil
}

// writeBody writes the content headers and body: one quoted-printable text
// part, or multipart/alternative with the text first (RFC 2046 §5.1.4:
// the last part is the preferred one, so HTML goes last).
func writeBody(b *bytes.Buffer, header func(name, value string), m Message) error {
	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		return writeQP(b, m.Text)
	}
	mw := multipart.NewWriter(b) // random boundary: cannot collide with the text
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return err
		}
		if err := writeQP(w, p.body); err != nil {
			return err
		}
	}
	if err := mw.Close(); err != nil {
		return err
	}
	b.WriteString("\r\n")
	return nil
}

// writeQP encodes s as quoted-printable with CRLF line ends. A lone CR is
// made a line end first so that no bare CR reaches the wire.
func writeQP(w io.Writer, s string) error {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	return qp.Close()
}

// maxEncodedLine is RFC 2047 §2's limit for a header line holding
// encoded-words.
const maxEncodedLine = 76

// needsEncoding reports whether s must be sent as encoded-words: anything
// beyond printable ASCII and tab, or text that a reader would mistake for an
// encoded-word.
func needsEncoding(s string) bool {
	for _, r := range s {
		if (r < ' ' && r != '\t') || r > '~' {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

// formatText renders an unstructured header value such as Subject that
// follows a header name of prefix octets.
func formatText(prefix int, v string) string {
	if needsEncoding(v) {
		return encodeWords(prefix, v)
	}
	return fold(prefix, v)
}

// formatAddress renders a mailbox. An ASCII display name is quoted by
// net/mail; any other becomes encoded-words, since net/mail's own encoding
// does not keep lines within RFC 2047's 76 characters.
func formatAddress(prefix int, a *netmail.Address) string {
	if !needsEncoding(a.Name) {
		return a.String()
	}
	name := encodeWords(prefix, a.Name)
	angle := "<" + a.Address + ">"
	last := name[strings.LastIndexByte(name, '\n')+1:]
	if len(last)+1+len(angle) > maxEncodedLine {
		return name + "\r\n " + angle
	}
	return name + " " + angle
}

// encodeWords renders s as RFC 2047 Q-encoded words, each on its own
// folded line and no line longer than 76 characters. Only the characters
// §5(3) allows in a phrase stay literal, so the result is valid in a
// display name as well as in Subject. Whitespace between encoded-words is
// dropped by decoders (§6.2), so the folds add nothing to the text.
func encodeWords(prefix int, s string) string {
	const open, end = "=?utf-8?q?", "?="
	var out, word strings.Builder
	budget := maxEncodedLine - prefix
	for _, r := range s {
		enc := qEncode(r)
		if word.Len() > 0 && len(open)+word.Len()+len(enc)+len(end) > budget {
			out.WriteString(open + word.String() + end + "\r\n ")
			word.Reset()
			budget = maxEncodedLine - 1 // after the folding space
		}
		word.WriteString(enc)
	}
	out.WriteString(open + word.String() + end)
	return out.String()
}

// qEncode encodes one rune for a Q encoded-word (RFC 2047 §4.2).
func qEncode(r rune) string {
	switch {
	case r == ' ':
		return "_"
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9',
		r == '!', r == '*', r == '+', r == '-', r == '/':
		return string(r)
	}
	var b strings.Builder
	for _, c := range []byte(string(r)) {
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

// fold breaks a plain ASCII header value at spaces so lines stay near the
// 78 characters RFC 5322 §2.1.1 recommends. Each break is a CRLF inserted
// before an existing space, so unfolding (§2.2.3) restores the value.
func fold(prefix int, v string) string {
	var b strings.Builder
	n := prefix
	for i, w := range strings.Split(v, " ") {
		if i > 0 {
			// n > 1 and w != "": never leave a line of only whitespace.
			if n+1+len(w) > 78 && w != "" && n > 1 {
				b.WriteString("\r\n")
				n = 0
			}
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// checkHeaderLines enforces the 998-octet limit on the rendered header
// block; only an unbreakable word (a huge ASCII token or display name) can
// exceed it, and such a message is refused rather than sent broken.
func checkHeaderLines(raw []byte) error {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if len(line) > maxHeaderLine {
			return fmt.Errorf("%w: a header line is longer than %d octets", ErrInvalidMessage, maxHeaderLine)
		}
	}
	return nil
}

// validID reports whether id may be the left part of a Message-ID as
// Message.ID says: a dot-atom-text (RFC 5322 §3.2.3) of a safe subset.
func validID(id string) bool {
	if id == "" {
		return true
	}
	if len(id) > 64 || id[0] == '.' || id[len(id)-1] == '.' || strings.Contains(id, "..") {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// domainOf returns the part after the last @ of a bare address.
func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
