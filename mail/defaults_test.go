package mail

import "testing"

func TestSMTPDefaults(t *testing.T) {
	tests := []struct {
		name     string
		tls      string
		port     int
		wantTLS  string
		wantPort int
	}{
		{"nothing set means starttls on submission", "", 0, TLSStartTLS, 587},
		{"port 465 alone means implicit tls", "", 465, TLSImplicit, 465},
		{"another port alone means starttls", "", 2525, TLSStartTLS, 2525},
		{"implicit tls defaults to 465", TLSImplicit, 0, TLSImplicit, 465},
		{"none defaults to 25", TLSNone, 0, TLSNone, 25},
		{"an explicit choice is kept", TLSStartTLS, 465, TLSStartTLS, 465},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := SMTPConfig{TLS: tc.tls, Port: tc.port}.withDefaults()
			if c.TLS != tc.wantTLS || c.Port != tc.wantPort {
				t.Errorf("got %s on %d, want %s on %d", c.TLS, c.Port, tc.wantTLS, tc.wantPort)
			}
		})
	}
}
