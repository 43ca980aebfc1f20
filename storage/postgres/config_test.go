package postgres

import (
	"testing"
	"time"
)

// A down database must fail requests within seconds: pgx alone would wait
// two minutes to connect. An explicit connect_timeout still wins.
func TestConfigConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want time.Duration
	}{
		{"postgres://u@db.example:5432/satupintu", connectTimeout},
		{"postgres://u@db.example:5432/satupintu?connect_timeout=2", 2 * time.Second},
		{"host=db.example user=u dbname=satupintu", connectTimeout},
	} {
		cfg, err := config(tc.url)
		if err != nil {
			t.Fatalf("config(%q): %v", tc.url, err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != tc.want {
			t.Errorf("config(%q).ConnectTimeout = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestStorable(t *testing.T) {
	for s, want := range map[string]bool{"budi": true, "masuk ✓": true, "": true, "a\x00b": false, "\xff": false} {
		if got := storable(s); got != want {
			t.Errorf("storable(%q) = %v, want %v", s, got, want)
		}
	}
}
