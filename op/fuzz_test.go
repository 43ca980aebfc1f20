package op

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets drive the real handler (zitadel included) with
// arbitrary input. The properties: it never panics, never answers 5xx
// (nothing fails underneath), never writes an error_description outside
// RFC 6749's character set, and never echoes an internal error text.
// Seeds are below and in testdata/fuzz/<name>/.

// rawRequest builds a request without httptest.NewRequest's parsing, so
// any query string goes through.
func rawRequest(method, path, rawQuery, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.URL.RawQuery = rawQuery
	r.RequestURI = path
	if rawQuery != "" {
		r.RequestURI += "?" + rawQuery
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r
}

// checkAnswer asserts the fuzz properties of one answer.
func checkAnswer(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: status %d: %s", name, w.Code, w.Body)
	}
	checkNoLeak(t, name, w)
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && w.Code >= 400 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s: error answer %d is not OAuth JSON: %s", name, w.Code, w.Body)
		}
		if !validDescription(e.Description) || !validDescription(e.Error) {
			t.Fatalf("%s: description out of charset: %q", name, e.Description)
		}
	}
	if loc, err := url.Parse(w.Header().Get("Location")); err == nil {
		if d := loc.Query().Get("error_description"); !validDescription(d) {
			t.Fatalf("%s: redirected description out of charset: %q", name, d)
		}
	}
	if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("%s: 401 without WWW-Authenticate", name)
	}
}

func FuzzAuthorizeParams(f *testing.F) {
	h := newHarness(f)
	pk := newPKCE()
	valid := authorizeQuery(pk)
	f.Add(valid.Encode())
	f.Add(authorizeQuery(pk, "state", strings.Repeat("s", 3000), "nonce", strings.Repeat("n", 2000)).Encode())
	f.Add(authorizeQuery(pk, "state", "a\x00b\"c\\d\u00e9\n", "prompt", "none login").Encode())
	f.Add(authorizeQuery(pk, "response_mode", "fragment", "response_type", "token").Encode())
	f.Add(authorizeQuery(pk, "code_challenge", "short", "ui_locales", "id en zz-ZZ x").Encode())
	f.Add(authorizeQuery(pk, "redirect_uri", "http://evil.test/", "max_age", "-1").Encode())
	f.Add(valid.Encode() + "&state=again")
	f.Add("client_id=%zz&state=%")
	f.Add("request=eyJhbGciOiJub25lIn0.e30.&client_id=app")
	f.Add("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Axyz&client_id=app")
	f.Fuzz(func(t *testing.T, raw string) {
		checkAnswer(t, "GET", h.serve(rawRequest(http.MethodGet, "/authorize", raw, "")))
		checkAnswer(t, "POST", h.serve(rawRequest(http.MethodPost, "/authorize", "", raw)))
	})
}

func FuzzTokenRequest(f *testing.F) {
	h := newHarness(f)
	auth := basic("service", testSecret)
	f.Add("", "grant_type=client_credentials", auth)
	f.Add("", "grant_type=client_credentials&client_id=service&client_secret="+testSecret, "")
	f.Add("client_secret=x", "grant_type=refresh_token&refresh_token=abc", basic("app", testSecret))
	f.Add("", "grant_type=authorization_code&code=zzz&redirect_uri=http%3A%2F%2Frp.test%2Fcallback&code_verifier=v", basic("app", testSecret))
	f.Add("", "grant_type=pass%01word%22%5C%C3%A9", auth)
	f.Add("", "grant_type=client_credentials&grant_type=client_credentials", auth)
	f.Add("", "grant_type=refresh_token&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x", "")
	f.Add("", "%zz", "Basic %%%")
	f.Add("", "token=abc&token_type_hint=refresh_token", basic("app%zz", "x"))
	f.Add("", "client_id=app&redirect_uri=http%3A%2F%2Frp.test%2Fcallback&response_type=code&scope=openid&request_uri=x", basic("app", testSecret))
	f.Add("", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhcHAifQ.x", "")
	f.Fuzz(func(t *testing.T, query, body, authorization string) {
		for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke", "/par"} {
			r := rawRequest(http.MethodPost, path, query, body)
			if authorization != "" {
				r.Header.Set("Authorization", authorization)
			}
			checkAnswer(t, path, h.serve(r))
		}
	})
}

func FuzzEndSessionParams(f *testing.F) {
	h := newHarness(f)
	f.Add("client_id=app&state=ok&post_logout_redirect_uri=" + url.QueryEscape(testLogout))
	f.Add("state=%zz")
	f.Add("state=" + strings.Repeat("s", 1025))
	f.Add("id_token_hint=eyJ.x.y&client_id=ghost")
	f.Add("client_id=app&post_logout_redirect_uri=javascript:alert(1)")
	f.Fuzz(func(t *testing.T, raw string) {
		checkAnswer(t, "GET", h.serve(rawRequest(http.MethodGet, "/end_session", raw, "")))
	})
}

func FuzzSanitizeDescription(f *testing.F) {
	for _, s := range []string{"", "plain text", "a\"b\\c", "ctl\x00\x1f\x7f", "caf\u00e9 \u2028", "\xff\xfe", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := sanitizeDescription(s)
		if !validDescription(d) || len(d) > maxDescriptionLen {
			t.Fatalf("sanitizeDescription(%q) = %q", s, d)
		}
		if validDescription(s) && len(s) <= maxDescriptionLen && d != s {
			t.Fatalf("sanitizeDescription changed valid %q to %q", s, d)
		}
	})
}
