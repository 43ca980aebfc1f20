package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"satupintu/jobs/jobstest"
	"satupintu/mail"
	"satupintu/storage/storagetest"
	"satupintu/web"
)

// accessLogServer is the server with cfg, logging JSON to logs.
func accessLogServer(t *testing.T, cfg Config, logs io.Writer) *httptest.Server {
	t.Helper()
	eph, dur := storagetest.Embedded(t, time.Now)
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	mailer, err := mail.NewFolder(t.TempDir(), "satupintu@localhost", logger)
	if err != nil {
		t.Fatal(err)
	}
	handler, _, err := newServer(t.Context(), deps{cfg: cfg, durable: dur, ephemeral: eph, logger: logger,
		now: time.Now, hashParams: cheapHash, outbox: jobstest.Start(t, dur, mailer)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func TestAccessLogIsWiredAndSwitchable(t *testing.T) {
	var logs lockedBuffer
	srv := accessLogServer(t, defaultConfig(), &logs)
	for _, path := range []string{"/track?service_number=RAHASIA-123", "/healthz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if path == "/healthz" {
			continue
		}
		id := resp.Header.Get(web.RequestIDHeader)
		out := logs.tail(1 << 20)
		var line string
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, id) {
				line = l
			}
		}
		for _, want := range []string{`"method":"GET"`, `"route":"/track"`, `"path":"/track"`, `"status":200`, `"duration_ms":`,
			`"bytes":`, `"request_id":"` + id + `"`, `"remote_addr":"127.0.0.1"`} {
			if !strings.Contains(line, want) {
				t.Errorf("access log line lacks %s:\n%s", want, out)
			}
		}
	}
	out := logs.tail(1 << 20)
	if strings.Contains(out, "RAHASIA-123") {
		t.Errorf("the query string reached the log:\n%s", out)
	}
	if strings.Contains(out, `"path":"/healthz"`) {
		t.Errorf("a health probe was logged:\n%s", out)
	}

	cfg := defaultConfig()
	cfg.AccessLog = false
	var quiet lockedBuffer
	srv = accessLogServer(t, cfg, &quiet)
	resp, err := http.Get(srv.URL + "/track")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(quiet.tail(1<<20), `"msg":"request"`) {
		t.Errorf("SATUPINTU_ACCESS_LOG=false still logs requests:\n%s", quiet.tail(1<<20))
	}
}

func TestAccessLogConfig(t *testing.T) {
	for env, want := range map[string]bool{"": true, "false": false, "true": true} {
		cfg, err := loadConfig(newFlagSet("serve"), nil, func(k string) string {
			if k == "SATUPINTU_ACCESS_LOG" {
				return env
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.AccessLog != want {
			t.Errorf("SATUPINTU_ACCESS_LOG=%q: AccessLog %v, want %v", env, cfg.AccessLog, want)
		}
	}
}
