package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"satupintu/quota"
	"satupintu/registration"
)

// mapEnv serves environment variables from m.
func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLimitsFromEnvironment(t *testing.T) {
	cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{
		"SATUPINTU_LIMIT_AUTHORIZE": "10/1000/20m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := quota.Limit{Name: "authorize", PerAddress: 10, Total: 1000, Window: 20 * time.Minute}
	if cfg.Limits.Authorize != want {
		t.Errorf("Authorize = %+v, want %+v", cfg.Limits.Authorize, want)
	}
	if cfg.Limits.Register != registration.DefaultDraftLimit {
		t.Errorf("Register = %+v, want the default", cfg.Limits.Register)
	}
}

func TestBadLimitsAreReportedTogether(t *testing.T) {
	_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{
		"SATUPINTU_LIMIT_AUTHORIZE": "ten/1000/5m",
		"SATUPINTU_LIMIT_REGISTER":  "1/2/-1m",
	}))
	if err == nil {
		t.Fatal("bad limits accepted")
	}
	for _, want := range []string{"SATUPINTU_LIMIT_AUTHORIZE", "SATUPINTU_LIMIT_REGISTER", "PER_ADDRESS/TOTAL/WINDOW"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestLimitWindowShorterThanTheLifetimeIsRefused(t *testing.T) {
	_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{
		"SATUPINTU_LIMIT_AUTHORIZE": "10/1000/5m",
	}))
	if err == nil || !strings.Contains(err.Error(), "window must be at least 15m") {
		t.Fatalf("a 5m window for 15m requests: err = %v", err)
	}
}

func TestEveryDefaultLimitBoundsSomething(t *testing.T) {
	d := defaultLimits()
	for _, l := range []quota.Limit{d.Authorize, d.Register, d.Logout, d.CaptchaImage} {
		if l.Name == "" || l.PerAddress <= 0 || l.Total <= 0 || l.Window <= 0 {
			t.Errorf("default %+v leaves a bound off", l)
		}
	}
}
