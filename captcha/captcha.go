// Package captcha is satupintu's self-hosted security check for anonymous
// forms (ASVS 2.4.1 anti-automation). No third-party service: the single
// window may run on a closed network.
//
// The check is a proof of work in the spirit of the open ALTCHA protocol
// (proof.go): the page carries a challenge signed by the server, and the
// browser's JavaScript (templates/static/captcha.js) finds the secret
// number behind it by trying them all, in under a second on a phone
// (DefaultMaxNumber). The person does nothing, so the check is as
// accessible as the form (WCAG 1.1.1): nothing to see, read or hear.
// Without JavaScript the person asks for a drawn image code instead
// (image.go) and types it; no mode requires both (see Mode).
//
// What a check costs a script. A page-reading script cannot skip the work:
// each attempt needs its own solved challenge, and a challenge is good for
// one form, one purpose and one use. It can do the work faster than a
// browser: at DefaultMaxNumber a simple native solver needs about 20 ms of
// one CPU core per attempt (SHA-256 at ~7 million hashes a second), a tuned
// or GPU one much less. So the check does not stop a determined attacker;
// it makes every attempt cost something, where the arithmetic question it
// replaces was answered by a script 1,286 times out of 1,286 for free. The
// limits behind it (the login package's per-account and per-address
// throttle, registration's per-address limit) bound how many attempts
// there are. Raise MaxNumber to raise the price; the phone pays it too.
// The image code, the way in without JavaScript, costs a script a trained
// reader of distorted glyphs; its wrong answers count against the address
// like wrong passwords.
//
// State. Issuing a proof-of-work challenge writes nothing: the challenge
// is signed. A solution, once accepted, is recorded in the ephemeral store
// (one small key) until the challenge expires, so no node takes it twice;
// refused ones write nothing. So the keys a client can add are bounded by
// the work it pays for, MaxNumber/2 hashes each, and live at most TTL. An
// image code is stored when it is asked for and taken on its first
// answer, right or wrong.
package captcha

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"satupintu/quota"
	"satupintu/storage"
)

// Mode says when forms ask for the check (SATUPINTU_CAPTCHA). The check is
// the same in every mode: the proof of work, or the image code for a
// browser without JavaScript. No mode requires the image code on top of the
// proof of work: the server cannot tell a browser without JavaScript from a
// script that claims to be one, so "both" would only shut out people
// (those who cannot see the image, now that no text question is left)
// without costing a script more than the image alone.
type Mode string

const (
	// Off never asks. Registration then relies on its rate limit alone.
	Off Mode = "off"
	// Adaptive asks when the caller sees a risk (the login package: after
	// failed sign-ins for the account or from the address) and always on
	// registration. The zero Mode means Adaptive.
	Adaptive Mode = "adaptive"
	// Always asks on every sign-in and registration.
	Always Mode = "always"
)

// ParseMode parses a configured mode; "" is Adaptive.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return Adaptive, nil
	case Off, Adaptive, Always:
		return m, nil
	}
	return "", fmt.Errorf("captcha mode %q must be off, adaptive or always", s)
}

// Kind is the form of a challenge.
type Kind string

const (
	// Proof is the proof of work the browser does by itself; the default.
	Proof Kind = "proof"
	// Image is a drawn code the person types: the way in without
	// JavaScript.
	Image Kind = "image"
)

// Purpose names the form a challenge is for. It is bound into the
// challenge, so a solution for one form is refused by every other.
type Purpose string

const (
	SignIn       Purpose = "login"
	Registration Purpose = "register"
)

// valid accepts short lower-case words (they go into the salt).
func (p Purpose) valid() bool {
	if p == "" || len(p) > 32 {
		return false
	}
	for _, r := range p {
		if (r < 'a' || r > 'z') && r != '-' {
			return false
		}
	}
	return true
}

// DefaultTTL is how long a challenge can be answered: long enough to fill
// in the form around it (the work is done at once, the password typed
// after), short enough that a stock of solved challenges goes stale.
const DefaultTTL = 10 * time.Minute

// Keys in the ephemeral store.
const (
	answerKeyPrefix = "captcha:"      // + image id: the accepted answer
	imageKeyPrefix  = "captcha-img:"  // + image id: the code, until drawn
	usedKeyPrefix   = "captcha-used:" // + challenge: a solution taken
)

// maxAnswerLen bounds what is compared; codes are a few characters.
const maxAnswerLen = 64

// Service creates, serves and verifies challenges. Set the fields before
// first use; it is then safe for concurrent use.
type Service struct {
	Store storage.OneTime
	// Key signs proof-of-work challenges (HMAC-SHA256, at least 32
	// bytes). Every node must have the same one. Nil: a random key for
	// this process, right for a single node only (a warning is logged).
	Key []byte
	// MaxNumber is the difficulty: the secret number of a challenge is at
	// most this, so the browser tries MaxNumber/2 numbers on average.
	// Zero: DefaultMaxNumber.
	MaxNumber int64
	Mode      Mode          // zero: Adaptive
	TTL       time.Duration // zero: DefaultTTL
	// ImageLimit bounds the image codes stored for one client address
	// (quota.Address of the request's context) and in total; counted in
	// Counters. Over it a form gets a proof-of-work challenge instead,
	// which stores nothing. Nil Counters: no bound (tests).
	ImageLimit quota.Limit
	Counters   quota.Counter
	Now        func() time.Time // nil: time.Now
	Logger     *slog.Logger     // nil: discard

	keyOnce sync.Once
	key     []byte
}

// Challenge is what a form shows. It is the data of the "captcha"
// template.
type Challenge struct {
	Kind Kind
	// Proof is the proof-of-work challenge as JSON for captcha.js
	// (ProofChallenge): Proof kind only.
	Proof string
	// The image code: Image kind only.
	ID       string
	ImageURL string
	Width    int
	Height   int
	// ErrorKey is set by the caller when the previous answer was wrong.
	ErrorKey string
}

// IsImage reports whether c is an image code.
func (c *Challenge) IsImage() bool { return c != nil && c.Kind == Image }

// Answer is what a submitted form carries: a proof-of-work solution, or an
// image challenge's id and the code typed.
type Answer struct {
	Proof string // base64 JSON solution (Solution), from captcha.js
	ID    string
	Code  string
}

// Empty reports whether a carries no answer at all.
func (a Answer) Empty() bool { return a.Proof == "" && a.ID == "" }

func (s *Service) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// signingKey is Key, or a random key made once for this process.
func (s *Service) signingKey() []byte {
	if len(s.Key) > 0 {
		return s.Key
	}
	s.keyOnce.Do(func() {
		s.key = make([]byte, 32)
		rand.Read(s.key) // never fails (crypto/rand documents it)
		s.logger().Warn("captcha: no key configured; using a random one for this process, so other nodes will refuse its challenges")
	})
	return s.key
}

// Required reports whether a form must carry a solved challenge. risky is
// the caller's judgement, used in Adaptive mode: failed sign-ins for the
// login package, always true for registration.
func (s *Service) Required(risky bool) bool {
	switch s.Mode {
	case Off:
		return false
	case Always:
		return true
	}
	return risky
}

// New creates a challenge of kind (Proof unless Image) for the form of
// purpose. A proof-of-work challenge is signed, not stored; an image code
// is stored until answered.
func (s *Service) New(ctx context.Context, purpose Purpose, kind Kind) (*Challenge, error) {
	if !purpose.valid() {
		return nil, fmt.Errorf("captcha: invalid purpose %q", purpose)
	}
	if kind != Image {
		proof, err := s.newProof(purpose)
		if err != nil {
			return nil, err
		}
		return &Challenge{Kind: Proof, Proof: proof}, nil
	}
	if s.Counters != nil {
		err := s.ImageLimit.Take(ctx, s.Counters, quota.Address(ctx))
		if errors.Is(err, quota.ErrExceeded) {
			s.logger().InfoContext(ctx, "captcha: image codes over their limit; proof of work instead", "error", err)
			return s.New(ctx, purpose, Proof)
		}
		if err != nil {
			return nil, fmt.Errorf("captcha: count image codes: %w", err)
		}
	}
	return s.newImage(ctx, purpose)
}

// newImage draws nothing yet: it stores the code for the image handler,
// which draws it once, and the accepted answer for Verify.
func (s *Service) newImage(ctx context.Context, purpose Purpose) (*Challenge, error) {
	c := &Challenge{ID: storage.NewID(), Kind: Image, Width: Width, Height: Height}
	c.ImageURL = "/captcha/" + c.ID + ".png"
	code := newCode(5 + mrand.IntN(2)) // 5 or 6 characters
	if err := s.Store.PutOnce(ctx, imageKeyPrefix+c.ID, []byte(code), s.ttl()); err != nil {
		return nil, fmt.Errorf("captcha: store image code: %w", err)
	}
	// The answer is kept with its purpose, so the code of one form is no
	// answer on another.
	if err := s.Store.PutOnce(ctx, answerKeyPrefix+c.ID, []byte(string(purpose)+":"+normalize(code)), s.ttl()); err != nil {
		return nil, fmt.Errorf("captcha: store answer: %w", err)
	}
	return c, nil
}

// Verify reports whether a solves a challenge made for purpose: a valid
// proof-of-work solution not used before (it is then recorded as used), or
// the right code for an image challenge (which any answer, right or wrong,
// uses up: guessing is not free). Unknown, expired, malformed and other
// purposes' challenges are simply wrong; the error is for the store only.
func (s *Service) Verify(ctx context.Context, purpose Purpose, a Answer) (bool, error) {
	if !purpose.valid() {
		return false, fmt.Errorf("captcha: invalid purpose %q", purpose)
	}
	if a.Proof != "" {
		return s.verifyProof(ctx, purpose, a.Proof)
	}
	return s.verifyImage(ctx, purpose, a.ID, a.Code)
}

func (s *Service) verifyImage(ctx context.Context, purpose Purpose, id, code string) (bool, error) {
	if !validID(id) {
		return false, nil
	}
	b, err := s.Store.TakeOnce(ctx, answerKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("captcha: take answer: %w", err)
	}
	stored, want, ok := strings.Cut(string(b), ":")
	got := normalize(code)
	if !ok || stored != string(purpose) || got == "" {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// Discard uses up image challenge id without an answer, when the person
// asked for another one. A proof-of-work challenge needs no discarding: it
// was never stored.
func (s *Service) Discard(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if _, err := s.Store.TakeOnce(ctx, answerKeyPrefix+id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("captcha: discard: %w", err)
	}
	return nil
}

// normalize folds a typed code to the form codes are compared in: lower
// case ASCII letters and digits only, so " x7K p" and "X7KP" are one
// answer. Case never matters (the image shows capitals, people type
// either).
func normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		}
		if b.Len() >= maxAnswerLen {
			break
		}
	}
	return b.String()
}

// validID accepts what storage.NewID makes (lower case base32), so nothing
// else reaches the store's key space.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
