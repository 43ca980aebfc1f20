package main

import (
	"flag"
	"strings"
	"testing"

	"satupintu/captcha"
)

func TestCaptchaConfig(t *testing.T) {
	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want captcha.Mode
	}{
		{"adaptive by default", nil, nil, captcha.Adaptive},
		{"from the environment", nil, map[string]string{"SATUPINTU_CAPTCHA": "always"}, captcha.Always},
		{"the flag wins", []string{"--captcha", "OFF"}, map[string]string{"SATUPINTU_CAPTCHA": "always"}, captcha.Off},
	} {
		cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), tt.args, envOf(tt.env))
		if err != nil || cfg.Captcha != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, cfg.Captcha, err, tt.want)
		}
	}
	_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, envOf(map[string]string{"SATUPINTU_CAPTCHA": "sometimes"}))
	if err == nil || !strings.Contains(err.Error(), `captcha "sometimes" must be off, adaptive or always`) {
		t.Errorf("bad mode: %v", err)
	}
}
