package templates_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"satupintu/captcha"
	"satupintu/templates"
)

// Files named _*.html are partials: not pages, but blocks every page can
// include. The CAPTCHA is one, on the sign-in and registration forms.
func TestPartialsAreIncludedNotServed(t *testing.T) {
	p, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	if p.Has("_captcha") || p.Has("captcha") {
		t.Error("a partial became a page")
	}
	render := func(lang string, c *captcha.Challenge) string {
		rec := httptest.NewRecorder()
		if err := p.Render(rec, 200, "login", templates.View{Lang: lang, Data: map[string]any{"Action": "/login", "Captcha": c}}); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	if body := render("id", nil); strings.Contains(body, "captcha") {
		t.Errorf("no challenge, yet the page has a CAPTCHA:\n%s", body)
	}
	img := render("en", &captcha.Challenge{ID: "abc", Kind: captcha.Image, ImageURL: "/captcha/abc.png", Width: 280, Height: 90, ErrorKey: "protection.captcha.answer_new"})
	proof := render("id", &captcha.Challenge{Kind: captcha.Proof, Proof: `{"algorithm":"SHA-256","salt":"a?b=c&"}`})
	for body, wants := range map[string][]string{
		img: {`<img class="captcha-image" src="/captcha/abc.png" width="280" height="90" alt="Security code image.`,
			`name="captcha_id" value="abc"`, `name="captcha_kind" value="image"`, `aria-invalid="true"`, `id="captcha-error"`, ">New image</button>"},
		proof: {`data-challenge="{&#34;algorithm&#34;:&#34;SHA-256&#34;,&#34;salt&#34;:&#34;a?b=c&amp;&#34;}"`,
			`name="captcha_proof" value=""`, `role="status"`, `<script src="/static/captcha.js?v=`,
			`<noscript><button type="submit" name="captcha" value="image" class="link" formnovalidate>Pakai kode gambar</button></noscript>`},
	} {
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %s:\n%s", want, body)
			}
		}
	}
	// The switch buttons follow the form's own submit button, so Enter
	// signs in rather than asking for a new image.
	if strings.Index(img, `name="captcha" value="new"`) < strings.Index(img, ">Sign in</button>") {
		t.Error("a CAPTCHA button comes before the sign-in button")
	}
}

// The account menu is one partial (_account_nav.html): no page writes its
// own copy, so a new entry shows on every page that has the menu.
func TestAccountMenuIsOnePartial(t *testing.T) {
	files, err := filepath.Glob("html/*.html")
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if filepath.Base(f) == "_account_nav.html" {
			continue
		}
		if strings.Contains(s, `class="account-nav"`) {
			t.Errorf("%s writes the account menu itself; use {{template \"account_nav\" .}}", f)
		}
		if strings.Contains(s, `{{template "account_nav" .}}`) {
			users++
		}
	}
	if users < 8 {
		t.Errorf("%d pages include the account menu; want every account page", users)
	}
}
