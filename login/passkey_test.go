package login

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

func TestPasskeyAMR(t *testing.T) {
	const (
		up = protocol.FlagUserPresent
		uv = protocol.FlagUserVerified
		be = protocol.FlagBackupEligible
	)
	for _, c := range []struct {
		flags         protocol.AuthenticatorFlags
		afterPassword bool
		want          []string
	}{
		// A device-bound key that verified its user: two factors alone.
		{up | uv, false, []string{"hwk", "user", "pin", "mfa"}},
		// A synced passkey is a key held in software.
		{up | uv | be, false, []string{"swk", "user", "pin", "mfa"}},
		// Presence alone after the password: the password and a key.
		{up, true, []string{"pwd", "hwk", "user", "mfa"}},
		// Presence alone, no password: one factor, never "mfa".
		{up, false, []string{"hwk", "user"}},
	} {
		if got := passkeyAMR(c.flags, c.afterPassword); !slices.Equal(got, c.want) {
			t.Errorf("passkeyAMR(%08b, %v) = %v, want %v", c.flags, c.afterPassword, got, c.want)
		}
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
