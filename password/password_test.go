package password

import (
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	long := strings.Repeat("a", 100)
	longOther := long[:79] + "b" + long[80:]
	tests := []struct {
		name, secret, try string
		want              error
	}{
		{"same password matches", "correct horse", "correct horse", nil},
		{"wrong password mismatches", "correct horse", "correct horsf", ErrMismatch},
		{"case is not folded", "Secret", "secret", ErrMismatch},
		{"no truncation at char 80", long, longOther, ErrMismatch},
		{"unicode passwords work", "kata sandi 🔑 rahasia", "kata sandi 🔑 rahasia", nil},
		{"empty try mismatches", "x", "", ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Hash(tc.secret, cheap)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(tc.try, h); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHashesAreSalted(t *testing.T) {
	a, _ := Hash("same", cheap)
	b, _ := Hash("same", cheap)
	if a == b {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestMalformed(t *testing.T) {
	for _, enc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if err := Verify("x", enc); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", enc, err)
		}
	}
}

func TestTooLong(t *testing.T) {
	if _, err := Hash(strings.Repeat("x", MaxLength+1), cheap); err == nil {
		t.Fatal("hashing an over-long password succeeded")
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := Hash("x", cheap)
	if !NeedsRehash(h, OWASP) {
		t.Fatal("cheap hash not flagged for rehash under OWASP params")
	}
	if NeedsRehash(h, cheap) {
		t.Fatal("hash flagged although params equal")
	}
}

func BenchmarkHashOWASP(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("benchmark password", OWASP); err != nil {
			b.Fatal(err)
		}
	}
}

func TestClientSecret(t *testing.T) {
	s := GenerateSecret()
	if len(s) != 43 {
		t.Fatalf("secret length %d, want 43", len(s))
	}
	h := HashSecret(s)
	if err := VerifySecret(s, h); err != nil {
		t.Fatalf("VerifySecret(right) = %v", err)
	}
	if err := VerifySecret(s+"x", h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("VerifySecret(wrong) = %v, want ErrMismatch", err)
	}
	if err := VerifySecret(s, "md5$abc"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("VerifySecret(unknown scheme) = %v, want ErrMalformed", err)
	}
	ah, _ := Hash("chosen", cheap)
	if err := VerifySecret("chosen", ah); err != nil {
		t.Fatalf("argon2id secret rejected: %v", err)
	}
	if GenerateSecret() == s {
		t.Fatal("two generated secrets are equal")
	}
}
