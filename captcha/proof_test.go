package captcha_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"satupintu/captcha"
	"satupintu/captcha/captchatest"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
	"satupintu/templates"
)

// countingStore counts writes, to show which paths write nothing.
type countingStore struct {
	storage.OneTime
	puts int
}

func (c *countingStore) PutOnce(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.puts++
	return c.OneTime.PutOnce(ctx, key, value, ttl)
}

type proofEnv struct {
	t     *testing.T
	s     *captcha.Service
	store *countingStore
	clock *conformance.Clock
}

var testKey = bytes.Repeat([]byte{0x5a}, 32)

func newProofEnv(t *testing.T) *proofEnv {
	t.Helper()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	st := &countingStore{OneTime: memory.New(clk.Now)}
	return &proofEnv{t: t, s: &captcha.Service{Store: st, Key: testKey, Now: clk.Now}, store: st, clock: clk}
}

// challenge issues a proof-of-work challenge for p and decodes it.
func (e *proofEnv) challenge(p captcha.Purpose) captcha.ProofChallenge {
	e.t.Helper()
	c, err := e.s.New(e.t.Context(), p, captcha.Proof)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.Kind != captcha.Proof || c.IsImage() || c.ID != "" {
		e.t.Fatalf("challenge %+v", c)
	}
	var pc captcha.ProofChallenge
	if err := json.Unmarshal([]byte(c.Proof), &pc); err != nil {
		e.t.Fatalf("challenge JSON %q: %v", c.Proof, err)
	}
	return pc
}

func (e *proofEnv) solve(p captcha.Purpose) captcha.Solution {
	e.t.Helper()
	sol, err := captchatest.Solve(e.challenge(p))
	if err != nil {
		e.t.Fatal(err)
	}
	return sol
}

func (e *proofEnv) verify(s *captcha.Service, p captcha.Purpose, proof string) bool {
	e.t.Helper()
	ok, err := s.Verify(e.t.Context(), p, captcha.Answer{Proof: proof})
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	return ok
}

var saltForm = regexp.MustCompile(`^[0-9a-f]{32}\?purpose=(login|register)&expires=(\d+)&$`)

func TestProofChallengeIsSignedBoundAndStoresNothing(t *testing.T) {
	e := newProofEnv(t)
	seen := map[string]bool{}
	for _, p := range []captcha.Purpose{captcha.SignIn, captcha.Registration, captcha.SignIn} {
		c := e.challenge(p)
		if c.Algorithm != "SHA-256" || c.MaxNumber != captcha.DefaultMaxNumber || len(c.Challenge) != 64 || len(c.Signature) != 64 {
			t.Fatalf("challenge %+v", c)
		}
		m := saltForm.FindStringSubmatch(c.Salt)
		if m == nil || m[1] != string(p) {
			t.Fatalf("salt %q: want random?purpose=%s&expires=…&", c.Salt, p)
		}
		if want := e.clock.Now().Add(captcha.DefaultTTL).Unix(); m[2] != strconv.FormatInt(want, 10) {
			t.Errorf("expires %s, want %d (now + TTL)", m[2], want)
		}
		if seen[c.Challenge] || seen[c.Salt] {
			t.Fatal("a challenge or salt repeats")
		}
		seen[c.Challenge], seen[c.Salt] = true, true
	}
	if e.store.puts != 0 {
		t.Errorf("issuing wrote %d values to the store; a challenge is signed, not stored", e.store.puts)
	}
}

func TestProofSolutionIsAcceptedOnceOnEveryNode(t *testing.T) {
	e := newProofEnv(t)
	sol := e.solve(captcha.SignIn)
	if !e.verify(e.s, captcha.SignIn, sol.Encode()) {
		t.Fatal("a right solution was refused")
	}
	if e.verify(e.s, captcha.SignIn, sol.Encode()) {
		t.Fatal("the same solution was accepted twice")
	}
	// Another node: same key, same ephemeral store.
	other := &captcha.Service{Store: e.store, Key: testKey, Now: e.clock.Now}
	if e.verify(other, captcha.SignIn, sol.Encode()) {
		t.Fatal("a solution used on one node was accepted on another")
	}
	if !e.verify(other, captcha.SignIn, e.solve(captcha.SignIn).Encode()) {
		t.Fatal("another node refused a fresh solution of this node's challenge")
	}
	// Just before expiry still good; the record of use lasts that long.
	late := e.solve(captcha.Registration)
	e.clock.Advance(captcha.DefaultTTL - time.Second)
	if !e.verify(e.s, captcha.Registration, late.Encode()) {
		t.Fatal("a solution refused before its challenge expired")
	}
	if e.verify(e.s, captcha.Registration, late.Encode()) {
		t.Fatal("replayed in the last second")
	}
}

func TestProofRefusals(t *testing.T) {
	e := newProofEnv(t)
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	flip := func(h string) string { // change the last hex digit
		last := h[len(h)-1]
		repl := byte('0')
		if last == '0' {
			repl = '1'
		}
		return h[:len(h)-1] + string(repl)
	}
	rehash := func(sol captcha.Solution) captcha.Solution {
		sum := sha256.Sum256([]byte(sol.Salt + strconv.FormatInt(sol.Number, 10)))
		sol.Challenge = hex.EncodeToString(sum[:])
		return sol
	}
	for _, tt := range []struct {
		name    string
		purpose captcha.Purpose
		proof   func() string
	}{
		{"wrong number", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Number++
			return sol.Encode()
		}},
		{"tampered signature", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Signature = flip(sol.Signature)
			return sol.Encode()
		}},
		{"signed with another key", captcha.SignIn, func() string {
			o := &proofEnv{t: t, s: &captcha.Service{Store: e.store, Key: bytes.Repeat([]byte{1}, 32), Now: e.clock.Now}}
			return o.solve(captcha.SignIn).Encode()
		}},
		{"tampered salt", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Salt = flip(sol.Salt[:32]) + sol.Salt[32:]
			return sol.Encode()
		}},
		{"salt moved to another purpose, challenge rehashed", captcha.SignIn, func() string {
			sol := e.solve(captcha.Registration)
			sol.Salt = strings.Replace(sol.Salt, "purpose=register", "purpose=login", 1)
			return rehash(sol).Encode()
		}},
		{"expiry extended, challenge rehashed", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Salt = strings.Replace(sol.Salt, "&expires=1", "&expires=9", 1)
			return rehash(sol).Encode()
		}},
		{"a digit moved from the number into the salt", captcha.SignIn, func() string {
			// salt‖number hashes the same after the move: only the salt's
			// closing "&" and its strict form stop it.
			for {
				sol := e.solve(captcha.SignIn)
				s := strconv.FormatInt(sol.Number, 10)
				if len(s) < 2 || s[1] == '0' {
					continue
				}
				sol.Salt += s[:1]
				sol.Number, _ = strconv.ParseInt(s[1:], 10, 64)
				if sum := sha256.Sum256([]byte(sol.Salt + strconv.FormatInt(sol.Number, 10))); hex.EncodeToString(sum[:]) != sol.Challenge {
					t.Fatal("the splice should hash the same")
				}
				return sol.Encode()
			}
		}},
		{"another form's challenge", captcha.SignIn, func() string { return e.solve(captcha.Registration).Encode() }},
		{"sign-in's challenge on registration", captcha.Registration, func() string { return e.solve(captcha.SignIn).Encode() }},
		{"another algorithm", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Algorithm = "SHA-1"
			return sol.Encode()
		}},
		{"negative number", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Number = -1
			return sol.Encode()
		}},
		{"number as a string", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			return encode(map[string]any{"algorithm": sol.Algorithm, "challenge": sol.Challenge, "number": strconv.FormatInt(sol.Number, 10), "salt": sol.Salt, "signature": sol.Signature})
		}},
		{"upper-case challenge", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Challenge = strings.ToUpper(sol.Challenge)
			return sol.Encode()
		}},
		{"not base64", captcha.SignIn, func() string { return "%%%" }},
		{"not JSON", captcha.SignIn, func() string { return base64.StdEncoding.EncodeToString([]byte("number=1")) }},
		{"too long", captcha.SignIn, func() string {
			sol := e.solve(captcha.SignIn)
			sol.Salt += strings.Repeat(" ", 1024)
			return sol.Encode()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proof := tt.proof()
			before := e.store.puts
			if e.verify(e.s, tt.purpose, proof) {
				t.Fatal("accepted")
			}
			if e.store.puts != before {
				t.Error("a refused solution was written to the store")
			}
		})
	}
}

func TestExpiredProofIsRefused(t *testing.T) {
	e := newProofEnv(t)
	sol := e.solve(captcha.SignIn)
	e.clock.Advance(captcha.DefaultTTL)
	if e.verify(e.s, captcha.SignIn, sol.Encode()) {
		t.Fatal("expired solution accepted")
	}
	// A service with a shorter TTL issues shorter challenges.
	e.s.TTL = time.Minute
	sol = e.solve(captcha.SignIn)
	e.clock.Advance(time.Minute + time.Second)
	if e.verify(e.s, captcha.SignIn, sol.Encode()) {
		t.Fatal("solution accepted after its TTL")
	}
}

func TestDifficultyIsConfigurable(t *testing.T) {
	e := newProofEnv(t)
	e.s.MaxNumber = 5000
	for range 20 {
		c := e.challenge(captcha.SignIn)
		if c.MaxNumber != 5000 {
			t.Fatalf("maxnumber %d, want 5000", c.MaxNumber)
		}
		sol, err := captchatest.Solve(c)
		if err != nil {
			t.Fatal(err) // the number is at most maxnumber
		}
		if !e.verify(e.s, captcha.SignIn, sol.Encode()) {
			t.Fatal("refused")
		}
	}
	for n, ok := range map[int64]bool{0: false, 999: false, 1000: true, captcha.DefaultMaxNumber: true, 20_000_000: true, 20_000_001: false} {
		if captcha.ValidMaxNumber(n) != ok {
			t.Errorf("ValidMaxNumber(%d) = %v", n, !ok)
		}
	}
}

func TestWithoutAKeyEachProcessSignsItsOwn(t *testing.T) {
	e := newProofEnv(t)
	a := &captcha.Service{Store: e.store, Now: e.clock.Now}
	b := &captcha.Service{Store: e.store, Now: e.clock.Now}
	ea, eb := &proofEnv{t: t, s: a}, &proofEnv{t: t, s: b}
	if e.verify(b, captcha.SignIn, ea.solve(captcha.SignIn).Encode()) {
		t.Fatal("a challenge signed with one process's random key passed another")
	}
	if !e.verify(b, captcha.SignIn, eb.solve(captcha.SignIn).Encode()) {
		t.Fatal("a process refused its own challenge")
	}
}

// The challenge survives the page: rendered into the sign-in form, read
// back and solved as captcha.js would, posted, verified.
func TestProofThroughThePage(t *testing.T) {
	e := newProofEnv(t)
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.s.New(t.Context(), captcha.SignIn, captcha.Proof)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := pages.Render(rec, 200, "login", templates.View{Lang: "en", Data: map[string]any{"Action": "/login", "Captcha": c}}); err != nil {
		t.Fatal(err)
	}
	page := rec.Body.String()
	for _, want := range []string{`name="captcha_proof" value=""`, `role="status"`, `data-done="Security check done."`,
		`<script src="/static/captcha.js?v=`, `<noscript><button type="submit" name="captcha" value="image"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if captchatest.Kind(page) != captcha.Proof || !captchatest.Has(page) {
		t.Fatalf("captchatest does not see the challenge:\n%s", page)
	}
	form := captchatest.Form(t, page)
	r := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if !captcha.Answered(r) {
		t.Fatal("the solved form does not count as answered")
	}
	if ok, err := e.s.VerifyForm(r, captcha.SignIn); err != nil || !ok {
		t.Fatalf("the page's challenge, solved, was refused: %v %v", ok, err)
	}
}
