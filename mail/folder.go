package mail

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Folder writes each message as an .eml file instead of sending it, so the
// embedded demo works without a mail server: the log says where the file
// is, and any mail client (or a text editor) opens it.
//
// The files hold live activation links, so the directory is created 0700
// and each file 0600.
type Folder struct {
	dir    string
	from   *netmail.Address
	logger *slog.Logger
	now    func() time.Time
}

var _ Sender = (*Folder)(nil)

// ErrNoMessage is returned by Folder.Last when no message matches.
var ErrNoMessage = errors.New("mail: no message for that recipient")

// NewFolder creates dir if needed and returns a sender writing into it.
// A nil logger discards.
func NewFolder(dir, from string, logger *slog.Logger) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("mail: folder: directory is required")
	}
	f, err := parseFrom(from)
	if err != nil {
		return nil, fmt.Errorf("mail: folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: folder: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Folder{dir: dir, from: f, logger: logger, now: time.Now}, nil
}

// Dir is the directory messages are written to.
func (f *Folder) Dir() string { return f.dir }

// Send writes m to a new file named by UTC time and a random suffix, so
// names sort by time and never collide.
func (f *Folder) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: folder: %w", err)
	}
	now := f.now()
	msg, err := compose(f.from, m, now)
	if err != nil {
		return err
	}
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + rand.Text()[:8] + ".eml"
	path := filepath.Join(f.dir, name)
	// O_EXCL: never write into a file someone placed there first.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("mail: folder: %w", err)
	}
	if _, err := file.Write(msg.raw); err != nil {
		file.Close()
		return fmt.Errorf("mail: folder: write %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("mail: folder: write %s: %w", path, err)
	}
	f.logger.InfoContext(ctx, "mail written", slog.String("path", path), slog.String("to", msg.envTo))
	return nil
}

// Last returns the path of the newest message addressed to to (compared
// case-insensitively by bare address), or ErrNoMessage.
func (f *Folder) Last(to string) (string, error) {
	want, err := netmail.ParseAddress(to)
	if err != nil {
		return "", fmt.Errorf("mail: folder: %w: %v", ErrInvalidMessage, err)
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return "", fmt.Errorf("mail: folder: %w", err)
	}
	// ReadDir sorts by name, and names begin with the time.
	for _, e := range slices.Backward(entries) {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		path := filepath.Join(f.dir, e.Name())
		// A file removed meanwhile or not ours to parse is no answer,
		// not a reason to stop looking.
		if got, err := recipient(path); err == nil && strings.EqualFold(got, want.Address) {
			return path, nil
		}
	}
	return "", ErrNoMessage
}

// recipient reads only the header of an .eml file and returns its To.
func recipient(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	m, err := netmail.ReadMessage(bufio.NewReader(file))
	if err != nil {
		return "", err
	}
	a, err := m.Header.AddressList("To")
	if err != nil || len(a) == 0 {
		return "", fmt.Errorf("no To: %v", err)
	}
	return a[0].Address, nil
}
