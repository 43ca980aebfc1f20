// Package captchatest passes satupintu's security check in tests the way a
// browser does: it reads the proof-of-work challenge on the page and finds
// the number by trying them all, as templates/static/captcha.js does. It
// looks at nothing the page does not show and reimplements the protocol on
// its own, so it works against any store and any node, checks the server
// from outside, and production code keeps no back door for tests.
package captchatest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"satupintu/captcha"
)

var (
	challengeAttr = regexp.MustCompile(`<fieldset class="field captcha" data-challenge="([^"]*)"`)
	idField       = regexp.MustCompile(`name="captcha_id" value="([^"]*)"`)
	fieldset      = regexp.MustCompile(`<fieldset class="field captcha"`)
)

// Has reports whether page carries a challenge of either kind.
func Has(page string) bool { return fieldset.MatchString(page) }

// Kind returns the kind of the challenge on page, "" if there is none.
func Kind(page string) captcha.Kind {
	switch {
	case challengeAttr.MatchString(page):
		return captcha.Proof
	case idField.MatchString(page):
		return captcha.Image
	}
	return ""
}

// ID returns the id of the image challenge on page, "" if there is none.
func ID(page string) string {
	m := idField.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Challenge returns the proof-of-work challenge on page.
func Challenge(t testing.TB, page string) captcha.ProofChallenge {
	t.Helper()
	c, err := challenge(page)
	if err != nil {
		t.Fatalf("captchatest: %v\n%s", err, page)
	}
	return c
}

func challenge(page string) (captcha.ProofChallenge, error) {
	var c captcha.ProofChallenge
	m := challengeAttr.FindStringSubmatch(page)
	if m == nil {
		return c, fmt.Errorf("page has no proof-of-work challenge")
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &c); err != nil {
		return c, fmt.Errorf("challenge on page: %w", err)
	}
	return c, nil
}

// Solve finds the number of c as a browser would, trying 0, 1, 2, … up to
// c.MaxNumber, and returns the solution.
func Solve(c captcha.ProofChallenge) (captcha.Solution, error) {
	if c.Algorithm != captcha.Algorithm {
		return captcha.Solution{}, fmt.Errorf("algorithm %q", c.Algorithm)
	}
	want, err := hex.DecodeString(c.Challenge)
	if err != nil || len(want) != sha256.Size {
		return captcha.Solution{}, fmt.Errorf("challenge %q is not a SHA-256 in hex", c.Challenge)
	}
	var target [sha256.Size]byte
	copy(target[:], want)
	buf := make([]byte, 0, len(c.Salt)+20)
	for n := int64(0); n <= c.MaxNumber; n++ {
		buf = strconv.AppendInt(append(buf[:0], c.Salt...), n, 10)
		if sha256.Sum256(buf) == target {
			return captcha.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature}, nil
		}
	}
	return captcha.Solution{}, fmt.Errorf("no number up to %d solves the challenge", c.MaxNumber)
}

// Proof returns the form field value that solves the proof-of-work
// challenge on page.
func Proof(t testing.TB, page string) string {
	t.Helper()
	sol, err := Solve(Challenge(t, page))
	if err != nil {
		t.Fatalf("captchatest: %v", err)
	}
	return sol.Encode()
}

// Form returns the fields that pass the check on page, solved as a
// browser with JavaScript would: add them to the form being posted.
func Form(t testing.TB, page string) url.Values {
	t.Helper()
	return url.Values{captcha.FieldProof: {Proof(t, page)}}
}
