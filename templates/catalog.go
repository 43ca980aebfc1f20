package templates

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// Catalog holds the user-facing messages of every language, as flat keys
// ("login.title") to fmt-style strings. It is read-only after loading.
type Catalog struct {
	messages map[string]map[string]string // lang → key → message
}

// T returns the message for key in lang (DefaultLang if lang is not
// supported), formatted with args when there are any. A key missing from the
// catalog renders as itself: visible in review, never a crash. The tests and
// New make sure no shipped key is missing.
func (c *Catalog) T(lang, key string, args ...any) string {
	if !Supported(lang) {
		lang = DefaultLang
	}
	msg, ok := c.messages[lang][key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// Has reports whether key exists (in every language: New checks parity).
func (c *Catalog) Has(key string) bool {
	_, ok := c.messages[DefaultLang][key]
	return ok
}

// Keys returns the keys of lang, sorted.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.messages[lang]))
	for k := range c.messages[lang] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func loadCatalog(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{messages: map[string]map[string]string{}}
	for _, lang := range []string{LangID, LangEN} {
		// messages/<lang>.json holds the shared strings; each feature may
		// keep its own in messages/<lang>/<feature>.json, so features change
		// their texts without touching one another's files.
		files := []string{"messages/" + lang + ".json"}
		more, err := fs.Glob(fsys, "messages/"+lang+"/*.json")
		if err != nil {
			return nil, fmt.Errorf("templates: list catalogs %s: %w", lang, err)
		}
		files = append(files, more...)
		m := map[string]string{}
		for _, file := range files {
			b, err := fs.ReadFile(fsys, file)
			if err != nil {
				return nil, fmt.Errorf("templates: read catalog %s: %w", file, err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("templates: parse catalog %s: %w", file, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("templates: key %q defined twice (again in %s)", k, file)
				}
				m[k] = v
			}
		}
		c.messages[lang] = m
	}
	if err := c.checkParity(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkParity makes sure every language has exactly the same keys and the
// same number of fmt verbs per message, so no page falls back to a raw key
// or prints %!s(MISSING) in one language only.
func (c *Catalog) checkParity() error {
	var problems []string
	base := c.messages[DefaultLang]
	for _, lang := range []string{LangEN} {
		other := c.messages[lang]
		for k, msg := range base {
			o, ok := other[k]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s lacks %q", lang, k))
			case countVerbs(msg) != countVerbs(o):
				problems = append(problems, fmt.Sprintf("%q has different fmt verbs in %s and %s", k, DefaultLang, lang))
			}
		}
		for k := range other {
			if _, ok := base[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s lacks %q", DefaultLang, k))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("templates: catalogs differ: %s", strings.Join(problems, "; "))
	}
	return nil
}

func countVerbs(s string) int {
	return strings.Count(s, "%") - 2*strings.Count(s, "%%")
}

// usedKey finds the literal keys templates pass to t: {{t "login.title"}}.
var usedKey = regexp.MustCompile(`\bt\s+"([^"]+)"`)

// templateKeys returns the message keys used literally in the templates of
// fsys (under html/), so a test or start-up can check they all exist.
func templateKeys(fsys fs.FS) (map[string][]string, error) {
	names, err := fs.Glob(fsys, "html/*.html")
	if err != nil {
		return nil, err
	}
	used := map[string][]string{} // key → files using it
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, m := range usedKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], name)
		}
	}
	return used, nil
}

func checkTemplateKeys(fsys fs.FS, c *Catalog) error {
	used, err := templateKeys(fsys)
	if err != nil {
		return fmt.Errorf("templates: scan keys: %w", err)
	}
	var missing []string
	for k, where := range used {
		if !c.Has(k) {
			missing = append(missing, fmt.Sprintf("%q (%s)", k, strings.Join(where, ", ")))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("templates: unknown message keys: %s", strings.Join(missing, "; "))
	}
	return nil
}
