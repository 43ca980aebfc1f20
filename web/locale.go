package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"satupintu/templates"
)

// LangCookie remembers the language the user picked with ?lang=.
const LangCookie = "lang"

type uiLocalesKey struct{}

// WithUILocales returns r carrying the OIDC ui_locales of the request being
// served (OIDC Core §3.1.2.1), so Locale can honour them when the user has
// not chosen a language here.
func WithUILocales(r *http.Request, locales []string) *http.Request {
	if len(locales) == 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), uiLocalesKey{}, locales))
}

// Locale picks "id" or "en" for r: an explicit ?lang=, then the lang cookie,
// then the ui_locales attached with WithUILocales, then Accept-Language,
// and Indonesian otherwise. Only supported values are ever returned, so the
// result is safe to put in a cookie or a page.
func Locale(r *http.Request) string {
	if lang := r.URL.Query().Get("lang"); templates.Supported(lang) {
		return lang
	}
	if c, err := r.Cookie(LangCookie); err == nil && templates.Supported(c.Value) {
		return c.Value
	}
	if locales, _ := r.Context().Value(uiLocalesKey{}).([]string); len(locales) > 0 {
		for _, tag := range locales {
			if lang, ok := primaryLang(tag); ok {
				return lang
			}
		}
	}
	if lang, ok := acceptLanguage(r.Header.Get("Accept-Language")); ok {
		return lang
	}
	return templates.DefaultLang
}

// RememberLocale stores a valid ?lang= choice in a cookie for a year.
func RememberLocale(w http.ResponseWriter, r *http.Request, secure bool) {
	lang := r.URL.Query().Get("lang")
	if !templates.Supported(lang) {
		return
	}
	if c, err := r.Cookie(LangCookie); err == nil && c.Value == lang {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     LangCookie,
		Value:    lang,
		Path:     "/",
		MaxAge:   365 * 24 * 60 * 60,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// primaryLang maps a BCP 47 tag to a supported language by its primary
// subtag; "in" is the deprecated code for Indonesian that old browsers send.
func primaryLang(tag string) (string, bool) {
	primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	switch strings.ToLower(primary) {
	case "id", "in":
		return templates.LangID, true
	case "en":
		return templates.LangEN, true
	}
	return "", false
}

// acceptLanguage returns the supported language the header prefers most
// (RFC 9110 §12.5.4); ties keep the header's order.
func acceptLanguage(header string) (string, bool) {
	if header == "" {
		return "", false
	}
	type choice struct {
		lang string
		q    float64
	}
	var choices []choice
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		lang, ok := primaryLang(tag)
		if !ok {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q > 0 {
			choices = append(choices, choice{lang, q})
		}
		if len(choices) > 32 { // a long header gains nothing past this
			break
		}
	}
	if len(choices) == 0 {
		return "", false
	}
	slices.SortStableFunc(choices, func(a, b choice) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	return choices[0].lang, true
}
