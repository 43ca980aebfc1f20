package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBadFlagsExitTwoWithOneLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--port", "1"}, "flag provided but not defined: -port"},
		{"relative issuer", []string{"--issuer", "localhost:8080"}, `--issuer "localhost:8080"`},
		{"stray argument", []string{"serve"}, `unexpected argument "serve"`},
		{"single-app flag without client id", []string{"--addr", "localhost:9000"}, "--addr needs --client-id"},
		{"client id without secret", []string{"--client-id", "x"}, "needs --client-secret"},
		{"client id and config", []string{"--client-id", "x", "--client-secret", "s", "--config", "f.json"}, "exclude each other"},
		{"bad single-app addr", []string{"--client-id", "x", "--client-secret", "s", "--addr", "9000"}, `addr "9000" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tt.args, func(string) string { return "" }, &stderr)
			if code != 2 {
				t.Errorf("exit = %d, want 2", code)
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("stderr = %q, want one line mentioning %q", out, tt.want)
			}
		})
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"SATUPINTU_ISSUER": "https://sso.example.go.id", "SATUPINTU_DEMO_CLIENT_SECRET": "from-env"}
	cfg, err := parseFlags([]string{"--client-id", "ebpom", "--addr", ":9001"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.issuer != "https://sso.example.go.id" || cfg.single == nil || cfg.single.ClientSecret != "from-env" || cfg.single.Addr != ":9001" {
		t.Errorf("cfg = %+v, single = %+v", cfg, cfg.single)
	}

	cfg, err = parseFlags(nil, func(string) string { return "" })
	if err != nil || cfg.issuer != defaultIssuer || cfg.configPath != "data/demo-clients.json" || cfg.single != nil {
		t.Errorf("defaults: cfg = %+v, err = %v", cfg, err)
	}
}

func TestMissingConfigFileExitsOneWithHint(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--config", t.TempDir() + "/none.json"}, func(string) string { return "" }, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "start satupintu once") {
		t.Errorf("exit = %d, stderr = %q", code, stderr.String())
	}
}
