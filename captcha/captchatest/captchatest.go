// Package captchatest answers satupintu's CAPTCHA in tests the way a person
// using a screen reader would: it reads the text question on the page and
// works out the sum. It looks at nothing the page does not show, so it
// works against any store and any node, and production code keeps no back
// door for tests.
package captchatest

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"satupintu/captcha"
	"satupintu/templates"
)

var (
	idField    = regexp.MustCompile(`name="captcha_id" value="([^"]*)"`)
	kindField  = regexp.MustCompile(`name="captcha_kind" value="([^"]*)"`)
	labelField = regexp.MustCompile(`<label for="captcha_answer">([^<]*)</label>`)
)

// Has reports whether page carries a challenge.
func Has(page string) bool { return idField.MatchString(page) }

// Kind returns the kind of the challenge on page, "" if there is none.
func Kind(page string) captcha.Kind {
	m := kindField.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return captcha.Kind(m[1])
}

// ID returns the id of the challenge on page, "" if there is none.
func ID(page string) string {
	m := idField.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Answer returns the answer, in digits, to the text question on page.
func Answer(t testing.TB, page string) string {
	t.Helper()
	n, err := answer(page)
	if err != nil {
		t.Fatalf("captchatest: %v\n%s", err, page)
	}
	return strconv.Itoa(n)
}

// Form returns the fields that answer the text question on page: add them
// to the form being posted.
func Form(t testing.TB, page string) url.Values {
	t.Helper()
	return url.Values{
		captcha.FieldID:     {ID(page)},
		captcha.FieldKind:   {string(captcha.Text)},
		captcha.FieldAnswer: {Answer(t, page)},
	}
}

// SolveQuestion answers a question as the page prints it ("What is seven
// plus two?", "Berapa dua belas dikurangi lima?").
func SolveQuestion(q string) (int, error) {
	l := load()
	if l.err != nil {
		return 0, l.err
	}
	q = strings.TrimSpace(q)
	for _, f := range l.forms {
		m := f.re.FindStringSubmatch(q)
		if m == nil {
			continue
		}
		a, okA := l.numbers[strings.ToLower(m[1])]
		b, okB := l.numbers[strings.ToLower(m[2])]
		if !okA || !okB {
			return 0, fmt.Errorf("numbers in %q not in the catalogs", q)
		}
		if f.minus {
			return a - b, nil
		}
		return a + b, nil
	}
	return 0, fmt.Errorf("%q is no question the catalogs know", q)
}

func answer(page string) (int, error) {
	if Kind(page) != captcha.Text {
		return 0, fmt.Errorf("page has no text question (kind %q)", Kind(page))
	}
	m := labelField.FindStringSubmatch(page)
	if m == nil {
		return 0, fmt.Errorf("no captcha label on page")
	}
	return SolveQuestion(html.UnescapeString(m[1]))
}

type questionForm struct {
	re    *regexp.Regexp
	minus bool
}

type lexicon struct {
	forms   []questionForm
	numbers map[string]int
	err     error
}

var (
	once sync.Once
	lex  lexicon
)

// load reads the question forms and number words of every language from
// the catalogs once.
func load() *lexicon {
	once.Do(func() {
		pages, err := templates.New()
		if err != nil {
			lex.err = err
			return
		}
		lex.numbers = map[string]int{}
		for _, lang := range []string{templates.LangID, templates.LangEN} {
			for n := 1; n <= captcha.MaxNumber; n++ {
				lex.numbers[strings.ToLower(pages.T(lang, captcha.NumberKey(n)))] = n
			}
			for _, key := range []string{captcha.QuestionPlus, captcha.QuestionMinus} {
				pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(pages.T(lang, key)), "%s", "(.+?)") + "$"
				lex.forms = append(lex.forms, questionForm{re: regexp.MustCompile(pattern), minus: key == captcha.QuestionMinus})
			}
		}
	})
	return &lex
}
