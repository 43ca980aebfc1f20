// Package captcha is satupintu's self-hosted CAPTCHA: no third-party
// service, because the single window may run on a closed network.
//
// A challenge is either an image of a short code (5 or 6 characters from an
// alphabet without look-alikes, drawn by this package) or, for people who
// cannot see it, a text question in the page's language ("Berapa tujuh
// ditambah dua?"), answered in digits or words. Either way the accepted
// answers live in the ephemeral store under a random id for TTL, and are
// taken on the first verification: an answer is good once, and a wrong one
// uses the challenge up (ASVS 2.4.1 anti-automation, with the login
// package's throttling behind it).
//
// The text question is the accessible alternative (WCAG 1.1.1). It is much
// easier for a program than the image, so it is no stronger than the rate
// limits behind it; the image is the default.
package captcha

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
	"satupintu/templates"
)

// Mode says when forms ask for a challenge (SATUPINTU_CAPTCHA).
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
	Image Kind = "image"
	Text  Kind = "text"
)

// DefaultTTL is how long a challenge can be answered: enough to read and
// type, short enough that a stock of solved challenges goes stale.
const DefaultTTL = 5 * time.Minute

// Keys in the ephemeral store, followed by the challenge id.
const (
	answerKeyPrefix = "captcha:"
	imageKeyPrefix  = "captcha-img:"
)

// maxAnswerLen bounds what is compared; answers are a few characters.
const maxAnswerLen = 64

// Messages are the catalogs; number words in every language are accepted
// as answers to text questions. *templates.Catalog implements it.
type Messages interface {
	T(lang, key string, args ...any) string
}

// Service creates, serves and verifies challenges. Set the fields before
// first use; it is then safe for concurrent use.
type Service struct {
	Store    storage.OneTime
	Messages Messages
	Mode     Mode          // zero: Adaptive
	TTL      time.Duration // zero: DefaultTTL
	Logger   *slog.Logger  // nil: discard
}

// Challenge is what a form shows: the image, or the text question, and the
// hidden id. It is the data of the "captcha" template.
type Challenge struct {
	ID       string
	Kind     Kind
	ImageURL string // Image only
	Width    int
	Height   int
	// Question is the message key of a text question, with its two numbers
	// as message keys in A and B: the page spells them in its language.
	Question string
	A, B     string
	// ErrorKey is set by the caller when the previous answer was wrong.
	ErrorKey string
}

// Text reports whether c is the text question.
func (c *Challenge) Text() bool { return c != nil && c.Kind == Text }

// record is what the store keeps for a challenge: the accepted answers,
// already normalized.
type record struct {
	Answers []string `json:"a"`
}

func (s *Service) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
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

// New creates a challenge of kind (Image unless Text) and stores its
// answers.
func (s *Service) New(ctx context.Context, kind Kind) (*Challenge, error) {
	c := &Challenge{ID: storage.NewID(), Kind: Image}
	var answers []string
	if kind == Text {
		q := newQuestion()
		c.Kind, c.Question, c.A, c.B = Text, q.key, NumberKey(q.a), NumberKey(q.b)
		answers = s.spellings(q.answer)
	} else {
		code := newCode(5 + mrandN(2)) // 5 or 6 characters
		c.ImageURL, c.Width, c.Height = "/captcha/"+c.ID+".png", Width, Height
		answers = []string{normalize(code)}
		// The image is drawn when the browser asks for it, once.
		if err := s.Store.PutOnce(ctx, imageKeyPrefix+c.ID, []byte(code), s.ttl()); err != nil {
			return nil, fmt.Errorf("captcha: store image code: %w", err)
		}
	}
	b, err := json.Marshal(record{Answers: answers})
	if err != nil {
		return nil, fmt.Errorf("captcha: encode answers: %w", err)
	}
	if err := s.Store.PutOnce(ctx, answerKeyPrefix+c.ID, b, s.ttl()); err != nil {
		return nil, fmt.Errorf("captcha: store answers: %w", err)
	}
	return c, nil
}

// Verify reports whether answer solves challenge id. The challenge is used
// up whatever the answer: a second try needs a new challenge. An unknown or
// expired id is simply wrong. The comparison takes the same time whichever
// accepted answer matches, or none.
func (s *Service) Verify(ctx context.Context, id, answer string) (bool, error) {
	if !validID(id) {
		return false, nil
	}
	b, err := s.Store.TakeOnce(ctx, answerKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("captcha: take answers: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return false, fmt.Errorf("captcha: decode answers: %w", err)
	}
	got := []byte(normalize(answer))
	if len(got) == 0 {
		return false, nil
	}
	match := 0
	for _, a := range rec.Answers {
		match |= subtle.ConstantTimeCompare(got, []byte(a))
	}
	return match == 1, nil
}

// Discard uses up challenge id without an answer, when the person asked
// for another one.
func (s *Service) Discard(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if _, err := s.Store.TakeOnce(ctx, answerKeyPrefix+id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("captcha: discard: %w", err)
	}
	return nil
}

// spellings are the accepted answers to a question whose answer is n: the
// digits and the word in every catalog language.
func (s *Service) spellings(n int) []string {
	out := []string{strconv.Itoa(n)}
	for _, lang := range []string{templates.LangID, templates.LangEN} {
		if s.Messages == nil {
			break
		}
		if w := normalize(s.Messages.T(lang, NumberKey(n))); w != "" && w != normalize(NumberKey(n)) {
			out = append(out, w)
		}
	}
	return out
}

// normalize folds an answer to the form answers are compared in: lower
// case ASCII letters and digits only, so "Dua belas", "dua-belas" and
// "duabelas" are one answer, as are "x7k p" and "X7KP". Case never matters
// (the image shows capitals, people type either).
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

// question is a text challenge: a + b or a − b, numbers up to twenty.
type question struct {
	key    string
	a, b   int
	answer int
}

// MaxNumber is the largest number a text question or its answer uses; the
// catalogs spell 1 to MaxNumber.
const MaxNumber = 20

// NumberKey is the message key of the word for n.
func NumberKey(n int) string { return "protection.number." + strconv.Itoa(n) }

// Message keys of the text questions; %s are the two numbers, spelled out.
const (
	QuestionPlus  = "protection.captcha.q_plus"
	QuestionMinus = "protection.captcha.q_minus"
)

// newQuestion draws a question. It needs no secrecy (the page shows it),
// so math/rand serves.
func newQuestion() question {
	if mrandN(2) == 0 {
		a, b := 1+mrandN(10), 1+mrandN(10)
		return question{key: QuestionPlus, a: a, b: b, answer: a + b}
	}
	a := 3 + mrandN(MaxNumber-2) // 3..20
	b := 1 + mrandN(a-1)         // 1..a-1: the answer is at least 1
	return question{key: QuestionMinus, a: a, b: b, answer: a - b}
}

func mrandN(n int) int { return mrand.IntN(n) }
