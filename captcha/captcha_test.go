package captcha

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/storage/conformance"
	"satupintu/storage/memory"
)

func newService(t *testing.T) (*Service, *memory.Store, *conformance.Clock) {
	t.Helper()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	return &Service{Store: st, Key: bytes.Repeat([]byte{7}, 32), Now: clk.Now}, st, clk
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

func newImage(t *testing.T, s *Service, p Purpose) *Challenge {
	t.Helper()
	c, err := s.New(t.Context(), p, Image)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
	c := newImage(t, s, SignIn)
	if !c.IsImage() || c.ImageURL != "/captcha/"+c.ID+".png" || c.Width != Width || c.Height != Height || c.Proof != "" {
		t.Fatalf("challenge %+v", c)
	}
	code := imageCode(t, st, c.ID)
	if n := len(code); n < 5 || n > 6 {
		t.Errorf("code %q: want 5 or 6 characters", code)
	}
	// Case and spaces do not matter.
	answer := " " + strings.ToLower(code[:2]) + " " + code[2:] + "\n"
	if ok, err := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: answer}); err != nil || !ok {
		t.Fatalf("right answer refused: ok=%v err=%v", ok, err)
	}
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: code}); ok {
		t.Fatal("an answer was accepted twice")
	}
}

func TestWrongImageAnswerUsesTheChallengeUp(t *testing.T) {
	s, st, _ := newService(t)
	ctx := t.Context()
	c := newImage(t, s, SignIn)
	code := imageCode(t, st, c.ID)
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: code + "X"}); ok {
		t.Fatal("wrong answer accepted")
	}
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: code}); ok {
		t.Fatal("right answer accepted after a wrong one: guessing is free")
	}
}

func TestImageCodeOfOneFormIsNoAnswerOnAnother(t *testing.T) {
	s, st, _ := newService(t)
	c := newImage(t, s, Registration)
	code := imageCode(t, st, c.ID)
	if ok, err := s.Verify(t.Context(), SignIn, Answer{ID: c.ID, Code: code}); ok || err != nil {
		t.Fatalf("registration's image code passed the sign-in form: ok=%v err=%v", ok, err)
	}
}

func TestUnknownEmptyAndExpiredImagesAreWrong(t *testing.T) {
	s, st, clk := newService(t)
	ctx := t.Context()
	for _, id := range []string{"", "nope", "../captcha:x", strings.Repeat("a", 65)} {
		if ok, err := s.Verify(ctx, SignIn, Answer{ID: id, Code: "ABCDE"}); ok || err != nil {
			t.Errorf("id %q: ok=%v err=%v", id, ok, err)
		}
	}
	c := newImage(t, s, SignIn)
	imageCode(t, st, c.ID)
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: "   "}); ok {
		t.Error("blank answer accepted")
	}

	c = newImage(t, s, SignIn)
	code := imageCode(t, st, c.ID)
	clk.Advance(DefaultTTL + time.Second)
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: c.ID, Code: code}); ok {
		t.Error("expired challenge accepted")
	}
}

func TestDiscardUsesTheImageUp(t *testing.T) {
	s, st, _ := newService(t)
	ctx := t.Context()
	a, b := newImage(t, s, SignIn), newImage(t, s, SignIn)
	if a.ID == b.ID {
		t.Fatal("two challenges share an id")
	}
	code := imageCode(t, st, a.ID)
	if err := s.Discard(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Verify(ctx, SignIn, Answer{ID: a.ID, Code: code}); ok {
		t.Error("discarded challenge still answerable")
	}
}

func TestPurposeMustBeAWord(t *testing.T) {
	s, _, _ := newService(t)
	for _, p := range []Purpose{"", "Login", "log in", "login&expires=9", Purpose(strings.Repeat("a", 33))} {
		if _, err := s.New(t.Context(), p, Proof); err == nil {
			t.Errorf("New accepted purpose %q", p)
		}
		if _, err := s.Verify(t.Context(), p, Answer{Proof: "x"}); err == nil {
			t.Errorf("Verify accepted purpose %q", p)
		}
	}
}

func TestImageEndpoint(t *testing.T) {
	s, _, _ := newService(t)
	mux := http.NewServeMux()
	s.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newImage(t, s, SignIn)

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
		{"", "", Proof},
		{"captcha=image", "", Image},
		{"", "captcha=image", Image},
		{"", "captcha=new&captcha_kind=image", Image},
		{"", "captcha_kind=image", Image}, // a wrong code: another image
		{"captcha=text", "", Proof},       // the old text question is gone
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

func TestFormAnswer(t *testing.T) {
	for _, tt := range []struct {
		form     string
		answered bool
	}{
		{"", false},
		{"captcha_answer=ABCDE", false}, // a code without its challenge
		{"captcha_proof=eyJ9", true},
		{"captcha_id=abc&captcha_answer=", true},
	} {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(tt.form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		if Answered(r) != tt.answered {
			t.Errorf("form %q: Answered = %v", tt.form, Answered(r))
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		" x7K p ":                "x7kp",
		"X7-KP":                  "x7kp",
		"١٢":                     "", // only ASCII digits count
		strings.Repeat("a", 100): strings.Repeat("a", maxAnswerLen),
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
