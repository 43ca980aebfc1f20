package account

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLinkerRefusesAddresses(t *testing.T) {
	strict := &Linker{}
	dev := &Linker{AllowLoopback: true}
	tests := []struct {
		name string
		l    *Linker
		url  string
	}{
		{"cloud metadata", dev, "https://169.254.169.254/latest/meta-data/"},
		{"cloud metadata over http", dev, "http://169.254.169.254/latest/meta-data/"},
		{"private network", dev, "https://10.1.2.3/account-link"},
		{"private network 192.168", dev, "https://192.168.1.10/account-link"},
		{"private network 172.16", dev, "https://172.16.0.5/account-link"},
		{"carrier-grade NAT", dev, "https://100.64.0.1/"},
		{"unspecified", dev, "https://0.0.0.0/"},
		{"ipv6 unique local", dev, "https://[fd00::1]/"},
		{"ipv6 link-local", dev, "https://[fe80::1]/"},
		{"ipv4-mapped private", dev, "https://[::ffff:10.0.0.1]/"},
		{"nat64 of a private address", dev, "https://[64:ff9b::a00:1]/"},
		{"loopback without AllowLoopback", strict, "https://127.0.0.1/"},
		{"loopback name without AllowLoopback", strict, "https://localhost/"},
		{"ipv6 loopback without AllowLoopback", strict, "https://[::1]/"},
		{"plain http to a public host", dev, "http://ebpom.example/link"},
		{"plain http to loopback without AllowLoopback", strict, "http://127.0.0.1:8081/"},
		{"javascript", dev, "javascript:alert(1)"},
		{"file", dev, "file:///etc/passwd"},
		{"gopher", dev, "gopher://127.0.0.1:6379/"},
		{"user information", dev, "https://user:pw@ebpom.example/"},
		{"relative", dev, "/account-link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.Verify(t.Context(), tt.url, "u", "p")
			if !errors.Is(err, ErrLinkAddress) {
				t.Fatalf("Verify(%s) = %v, want ErrLinkAddress", tt.url, err)
			}
		})
	}
}

func TestLinkerChecksTheDialledAddress(t *testing.T) {
	// A canary on loopback: a name that resolves to it must not reach it
	// unless loopback is allowed (the check runs after DNS, at connect).
	var hits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"username":"x"}`))
	}))
	defer canary.Close()
	strict := &Linker{}
	strict.init()
	// Past CheckURL (as a public name would be), straight to the client.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, canary.URL, nil)
	_, err := strict.client.Do(req)
	if !errors.Is(err, ErrLinkAddress) {
		t.Fatalf("dial to loopback: %v, want ErrLinkAddress", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the canary was reached")
	}

	dev := &Linker{AllowLoopback: true}
	name, err := dev.Verify(t.Context(), strings.Replace(canary.URL, "127.0.0.1", "localhost", 1), "u", "p")
	if err != nil || name != "x" || hits.Load() != 1 {
		t.Fatalf("loopback allowed: %q %v (hits %d)", name, err, hits.Load())
	}
}

func TestCheckIP(t *testing.T) {
	l := &Linker{}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700::1111"} {
		if err := l.checkIP(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	for _, s := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254", "::ffff:192.168.0.1", "224.0.0.1", "255.255.255.255", "::"} {
		if err := l.checkIP(netip.MustParseAddr(s)); err == nil {
			t.Errorf("%s allowed", s)
		}
	}
}

func TestLinkerAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    string
		wantErr error
	}{
		{"ok", 200, `{"username":"EBPOM.BUDI","extra":1}`, "EBPOM.BUDI", nil},
		{"ok trims", 200, `{"username":"  budi  "}`, "budi", nil},
		{"unauthorized", 401, ``, "", ErrLinkRejected},
		{"forbidden", 403, `{"error":"locked"}`, "", ErrLinkRejected},
		{"not found", 404, ``, "", ErrLinkUnavailable},
		{"empty username", 200, `{"username":""}`, "", ErrLinkUnavailable},
		{"null username", 200, `{"username":null}`, "", ErrLinkUnavailable},
		{"username not a string", 200, `{"username":42}`, "", ErrLinkUnavailable},
		{"newline in username", 200, `{"username":"a\nb"}`, "", ErrLinkUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			l := &Linker{AllowLoopback: true, Timeout: 30 * time.Second} // generous: CI machines are loaded
			got, err := l.Verify(t.Context(), srv.URL, "u", "p")
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLinkerHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"username":"tls"}`))
	}))
	defer srv.Close()
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	l := &Linker{AllowLoopback: true, TLS: tlsConf}
	if got, err := l.Verify(t.Context(), srv.URL, "u", "p"); err != nil || got != "tls" {
		t.Fatalf("Verify over TLS = %q, %v", got, err)
	}
	// The system roots do not trust the test certificate.
	if _, err := (&Linker{AllowLoopback: true}).Verify(t.Context(), srv.URL, "u", "p"); !errors.Is(err, ErrLinkUnavailable) {
		t.Fatalf("untrusted certificate: %v", err)
	}
}
