// Package templates holds everything a user sees: the HTML pages, the
// stylesheet and the message catalogs (Bahasa Indonesia first, English
// second), all embedded in the binary.
//
// Templates are parsed once, at start, into one set per language: the "t"
// function of each set is bound to its language, so rendering costs no
// parsing and no per-request cloning (DESIGN.md performance budget). The
// layout and partials are parsed once per set, not once per page: each
// page's blocks are renamed after the page, so one set holds them all.
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
	"regexp"
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
	// Site is the operators' settings in Lang (web.Renderer fills it);
	// nil renders as an empty Site.
	Site *Site
}

// Pages are the parsed templates and catalogs. Safe for concurrent use.
type Pages struct {
	catalog *Catalog
	sets    map[string]*template.Template // lang → every page, named by page
	names   map[string]bool               // the page names
	static  *staticFiles
	site    siteHolder // see UseSite
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
	p := &Pages{catalog: cat, static: st, sets: map[string]*template.Template{}, names: map[string]bool{}}

	names, err := fs.Glob(files, "html/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: list pages: %w", err)
	}
	layout, err := fs.ReadFile(files, "html/layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: read layout: %w", err)
	}
	// Files named _*.html are partials (blocks several pages include, such
	// as the CAPTCHA), parsed once into each set rather than as pages.
	partials, _ := fs.Glob(files, "html/_*.html")
	pieces, calls := splitLayout(string(layout))
	for _, piece := range pieces {
		if blockRef.MatchString(piece) {
			return nil, fmt.Errorf(`templates: layout: call the page blocks exactly as {{template "title" .}}`)
		}
	}
	for _, lang := range []string{LangID, LangEN} {
		set := template.New("").Funcs(p.funcs(lang))
		if len(partials) > 0 {
			if _, err := set.ParseFS(files, partials...); err != nil {
				return nil, fmt.Errorf("templates: parse partials: %w", err)
			}
		}
		for i, piece := range pieces {
			if _, err := set.New(fmt.Sprintf("layout/%d", i)).Parse(piece); err != nil {
				return nil, fmt.Errorf("templates: parse layout: %w", err)
			}
		}
		for _, file := range names {
			base := path.Base(file)
			if base == "layout.html" || strings.HasPrefix(base, "_") {
				continue
			}
			name := strings.TrimSuffix(base, ".html")
			src, err := fs.ReadFile(files, file)
			if err != nil {
				return nil, fmt.Errorf("templates: read %s: %w", base, err)
			}
			if _, err := set.New(name + "/blocks").Parse(pageBlocks(name, string(src))); err != nil {
				return nil, fmt.Errorf("templates: parse %s: %w", base, err)
			}
			// A page missing a block is a start-up error rather than a
			// blank page at run time.
			for _, block := range pageBlockNames {
				if set.Lookup(name+"/"+block) == nil {
					return nil, fmt.Errorf("templates: %s: missing block %q", base, block)
				}
			}
			if _, err := set.New(name).Parse(layoutFor(name, calls)); err != nil {
				return nil, fmt.Errorf("templates: parse layout for %s: %w", base, err)
			}
			p.names[name] = true
		}
		p.sets[lang] = set
	}
	return p, nil
}

// pageBlockNames are the blocks every page defines and the layout calls.
var pageBlockNames = []string{"title", "content"}

// blockRef finds the actions that define or call a page's own blocks.
var blockRef = regexp.MustCompile(`(\{\{-?\s*(?:define|template|block)\s+)"(title|content)"`)

// pageBlocks renames the page blocks in src after the page: "title"
// becomes "login/title", in the page's definitions and in the layout's
// calls alike, so every page's blocks live in one set.
func pageBlocks(page, src string) string {
	return blockRef.ReplaceAllString(src, `${1}"`+page+`/${2}"`)
}

// layoutCall finds the layout's calls of the page blocks.
var layoutCall = regexp.MustCompile(`\{\{template "(title|content)" \.\}\}`)

// splitLayout cuts the layout at its calls of the page blocks: the pieces
// are parsed once per set, and each page's root template only calls them
// in turn with its own blocks between (layoutFor), so no page carries a
// copy of the layout.
func splitLayout(layout string) (pieces, calls []string) {
	at := 0
	for _, m := range layoutCall.FindAllStringSubmatchIndex(layout, -1) {
		pieces = append(pieces, layout[at:m[0]])
		calls = append(calls, layout[m[2]:m[3]])
		at = m[1]
	}
	return append(pieces, layout[at:]), calls
}

// layoutFor is page's root template: the layout's pieces with the page's
// blocks between them.
func layoutFor(page string, calls []string) string {
	var b strings.Builder
	for i, block := range calls {
		fmt.Fprintf(&b, `{{template "layout/%d" .}}{{template "%s/%s" .}}`, i, page, block)
	}
	fmt.Fprintf(&b, `{{template "layout/%d" .}}`, len(calls))
	return b.String()
}

// Has reports whether a page called name exists, so a package can check its
// pages once at start.
func (p *Pages) Has(name string) bool {
	return p.names[name]
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
	if !p.names[name] {
		return fmt.Errorf("templates: no page %q", name)
	}
	if v.Site == nil {
		v.Site = &Site{}
	}
	var buf bytes.Buffer
	if err := p.sets[v.Lang].ExecuteTemplate(&buf, name, v); err != nil {
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
		// dict passes several values to a partial: dict "k1" v1 "k2" v2.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("templates: dict wants key-value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("templates: dict key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"inc": func(i int) int { return i + 1 },
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
