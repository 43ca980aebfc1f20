package login

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// returnTTL is how long a page of satupintu waits for the sign-in it sent
// the browser to: a password, a second factor or its enrolment.
const returnTTL = 15 * time.Minute

// returnCookieName names the cookie that carries the way back; __Host-
// under https, as the session cookie.
func (h *Handler) returnCookieName() string {
	if h.Secure {
		return "__Host-satupintu_return"
	}
	return "satupintu_return"
}

// SignInAndReturn sends the browser to the sign-in page, and after a
// sign-in without an authorization request (password, second factor,
// passkey or upstream provider) back to path, a local path such as the
// device page. The path travels in an authenticated cookie, not in the
// URL, so no link can make the sign-in page redirect elsewhere.
func (h *Handler) SignInAndReturn(w http.ResponseWriter, r *http.Request, path string) {
	if err := h.init(); err == nil && localPath(path) {
		if v, err := h.Cookies.Encode(h.returnCookieName(), path); err == nil {
			http.SetCookie(w, &http.Cookie{
				Name: h.returnCookieName(), Value: v, Path: "/", MaxAge: int(returnTTL / time.Second),
				Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
			})
		}
	}
	redirect(w, r, "/login")
}

// takeReturn is where a sign-in without an authorization request goes:
// the path SignInAndReturn remembered, once, or the home page.
func (h *Handler) takeReturn(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(h.returnCookieName())
	if err != nil {
		return "/"
	}
	http.SetCookie(w, &http.Cookie{Name: h.returnCookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: h.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	var path string
	if err := h.Cookies.Decode(h.returnCookieName(), c.Value, &path); err != nil || !localPath(path) {
		return "/"
	}
	return path
}

// localPath reports a path on this site: never another host, not even
// through "//host" or "/\host", which browsers read as one (RFC 9700
// §4.11: no open redirects).
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || len(p) > 512 {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == ""
}
