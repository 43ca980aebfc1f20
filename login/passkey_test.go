package login

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"satupintu/storage"
)

func TestPasskeyAMR(t *testing.T) {
	const (
		up = protocol.FlagUserPresent
		uv = protocol.FlagUserVerified
		be = protocol.FlagBackupEligible
	)
	for _, c := range []struct {
		flags protocol.AuthenticatorFlags
		want  []string
	}{
		// A device-bound key that verified its user: two factors alone.
		{up | uv, []string{"hwk", "user", "pin", "mfa"}},
		// A synced passkey is a key held in software.
		{up | uv | be, []string{"swk", "user", "pin", "mfa"}},
		// Presence alone: one factor, never "mfa".
		{up, []string{"hwk", "user"}},
	} {
		if got := passkeyAMR(c.flags); !slices.Equal(got, c.want) {
			t.Errorf("passkeyAMR(%08b) = %v, want %v", c.flags, got, c.want)
		}
	}
	// As the second step: after the password, or after an upstream sign-in.
	if got, want := stepAMR(mfaStep{}, passkeyFactors(up)...), []string{"pwd", "hwk", "user", "mfa"}; !slices.Equal(got, want) {
		t.Errorf("passkey after the password: %v, want %v", got, want)
	}
	if got, want := stepAMR(mfaStep{FirstAMR: []string{"fed"}}, passkeyFactors(up|be)...), []string{"fed", "swk", "user", "mfa"}; !slices.Equal(got, want) {
		t.Errorf("passkey after an upstream: %v, want %v", got, want)
	}
	// A code (TOTP or recovery: a one-time password either way).
	if got, want := stepAMR(mfaStep{}, storage.AMROTP), []string{"pwd", "otp", "mfa"}; !slices.Equal(got, want) {
		t.Errorf("code after the password: %v, want %v", got, want)
	}
}

func TestPasskeyName(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"  Laptop kantor ", "Laptop kantor", true},
		{"", "", true}, // a default name is given
		{"Ponsel Budi 📱", "Ponsel Budi 📱", true},
		{strings.Repeat("é", maxPasskeyName), strings.Repeat("é", maxPasskeyName), true},
		{strings.Repeat("x", maxPasskeyName+1), "", false},
		{"tab\there", "", false},
		{"evil\u202egnp.exe", "", false}, // a bidi override would disguise the name
		{"bad\xffutf8", "", false},
	} {
		got, ok := passkeyName(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("passkeyName(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
