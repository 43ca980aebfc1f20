package templates

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The operators' settings render as text: markup in them is escaped, a
// link may not run script, and the banner shows only when there is one.
func TestSiteRendersEscaped(t *testing.T) {
	p := newPages(t)
	site := &Site{
		Name: `Satu <b>Pintu</b>`, Email: "bantuan@insw.go.id", Hours: `24 jam "selalu"`,
		FAQ:    []FAQ{{Question: "<script>alert(1)</script>", Answer: "baris satu\nbaris dua"}},
		Links:  []Link{{Title: "Video", URL: "javascript:alert(1)", Kind: "video"}},
		Banner: `<img src=x onerror=alert(1)>`,
	}
	render := func(page string, data any, site *Site) string {
		rec := httptest.NewRecorder()
		if err := p.Render(rec, 200, page, View{Lang: LangEN, Self: "/" + page, Data: data, Site: site}); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	body := render("contact", map[string]any{"SignedIn": false}, site) + render("help", map[string]any{"SignedIn": false}, site)
	for _, want := range []string{"Satu &lt;b&gt;Pintu&lt;/b&gt;", `class="banner"`, "&lt;img src=x onerror=alert(1)&gt;",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "24 jam &#34;selalu&#34;", `href="mailto:bantuan@insw.go.id"`, `href="#ZgotmplZ"`} {
		if !strings.Contains(body, want) {
			t.Errorf("pages lack %q", want)
		}
	}
	for _, bad := range []string{"<b>Pintu", "<img src=x", "<script>alert", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("pages carry %q unescaped", bad)
		}
	}
	// No phone or address: their rows are left out, not shown empty.
	if strings.Contains(body, "Telephone") || strings.Contains(body, "Address") {
		t.Error("empty contact lines are shown")
	}
	site.Banner = ""
	if body := render("contact", map[string]any{"SignedIn": false}, site); strings.Contains(body, `class="banner"`) {
		t.Error("banner shown without text")
	}
}
