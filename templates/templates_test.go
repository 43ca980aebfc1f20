package templates

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func newPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// readCatalog returns lang's messages as the files hold them: the shared
// messages/<lang>.json merged with every messages/<lang>/<feature>.json.
func readCatalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	feature, err := fs.Glob(files, "messages/"+lang+"/*.json")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, name := range append([]string{"messages/" + lang + ".json"}, feature...) {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return m
}

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	id := slices.Sorted(maps.Keys(readCatalog(t, LangID)))
	en := slices.Sorted(maps.Keys(readCatalog(t, LangEN)))
	if diff := cmp.Diff(id, en); diff != "" {
		t.Errorf("id.json and en.json keys differ (-id +en):\n%s", diff)
	}
}

func TestEveryTemplateKeyExists(t *testing.T) {
	used, err := templateKeys(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 10 {
		t.Fatalf("found only %d keys in templates; is the regexp broken?", len(used))
	}
	for _, lang := range []string{LangID, LangEN} {
		cat := readCatalog(t, lang)
		for key, where := range used {
			if _, ok := cat[key]; !ok {
				t.Errorf("%s.json lacks %q used in %v", lang, key, where)
			}
		}
	}
}

func TestNewRejectsBrokenCatalogsAndTemplates(t *testing.T) {
	cat := func(id, en string) fstest.MapFS {
		return fstest.MapFS{
			"messages/id.json": {Data: []byte(id)},
			"messages/en.json": {Data: []byte(en)},
		}
	}
	if _, err := loadCatalog(cat(`{"a":"x","b":"y"}`, `{"a":"x"}`)); err == nil {
		t.Error("missing key in en was accepted")
	}
	if _, err := loadCatalog(cat(`{"a":"x %s"}`, `{"a":"x"}`)); err == nil {
		t.Error("different fmt verbs were accepted")
	}
	c, err := loadCatalog(cat(`{"a":"x"}`, `{"a":"y"}`))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := fstest.MapFS{"html/p.html": {Data: []byte(`{{t "a"}} {{t "nope"}}`)}}
	if err := checkTemplateKeys(tmpl, c); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown key: err = %v", err)
	}
}

func TestTranslate(t *testing.T) {
	p := newPages(t)
	tests := []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"id", "login.title_client", []any{"e-BPOM (demo)"}, "Masuk ke e-BPOM (demo)"},
		{"en", "login.title_client", []any{"e-BPOM (demo)"}, "Sign in to e-BPOM (demo)"},
		{"fr", "login.submit", nil, "Masuk"}, // unsupported falls back to Indonesian
		{"en", "no.such.key", nil, "no.such.key"},
	}
	for _, tt := range tests {
		if got := p.T(tt.lang, tt.key, tt.args...); got != tt.want {
			t.Errorf("T(%q, %q) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
}

func TestRenderEveryPage(t *testing.T) {
	p := newPages(t)
	data := map[string]any{
		"login":      map[string]any{"Action": "/login", "ClientName": "e-BPOM", "ErrorKey": "login.bad_credentials"},
		"home":       map[string]any{"SignedIn": true, "Name": "Siti"},
		"logout":     map[string]any{"ID": "abc"},
		"logged_out": nil,
		"error":      map[string]any{"MessageKey": "error.generic"},
	}
	for name, d := range data {
		for _, lang := range []string{LangID, LangEN} {
			if !p.Has(name) {
				t.Fatalf("page %q missing", name)
			}
			rec := httptest.NewRecorder()
			err := p.Render(rec, http.StatusTeapot, name, View{Lang: lang, CSRFToken: "tok<en>", Self: "/login?authRequestID=x&lang=id", Data: d})
			if err != nil {
				t.Fatalf("render %s/%s: %v", name, lang, err)
			}
			body := rec.Body.String()
			if rec.Code != http.StatusTeapot {
				t.Errorf("%s: status %d", name, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: content type %q", name, ct)
			}
			for _, want := range []string{`<html lang="` + lang + `">`, `href="/static/style.css?v=`, `href="/login?authRequestID=x&amp;lang=en"`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s/%s: body lacks %q", name, lang, want)
				}
			}
			if strings.Contains(body, "tok<en>") {
				t.Errorf("%s: CSRF token not escaped", name)
			}
		}
	}
	if err := p.Render(httptest.NewRecorder(), 200, "nope", View{}); err == nil {
		t.Error("unknown page rendered")
	}
}

func TestLangURLStaysOnSite(t *testing.T) {
	tests := map[string]string{
		"/login?authRequestID=a b": "/login?authRequestID=a+b&lang=en",
		"//evil.example/x":         "/?lang=en",
		"https://evil.example/":    "/?lang=en",
		"":                         "/?lang=en",
		"/?lang=id":                "/?lang=en",
		"/\\evil.example":          "/%5Cevil.example?lang=en",
	}
	for self, want := range tests {
		if got := langURL(self, "en"); got != want {
			t.Errorf("langURL(%q) = %q, want %q", self, got, want)
		}
	}
}

func TestStaticHandler(t *testing.T) {
	p := newPages(t)
	srv := httptest.NewServer(p.StaticHandler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/static/style.css?v=whatever")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("style.css: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("cache control %q", cc)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/static/style.css", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", res2.StatusCode)
	}

	for _, path := range []string{"/static/", "/static/nope.css", "/static/../messages/id.json", "/static/%2e%2e/html/layout.html"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

// Keys other packages render through web.Error; op's authorize error page
// names these.
func TestKeysUsedByOtherPackages(t *testing.T) {
	p := newPages(t)
	for _, key := range []string{
		"error.generic", "error.csrf", "error.not_found", "error.too_large", "error.busy", "error.bad_request",
		"error.authorize.invalid_request", "error.authorize.expired", "error.authorize.client", "error.authorize.redirect_uri",
	} {
		if !p.Catalog().Has(key) {
			t.Errorf("catalog lacks %q", key)
		}
	}
}

func TestCatalogFilesPerFeature(t *testing.T) {
	fsys := fstest.MapFS{
		"messages/id.json":         {Data: []byte(`{"a":"satu"}`)},
		"messages/en.json":         {Data: []byte(`{"a":"one"}`)},
		"messages/id/feature.json": {Data: []byte(`{"b":"dua"}`)},
		"messages/en/feature.json": {Data: []byte(`{"b":"two"}`)},
	}
	c, err := loadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if c.T("en", "b") != "two" || c.T("id", "a") != "satu" {
		t.Fatalf("merged catalog: %v", c.messages)
	}
	fsys["messages/en/other.json"] = &fstest.MapFile{Data: []byte(`{"a":"again"}`)}
	if _, err := loadCatalog(fsys); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate key across files: %v", err)
	}
}
