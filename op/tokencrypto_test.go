package op

import (
	"strings"
	"testing"

	zop "github.com/zitadel/oidc/v3/pkg/op"
)

func TestOpaqueTokensSealedCompactlyAndOldOnesStillRead(t *testing.T) {
	var key, other [32]byte
	key[0], other[0] = 1, 2
	c := newTokenCrypto(key)
	sealed, err := c.Encrypt("tok-1:user-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "tok-1") || strings.Contains(sealed, "user-1") || strings.Contains(sealed, ".") {
		t.Fatalf("sealed token %q shows its content or is a JWE", sealed)
	}
	if again, _ := c.Encrypt("tok-1:user-1"); again == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, err := c.Decrypt(sealed); err != nil || got != "tok-1:user-1" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	// A token sealed by the JWE crypto used before still reads.
	old, err := zop.NewAES256GCMCrypto(key, "").Encrypt("tok-0:user-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(old); err != nil || got != "tok-0:user-1" {
		t.Errorf("Decrypt of a JWE-sealed token = %q, %v", got, err)
	}
	// Another key, a flipped bit, a cut token: all refused.
	if _, err := newTokenCrypto(other).Decrypt(sealed); err == nil {
		t.Error("a token sealed under another key was opened")
	}
	b := []byte(sealed)
	b[len(b)/2] ^= 1
	if b[len(b)/2] == '-' || b[len(b)/2] == '_' {
		b[len(b)/2] = 'A'
	}
	for _, bad := range []string{string(b), sealed[:20], "", "not a token"} {
		if got, err := c.Decrypt(bad); err == nil {
			t.Errorf("Decrypt(%q) = %q, want an error", bad, got)
		}
	}
}

func TestCodesAreRandom(t *testing.T) {
	var key [32]byte
	c := newTokenCrypto(key)
	seen := map[string]bool{}
	for range 100 {
		code, err := c.Encrypt("request-id") // what zitadel seals into a code
		if err != nil || len(code) != 43 || strings.Contains(code, "request-id") {
			t.Fatalf("code %q, %v: want 43 base64url characters of 256 random bits", code, err)
		}
		if seen[code] {
			t.Fatal("a code repeated")
		}
		seen[code] = true
		if got, err := c.Decrypt(code); err == nil {
			t.Fatalf("a code opened to %q", got)
		}
	}
}
