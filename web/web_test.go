package web

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"

	"satupintu/templates"
)

func newRenderer(t *testing.T, logs io.Writer) *Renderer {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	codec := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	return &Renderer{Pages: pages, CSRF: NewCSRF(codec, false), Logger: slog.New(slog.NewTextHandler(logs, nil))}
}

func TestSecurityHeaders(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, https := range []bool{false, true} {
		rec := httptest.NewRecorder()
		SecurityHeaders(ok, https).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		h := rec.Header()
		want := map[string]string{
			"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("https=%v: %s = %q, want %q", https, k, got, v)
			}
		}
		if strings.Contains(h.Get("Content-Security-Policy"), "form-action") {
			t.Error("CSP has form-action: breaks the redirect to the relying party in Chrome")
		}
		hsts := h.Get("Strict-Transport-Security")
		if https && hsts != "max-age=31536000; includeSubDomains" {
			t.Errorf("https: HSTS = %q", hsts)
		}
		if !https && hsts != "" {
			t.Errorf("http: HSTS sent: %q", hsts)
		}
		if h.Get("Server") != "" {
			t.Errorf("Server header %q", h.Get("Server"))
		}
	}
}

func TestLimitBodyGives413Page(t *testing.T) {
	rn := newRenderer(t, io.Discard)
	h := LimitBody(rn.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}), 100)

	small := httptest.NewRequest("POST", "/", strings.NewReader("a=b"))
	small.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, small)
	if rec.Code != http.StatusNoContent {
		t.Errorf("small body: %d", rec.Code)
	}

	big := httptest.NewRequest("POST", "/", strings.NewReader("a="+strings.Repeat("x", 200)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, big)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d, want 413", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "terlalu besar") {
		t.Errorf("big body: no friendly message:\n%s", rec.Body.String())
	}
}

func TestErrorAdapter(t *testing.T) {
	var logs bytes.Buffer
	rn := newRenderer(t, &logs)
	tests := []struct {
		name       string
		err        error
		lang       string
		wantStatus int
		wantText   string
	}{
		{"typed error shows its message", &Error{Status: 400, MessageKey: "login.expired", Err: errors.New("secret detail")}, "id", 400, "Permintaan masuk sudah kedaluwarsa"},
		{"typed error in english", &Error{Status: 400, MessageKey: "login.expired"}, "en", 400, "This sign-in request has expired"},
		{"wrapped typed error", errors.Join(errors.New("x"), &Error{Status: 404, MessageKey: "error.not_found"}), "id", 404, "Halaman tidak ditemukan"},
		{"plain error is a generic 500", errors.New("secret detail"), "id", 500, "Terjadi kesalahan"},
		{"unknown key falls back to generic", &Error{Status: 400, MessageKey: "no.such"}, "id", 400, "Terjadi kesalahan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x?lang="+tt.lang, nil)
			rn.Handle(func(http.ResponseWriter, *http.Request) error { return tt.err }).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.wantText) {
				t.Errorf("body lacks %q:\n%s", tt.wantText, body)
			}
			if strings.Contains(body, "secret detail") {
				t.Error("error detail rendered to the user")
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			if !strings.Contains(logs.String(), "request failed") {
				t.Errorf("not logged: %q", logs.String())
			}
		})
	}
}

func TestLocale(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		cookie   string
		ui       []string
		accept   string
		want     string
		wantSave bool
	}{
		{name: "default is indonesian", want: "id"},
		{name: "query wins", query: "en", cookie: "id", accept: "id", want: "en", wantSave: true},
		{name: "bad query ignored", query: "xx", cookie: "en", want: "en"},
		{name: "cookie before ui_locales", cookie: "en", ui: []string{"id"}, want: "en"},
		{name: "bad cookie ignored", cookie: "<script>", accept: "en", want: "en"},
		{name: "ui_locales before accept-language", ui: []string{"fr", "en-GB"}, accept: "id", want: "en"},
		{name: "accept-language q order", accept: "fr;q=1, id;q=0.5, en;q=0.8", want: "en"},
		{name: "accept-language old code for indonesian", accept: "in-ID", want: "id"},
		{name: "q=0 means not acceptable", accept: "en;q=0", want: "id"},
		{name: "nothing supported", accept: "fr, de", want: "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/"
			if tt.query != "" {
				target += "?lang=" + url.QueryEscape(tt.query)
			}
			r := httptest.NewRequest("GET", target, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: LangCookie, Value: url.QueryEscape(tt.cookie)})
			}
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			r = WithUILocales(r, tt.ui)
			if got := Locale(r); got != tt.want {
				t.Errorf("Locale = %q, want %q", got, tt.want)
			}
			rec := httptest.NewRecorder()
			RememberLocale(rec, r, true)
			cookies := rec.Result().Cookies()
			if tt.wantSave != (len(cookies) == 1) {
				t.Fatalf("cookies %v, want saved=%v", cookies, tt.wantSave)
			}
			if tt.wantSave {
				c := cookies[0]
				if c.Value != tt.want || c.MaxAge != 365*24*3600 || c.SameSite != http.SameSiteLaxMode || !c.Secure {
					t.Errorf("lang cookie %+v", c)
				}
			}
		})
	}
}

func TestRemoteIPIgnoresForwardedFor(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.1")
	if got := RemoteIP(r); got != "192.0.2.7" {
		t.Errorf("RemoteIP = %q", got)
	}
	r.RemoteAddr = "[2001:db8::1]:443"
	if got := RemoteIP(r); got != "2001:db8::1" {
		t.Errorf("RemoteIP v6 = %q", got)
	}
}

func TestCSRF(t *testing.T) {
	codec := securecookie.New(securecookie.GenerateRandomKey(32), nil)
	for _, secure := range []bool{false, true} {
		c := NewCSRF(codec, secure)
		rec := httptest.NewRecorder()
		token := c.Token(rec, httptest.NewRequest("GET", "/login", nil))
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %v", cookies)
		}
		ck := cookies[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" {
			t.Errorf("secure=%v: cookie %+v", secure, ck)
		}
		if secure != strings.HasPrefix(ck.Name, "__Host-") {
			t.Errorf("secure=%v: cookie name %q", secure, ck.Name)
		}

		// A second page with the cookie reuses the secret but masks it anew.
		get := httptest.NewRequest("GET", "/login", nil)
		get.AddCookie(ck)
		rec2 := httptest.NewRecorder()
		token2 := c.Token(rec2, get)
		if len(rec2.Result().Cookies()) != 0 {
			t.Error("cookie re-issued although valid")
		}
		if token2 == token {
			t.Error("token not re-masked")
		}

		post := func(field string, cookie *http.Cookie, header map[string]string) error {
			form := url.Values{}
			if field != "" {
				form.Set(CSRFField, field)
			}
			r := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range header {
				r.Header.Set(k, v)
			}
			if cookie != nil {
				r.AddCookie(cookie)
			}
			return c.Verify(r)
		}
		if err := post(token, ck, nil); err != nil {
			t.Errorf("valid token refused: %v", err)
		}
		if err := post(token2, ck, map[string]string{"Sec-Fetch-Site": "same-origin"}); err != nil {
			t.Errorf("second valid token refused: %v", err)
		}
		other := NewCSRF(codec, secure).Token(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		for name, err := range map[string]error{
			"no token":        post("", ck, nil),
			"garbage token":   post("garbage", ck, nil),
			"other token":     post(other, ck, nil),
			"no cookie":       post(token, nil, nil),
			"forged cookie":   post(token, &http.Cookie{Name: ck.Name, Value: "AAAA"}, nil),
			"cross-site post": post(token, ck, map[string]string{"Sec-Fetch-Site": "cross-site"}),
		} {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden || e.MessageKey != "error.csrf" {
				t.Errorf("secure=%v %s: err = %v, want 403 error.csrf", secure, name, err)
			}
		}
	}
}

func TestRenderSetsLanguageAndToken(t *testing.T) {
	rn := newRenderer(t, io.Discard)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/logged-out?lang=en", nil)
	if err := rn.Render(rec, r, http.StatusOK, "logout", map[string]string{"ID": "x"}); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, want := range []string{`<html lang="en">`, `name="csrf_token" value="`, "Sign out of satupintu?"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("no Cache-Control: no-store")
	}
}

func TestLimitBodyWithUploads(t *testing.T) {
	h := LimitBodyWith(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}), 10, map[string]int64{"/upload": 100})
	for _, tc := range []struct {
		method, path string
		size, want   int
	}{
		{"POST", "/upload", 100, http.StatusOK},
		{"POST", "/upload", 101, http.StatusRequestEntityTooLarge},
		{"POST", "/other", 11, http.StatusRequestEntityTooLarge},
		{"PUT", "/upload", 11, http.StatusRequestEntityTooLarge},
		{"POST", "/other", 10, http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(strings.Repeat("x", tc.size))))
		if rec.Code != tc.want {
			t.Errorf("%s %s %d bytes: %d, want %d", tc.method, tc.path, tc.size, rec.Code, tc.want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	_, lb, _ := net.ParseCIDR("10.0.0.0/8")
	var got string
	h := TrustedProxies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = RemoteIP(r) }), []*net.IPNet{lb})
	for _, tc := range []struct{ peer, xff, want string }{
		{"10.1.2.3:5000", "203.0.113.7", "203.0.113.7"},
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.7", "203.0.113.7"}, // the client cannot choose: rightmost untrusted
		{"10.1.2.3:5000", "203.0.113.7, 10.9.9.9", "203.0.113.7"},     // a second trusted hop is skipped
		{"192.0.2.50:5000", "203.0.113.7", "192.0.2.50"},              // not from the proxy: header ignored
		{"10.1.2.3:5000", "", "10.1.2.3"},                             // no header: the proxy itself
		{"10.1.2.3:5000", "not-an-ip", "10.1.2.3"},                    // garbage: the proxy itself
		{"10.1.2.3:5000", "2001:db8::1", "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("peer %s XFF %q: client %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
