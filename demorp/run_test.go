package demorp

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRunServesAppsUntilCancelled(t *testing.T) {
	op := newDiscoveryServer(t)
	apps := []App{
		{Name: "e-BPOM (demo)", ClientID: "a", ClientSecret: "s", Addr: freeAddr(t)},
		{Name: "Portal INSW (demo)", ClientID: "b", ClientSecret: "s", Addr: freeAddr(t)},
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, op.URL, apps, slog.New(slog.NewTextHandler(t.Output(), nil))) }()

	for _, app := range apps {
		var body string
		for deadline := time.Now().Add(time.Minute); ; { // generous: CI machines are loaded
			resp, err := http.Get("http://" + app.Addr + "/")
			if err == nil {
				body = readBody(t, resp)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("app %s never answered: %v", app.Name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(body, app.Name) || !strings.Contains(body, "http://"+app.Addr+"/callback") {
			t.Errorf("app %s serves the wrong page", app.Name)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunFailsFast(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		apps []App
		want string
	}{
		{"no apps", nil, "no apps"},
		{"invalid app", []App{{Name: "A", ClientID: "a", Addr: "localhost:1"}}, "client_secret is required"},
		{"address in use", []App{{Name: "A", ClientID: "a", ClientSecret: "s", Addr: busy.Addr().String()}}, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), "http://localhost:8080", tt.apps, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
