// Package templates holds everything a user sees: the HTML pages, the
// stylesheet and the message catalogs (Bahasa Indonesia first, English
// second), all embedded in the binary.
//
// Templates are parsed once, at start, into one set per language: the "t"
// function of each set is bound to its language, so rendering costs no
// parsing and no per-request cloning (DESIGN.md performance budget).
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

//go:embed html/*.html messages static/*
var files embed.FS

// Languages the catalogs carry. Indonesian is the default: the service is
// for Indonesian traders; English is for foreign staff and integrators.
const (
	LangID      = "id"
	LangEN      = "en"
	DefaultLang = LangID
)

// Supported reports whether lang is one of the catalog languages.
func Supported(lang string) bool { return lang == LangID || lang == LangEN }

// View is what every page is rendered with.
type View struct {
	Lang      string // "id" or "en"; anything else renders in DefaultLang
	CSRFToken string // goes into forms as the hidden csrf_token field
	// Self is the page's own path and query; the language switcher links to
	// it with lang replaced, so switching keeps e.g. the authRequestID.
	Self string
	Data any // the page's own data
	// Extra is data other features add to the page (web.Renderer.Extras),
	// read by their partials: the upstream sign-in buttons on the sign-in
	// page, for one.
	Extra map[string]any
}

// Pages are the parsed templates and catalogs. Safe for concurrent use.
type Pages struct {
	catalog *Catalog
	pages   map[string]map[string]*template.Template // lang → page name → template
	static  *staticFiles
}

// New parses every page in every language and loads the catalogs. A missing
// block, an unknown message key or catalogs whose keys differ are errors.
func New() (*Pages, error) {
	cat, err := loadCatalog(files)
	if err != nil {
		return nil, err
	}
	if err := checkTemplateKeys(files, cat); err != nil {
		return nil, err
	}
	st, err := newStaticFiles(files)
	if err != nil {
		return nil, err
	}
	p := &Pages{catalog: cat, static: st, pages: map[string]map[string]*template.Template{}}

	names, err := fs.Glob(files, "html/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: list pages: %w", err)
	}
	// Files named _*.html are partials (blocks several pages include, such
	// as the CAPTCHA), parsed with the layout rather than as pages.
	shared := []string{"html/layout.html"}
	if partials, err := fs.Glob(files, "html/_*.html"); err == nil {
		shared = append(shared, partials...)
	}
	for _, lang := range []string{LangID, LangEN} {
		layout, err := template.New("layout.html").Funcs(p.funcs(lang)).ParseFS(files, shared...)
		if err != nil {
			return nil, fmt.Errorf("templates: parse layout: %w", err)
		}
		p.pages[lang] = map[string]*template.Template{}
		for _, file := range names {
			base := path.Base(file)
			if base == "layout.html" || strings.HasPrefix(base, "_") {
				continue
			}
			t, err := layout.Clone()
			if err != nil {
				return nil, fmt.Errorf("templates: clone layout: %w", err)
			}
			if t, err = t.ParseFS(files, file); err != nil {
				return nil, fmt.Errorf("templates: parse %s: %w", base, err)
			}
			// A page missing a block is a start-up error rather than a
			// blank page at run time.
			for _, block := range []string{"title", "content"} {
				if t.Lookup(block) == nil {
					return nil, fmt.Errorf("templates: %s: missing block %q", base, block)
				}
			}
			p.pages[lang][strings.TrimSuffix(base, ".html")] = t
		}
	}
	return p, nil
}

// Has reports whether a page called name exists, so a package can check its
// pages once at start.
func (p *Pages) Has(name string) bool {
	_, ok := p.pages[DefaultLang][name]
	return ok
}

// Catalog returns the message catalogs, for Go code that renders messages.
func (p *Pages) Catalog() *Catalog { return p.catalog }

// T translates key into lang; see Catalog.T.
func (p *Pages) T(lang, key string, args ...any) string { return p.catalog.T(lang, key, args...) }

// Render executes page name into a buffer and only then writes it with
// status, so a template error never leaves a half-written page behind.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, v View) error {
	if !Supported(v.Lang) {
		v.Lang = DefaultLang
	}
	t, ok := p.pages[v.Lang][name]
	if !ok {
		return fmt.Errorf("templates: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err // the client went away; nothing else to do
}

// funcs are the template functions of one language's set.
func (p *Pages) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string { return p.catalog.T(lang, key, args...) },
		// static returns the URL of an asset with its content hash, so the
		// long cache lifetime never serves a stale stylesheet.
		"static": func(name string) (string, error) {
			u, ok := p.static.url(name)
			if !ok {
				return "", fmt.Errorf("templates: no static file %q", name)
			}
			return u, nil
		},
		"langURL": langURL,
	}
}

// langURL returns self with its lang query parameter set to lang. Only a
// relative path is kept: self comes from the request, and the switcher must
// never link off-site.
func langURL(self, lang string) string {
	u, err := url.Parse(self)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	q.Set("lang", lang)
	return (&url.URL{Path: u.Path, RawQuery: q.Encode()}).String()
}
