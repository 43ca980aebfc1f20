package captcha

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"satupintu/storage/conformance"
	"strconv"
	"strings"
	"testing"
	"time"

	"satupintu/storage/memory"
	"satupintu/templates"
)

func newService(t *testing.T) (*Service, *memory.Store, *conformance.Clock) {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	return &Service{Store: st, Messages: pages.Catalog()}, st, clk
}

// imageCode reads the code behind an image challenge the way the image
// handler does (which uses the image up).
func imageCode(t *testing.T, st *memory.Store, id string) string {
	t.Helper()
	b, err := st.TakeOnce(t.Context(), imageKeyPrefix+id)
	if err != nil {
		t.Fatalf("no image code for %s: %v", id, err)
	}
	return string(b)
}

// textAnswer computes the answer to a text challenge from its message keys.
func textAnswer(t *testing.T, c *Challenge) int {
	t.Helper()
	num := func(key string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(key, "protection.number."))
		if err != nil {
			t.Fatalf("bad number key %q", key)
		}
		return n
	}
	if c.Question == QuestionMinus {
		return num(c.A) - num(c.B)
	}
	return num(c.A) + num(c.B)
}

func TestImageIsAPNGOfTheStatedSize(t *testing.T) {
	for _, code := range []string{"ACDEF", "HJKMNP", "RTUWXY", "34679A"} {
		b, err := Render(code)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", code, err)
		}
		if got := img.Bounds().Size(); got.X != Width || got.Y != Height {
			t.Errorf("%s: size %v, want %dx%d", code, got, Width, Height)
		}
		if len(b) > 16<<10 {
			t.Errorf("%s: %d bytes; keep the image small", code, len(b))
		}
	}
}

func TestImagesDifferEachTime(t *testing.T) {
	a, _ := Render("ACDEF")
	b, _ := Render("ACDEF")
	if bytes.Equal(a, b) {
		t.Error("two drawings of one code are identical: the distortion is not random")
	}
}

func TestAlphabetHasNoLookAlikes(t *testing.T) {
	for _, c := range "0O1Il" {
		if strings.ContainsRune(alphabet, c) {
			t.Errorf("alphabet contains %q", c)
		}
	}
	for i := range len(alphabet) {
		g, ok := glyphs[alphabet[i]]
		if !ok || len(g) != glyphW*glyphH {
			t.Errorf("no 5x7 glyph for %q", alphabet[i])
		}
	}
	seen := map[byte]bool{}
	for range 200 {
		code := newCode(6)
		for i := range len(code) {
			if !strings.ContainsRune(alphabet, rune(code[i])) {
				t.Fatalf("code %q has %q", code, code[i])
			}
			seen[code[i]] = true
		}
	}
	if len(seen) != len(alphabet) {
		t.Errorf("1200 characters used only %d of %d", len(seen), len(alphabet))
	}
}

func TestImageAnswerIsSingleUse(t *testing.T) {
	s, st, _ := newService(t)
	ctx := t.Context()
	c, err := s.New(ctx, Image)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != Image || c.ImageURL != "/captcha/"+c.ID+".png" || c.Width != Width || c.Height != Height {
		t.Fatalf("challenge %+v", c)
	}
	code := imageCode(t, st, c.ID)
	if n := len(code); n < 5 || n > 6 {
		t.Errorf("code %q: want 5 or 6 characters", code)
	}
	// Case and spaces do not matter.
	answer := " " + strings.ToLower(code[:2]) + " " + code[2:] + "\n"
	if ok, err := s.Verify(ctx, c.ID, answer); err != nil || !ok {
		t.Fatalf("right answer refused: ok=%v err=%v", ok, err)
	}
	if ok, _ := s.Verify(ctx, c.ID, code); ok {
		t.Fatal("an answer was accepted twice")
	}
}

func TestWrongAnswerUsesTheChallengeUp(t *testing.T) {
	s, st, _ := newService(t)
	ctx := t.Context()
	c, _ := s.New(ctx, Image)
	code := imageCode(t, st, c.ID)
	if ok, _ := s.Verify(ctx, c.ID, code+"X"); ok {
		t.Fatal("wrong answer accepted")
	}
	if ok, _ := s.Verify(ctx, c.ID, code); ok {
		t.Fatal("right answer accepted after a wrong one: guessing is free")
	}
}

func TestUnknownEmptyAndExpiredAreWrong(t *testing.T) {
	s, st, clk := newService(t)
	ctx := t.Context()
	for _, id := range []string{"", "nope", "../captcha:x", strings.Repeat("a", 65)} {
		if ok, err := s.Verify(ctx, id, "ABCDE"); ok || err != nil {
			t.Errorf("id %q: ok=%v err=%v", id, ok, err)
		}
	}
	c, _ := s.New(ctx, Image)
	imageCode(t, st, c.ID)
	if ok, _ := s.Verify(ctx, c.ID, "   "); ok {
		t.Error("blank answer accepted")
	}

	c, _ = s.New(ctx, Image)
	code := imageCode(t, st, c.ID)
	clk.Advance(DefaultTTL + time.Second)
	if ok, _ := s.Verify(ctx, c.ID, code); ok {
		t.Error("expired challenge accepted")
	}
}

func TestTextQuestionIsAnswerableInDigitsAndWords(t *testing.T) {
	s, _, _ := newService(t)
	ctx := t.Context()
	pages, _ := templates.New()
	for i := range 60 {
		c, err := s.New(ctx, Text)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Text() || c.ImageURL != "" || (c.Question != QuestionPlus && c.Question != QuestionMinus) {
			t.Fatalf("challenge %+v", c)
		}
		n := textAnswer(t, c)
		if n < 1 || n > MaxNumber {
			t.Fatalf("answer %d out of range: %+v", n, c)
		}
		// The question reads as a sentence in both languages.
		for _, lang := range []string{"id", "en"} {
			q := pages.T(lang, c.Question, pages.T(lang, c.A), pages.T(lang, c.B))
			if strings.Contains(q, "protection.") || strings.Contains(q, "%!") {
				t.Fatalf("%s question %q", lang, q)
			}
		}
		answers := []string{strconv.Itoa(n), pages.T("id", NumberKey(n)), strings.ToUpper(pages.T("en", NumberKey(n)))}
		got := answers[i%len(answers)]
		if ok, err := s.Verify(ctx, c.ID, got); err != nil || !ok {
			t.Fatalf("%q refused for %+v", got, c)
		}
	}
	c, _ := s.New(ctx, Text)
	if ok, _ := s.Verify(ctx, c.ID, strconv.Itoa(textAnswer(t, c)+1)); ok {
		t.Error("wrong sum accepted")
	}
}

func TestNewGivesANewChallengeAndDiscardUsesTheOldUp(t *testing.T) {
	s, st, _ := newService(t)
	ctx := t.Context()
	a, _ := s.New(ctx, Image)
	b, _ := s.New(ctx, Image)
	if a.ID == b.ID {
		t.Fatal("two challenges share an id")
	}
	code := imageCode(t, st, a.ID)
	if err := s.Discard(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Verify(ctx, a.ID, code); ok {
		t.Error("discarded challenge still answerable")
	}
}

func TestImageEndpoint(t *testing.T) {
	s, _, _ := newService(t)
	mux := http.NewServeMux()
	s.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := s.New(t.Context(), Image)

	res, err := http.Get(srv.URL + c.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, decode %v", res.StatusCode, err)
	}
	if img.Bounds().Dx() != Width || img.Bounds().Dy() != Height {
		t.Errorf("size %v", img.Bounds())
	}
	for k, want := range map[string]string{"Content-Type": "image/png", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// Served once: a second fetch cannot average the noise away.
	for _, path := range []string{c.ImageURL, "/captcha/" + c.ID, "/captcha/nope.png", "/captcha/" + url.PathEscape("A/../b") + ".png"} {
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

func TestModes(t *testing.T) {
	for _, tt := range []struct {
		in          string
		want        Mode
		risky, safe bool
	}{
		{"", Adaptive, true, false},
		{"adaptive", Adaptive, true, false},
		{" Always ", Always, true, true},
		{"off", Off, false, false},
	} {
		m, err := ParseMode(tt.in)
		if err != nil || m != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v", tt.in, m, err)
		}
		s := Service{Mode: m}
		if s.Required(true) != tt.risky || s.Required(false) != tt.safe {
			t.Errorf("%s: Required(true)=%v Required(false)=%v", m, s.Required(true), s.Required(false))
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("unknown mode accepted")
	}
	if (&Service{}).Required(false) || !(&Service{}).Required(true) {
		t.Error("zero mode is not adaptive")
	}
}

func TestWanted(t *testing.T) {
	for _, tt := range []struct {
		query, form string
		want        Kind
	}{
		{"", "", Image},
		{"captcha=text", "", Text},
		{"", "captcha=text", Text},
		{"", "captcha=image&captcha_kind=text", Image},
		{"", "captcha=new&captcha_kind=text", Text},
		{"", "captcha=new&captcha_kind=image", Image},
		{"", "captcha_kind=text", Text},
	} {
		r := httptest.NewRequest("POST", "/login?"+tt.query, strings.NewReader(tt.form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		if got := Wanted(r); got != tt.want {
			t.Errorf("query %q form %q: %q, want %q", tt.query, tt.form, got, tt.want)
		}
		if Switching(r) != strings.Contains(tt.form, "captcha=") {
			t.Errorf("form %q: Switching = %v", tt.form, Switching(r))
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Dua Belas":              "duabelas",
		"dua-belas":              "duabelas",
		" x7K p ":                "x7kp",
		"١٢":                     "", // only ASCII digits count
		strings.Repeat("a", 100): strings.Repeat("a", maxAnswerLen),
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
