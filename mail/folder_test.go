package mail_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"satupintu/mail"
)

func TestFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	var logs bytes.Buffer
	f, err := mail.NewFolder(dir, from, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mail.Message{
		{To: "budi@pt-maju.example", Subject: "Pertama", Text: "satu"},
		{To: "siti@pt-lain.example", Subject: "Untuk Siti", Text: "dua"},
		{To: "Budi <budi@pt-maju.example>", Subject: "Kedua", Text: "tiga\n.\nempat"},
	} {
		if err := f.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode = %v, want 0700", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d files, want 3", len(entries))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.Name(), ".eml") || info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want an .eml file with 0600", e.Name(), info.Mode().Perm())
		}
	}

	path, err := f.Last("BUDI@pt-maju.example")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	m, err := netmail.ReadMessage(file)
	if err != nil {
		t.Fatalf("the .eml does not parse: %v", err)
	}
	if got := m.Header.Get("Subject"); got != "Kedua" {
		t.Errorf("Last returned the message %q, want the newest, Kedua", got)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "tiga\r\n.\r\nempat\r\n" {
		t.Errorf("body = %q", body)
	}

	if _, err := f.Last("nobody@pt-maju.example"); !errors.Is(err, mail.ErrNoMessage) {
		t.Errorf("Last for an unknown recipient = %v, want ErrNoMessage", err)
	}

	for _, want := range []string{`"msg":"mail written"`, `"path":"` + path + `"`, `"to":"budi@pt-maju.example"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestFolderRefusesInvalidMessages(t *testing.T) {
	dir := t.TempDir()
	f, err := mail.NewFolder(dir, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Send(t.Context(), mail.Message{To: "a@b.c\r\nBcc: x@y.z", Subject: "x", Text: "x"})
	if !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("Send = %v, want ErrInvalidMessage", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files written for an invalid message", len(entries))
	}
	if _, err := mail.NewFolder(dir, "not an address", nil); err == nil {
		t.Error("NewFolder accepted a bad From")
	}
}
