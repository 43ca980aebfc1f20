package totp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"satupintu/storage/conformance"
	"strings"
	"sync"
	"testing"
	"time"

	"satupintu/password"
	"satupintu/storage/memory"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B and RFC 4226 Appendix D.
var rfcSecret = []byte("12345678901234567890")

func TestHOTPVectors(t *testing.T) {
	// RFC 4226 Appendix D.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(rfcSecret, uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
}

func TestTOTPVectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA1 rows. The RFC lists 8 digits; six digits
	// are the same truncated value mod 10^6, i.e. its last six.
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		if got := hotp(rfcSecret, uint64(Step(at)), 8); got != v.code {
			t.Errorf("8 digits at %d = %s, want %s", v.unix, got, v.code)
		}
		if got := Code(rfcSecret, at); got != v.code[2:] {
			t.Errorf("Code at %d = %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestMatchWindow(t *testing.T) {
	secret := NewSecret()
	// The start of a step, so ±30 s lands exactly on the neighbours.
	now := time.Unix(1_740_000_000-1_740_000_000%30, 0)
	cur := Step(now)
	for _, tc := range []struct {
		name   string
		codeAt time.Time
		ok     bool
		step   int64
	}{
		{"current step is accepted", now, true, cur},
		{"last second of the current step is accepted", now.Add(29 * time.Second), true, cur},
		{"previous step is accepted", now.Add(-time.Second), true, cur - 1},
		{"next step is accepted", now.Add(30 * time.Second), true, cur + 1},
		{"two steps back is refused", now.Add(-31 * time.Second), false, 0},
		{"two steps ahead is refused", now.Add(60 * time.Second), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := Match(secret, Code(secret, tc.codeAt), now)
			if ok != tc.ok || (ok && step != tc.step) {
				t.Fatalf("Match = (%d, %v), want (%d, %v)", step, ok, tc.step, tc.ok)
			}
		})
	}
}

func TestMatchInput(t *testing.T) {
	secret := NewSecret()
	now := time.Now()
	code := Code(secret, now)
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"spaces are ignored", code[:3] + " " + code[3:], true},
		{"letters are refused", "12a456", false},
		{"short is refused", code[:5], false},
		{"long is refused", code + "0", false},
		{"empty is refused", "", false},
		{"non-ASCII digits are refused", "١٢٣٤٥٦", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := Match(secret, tc.in, now); ok != tc.ok {
				t.Fatalf("Match(%q) = %v, want %v", tc.in, ok, tc.ok)
			}
		})
	}
	other := NewSecret()
	if _, ok := Match(other, code, now); ok && Code(other, now) != code {
		t.Fatal("another secret's code matched")
	}
}

func TestSecretAndURI(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if len(a) != 20 || bytes.Equal(a, b) {
		t.Fatalf("secrets: %x %x", a, b)
	}
	uri := URI("satupintu", "budi santoso", rfcSecret)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/satupintu:budi santoso" ||
		q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("issuer") != "satupintu" ||
		q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("URI %s", uri)
	}
	if got, want := FormatSecret(rfcSecret), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"; got != want {
		t.Fatalf("FormatSecret = %q, want %q", got, want)
	}
}

func TestVerifierRefusesReplay(t *testing.T) {
	ctx := t.Context()
	clk := conformance.NewClock(time.Unix(1_740_000_000-1_740_000_000%30, 0))
	st := memory.New(clk.Now)
	t.Cleanup(func() { st.Close() })
	v := &Verifier{Used: st, Now: clk.Now}
	secret := NewSecret()

	code := Code(secret, clk.Now())
	if err := v.Verify(ctx, "u1", secret, code); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := v.Verify(ctx, "u1", secret, code); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: %v, want ErrReplayed", err)
	}
	// Still refused in the next step, while the window would accept it.
	clk.Advance(Period)
	if err := v.Verify(ctx, "u1", secret, code); !errors.Is(err, ErrReplayed) {
		t.Fatalf("use in the next step: %v, want ErrReplayed", err)
	}
	// Another user with the same code is a separate record.
	if err := v.Verify(ctx, "u2", secret, code); err != nil {
		t.Fatalf("other user: %v", err)
	}
	if err := v.Verify(ctx, "u1", secret, "000000"); !errors.Is(err, ErrInvalidCode) && Code(secret, clk.Now()) != "000000" {
		t.Fatalf("wrong code: %v", err)
	}
}

func TestVerifierBurnsOlderSteps(t *testing.T) {
	ctx := t.Context()
	clk := conformance.NewClock(time.Unix(1_740_000_000-1_740_000_000%30, 0))
	st := memory.New(clk.Now)
	t.Cleanup(func() { st.Close() })
	v := &Verifier{Used: st, Now: clk.Now}
	secret := NewSecret()

	older := Code(secret, clk.Now().Add(-Period))
	newer := Code(secret, clk.Now())
	if err := v.Verify(ctx, "u1", secret, newer); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, "u1", secret, older); !errors.Is(err, ErrReplayed) {
		t.Fatalf("older code after a newer one: %v, want ErrReplayed", err)
	}
	// The next step's code is new and still works.
	if err := v.Verify(ctx, "u1", secret, Code(secret, clk.Now().Add(Period))); err != nil {
		t.Fatalf("next step: %v", err)
	}
}

func TestVerifierConcurrentUseWinsOnce(t *testing.T) {
	ctx := t.Context()
	clk := conformance.NewClock(time.Unix(1_740_000_000, 0))
	st := memory.New(clk.Now)
	t.Cleanup(func() { st.Close() })
	v := &Verifier{Used: st, Now: clk.Now}
	secret := NewSecret()
	code := Code(secret, clk.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			if v.Verify(ctx, "u1", secret, code) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d requests accepted one code", wins)
	}
}

type failingStore struct{}

func (failingStore) PutOnce(context.Context, string, []byte, time.Duration) error {
	return errors.New("redis down")
}

func TestVerifierFailsClosed(t *testing.T) {
	now := time.Now()
	v := &Verifier{Used: failingStore{}, Now: func() time.Time { return now }}
	secret := NewSecret()
	err := v.Verify(t.Context(), "u1", secret, Code(secret, now))
	if err == nil || errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Verify with a failing store: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	secret := NewSecret()
	sealed, err := Seal(key, secret, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the secret")
	}
	got, err := Open(key, sealed, "user-1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	again, _ := Seal(key, secret, "user-1")
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals are identical: nonce reused")
	}

	for _, tc := range []struct {
		name   string
		key    []byte
		sealed func() []byte
		user   string
	}{
		{"flipped ciphertext bit", key, func() []byte { b := bytes.Clone(sealed); b[len(b)-20] ^= 1; return b }, "user-1"},
		{"flipped tag bit", key, func() []byte { b := bytes.Clone(sealed); b[len(b)-1] ^= 0x80; return b }, "user-1"},
		{"flipped nonce bit", key, func() []byte { b := bytes.Clone(sealed); b[1] ^= 1; return b }, "user-1"},
		{"unknown version", key, func() []byte { b := bytes.Clone(sealed); b[0] = 9; return b }, "user-1"},
		{"truncated", key, func() []byte { return sealed[:20] }, "user-1"},
		{"empty", key, func() []byte { return nil }, "user-1"},
		{"another user's row", key, func() []byte { return sealed }, "user-2"},
		{"another key", bytes.Repeat([]byte{8}, KeySize), func() []byte { return sealed }, "user-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.key, tc.sealed(), tc.user); !errors.Is(err, ErrUnsealable) {
				t.Fatalf("Open = %v, want ErrUnsealable", err)
			}
		})
	}
	if _, err := Seal(key[:16], secret, "u"); err == nil {
		t.Fatal("a 128-bit key was accepted")
	}
}

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes(cheap)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || strings.ContainsAny(c, "ILOU") {
			t.Errorf("code %q", c)
		}
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		if strings.Contains(hashes[i], c) || !strings.HasPrefix(hashes[i], "$argon2id$") {
			t.Errorf("hash %q", hashes[i])
		}
	}
	for i, in := range []string{codes[3], strings.ToLower(codes[3]), strings.ReplaceAll(codes[3], "-", " ")} {
		if got, err := MatchRecoveryCode(in, hashes); err != nil || got != 3 {
			t.Errorf("input %d (%q): MatchRecoveryCode = %d, %v", i, in, got, err)
		}
	}
	if got, err := MatchRecoveryCode("ZZZZZ-ZZZZZ", hashes); got != -1 || err != nil {
		t.Errorf("unknown code: %d, %v", got, err)
	}
	if got, err := MatchRecoveryCode("not a code", hashes); got != -1 || err != nil {
		t.Errorf("malformed input: %d, %v", got, err)
	}
	if got, err := MatchRecoveryCode(codes[0], []string{"garbage"}); got != -1 || err == nil {
		t.Errorf("malformed stored hash: %d, %v", got, err)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcde-fghjk": "ABCDEFGHJK",
		"O0IL1-23456": "0011123456",
		"ABCDE FGHJK": "ABCDEFGHJK",
		"ABCDE-FGHJU": "",
		"ABCDE":       "",
	} {
		got, ok := NormalizeRecoveryCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func ExampleCode() {
	fmt.Println(Code(rfcSecret, time.Unix(59, 0)))
	// Output: 287082
}
