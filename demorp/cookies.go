package demorp

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// isRPCookie reports the cookies zitadel's rp handlers set with fixed names:
// the state (AuthURLHandler, CodeExchangeHandler) and the PKCE code verifier
// (WithPKCE).
func isRPCookie(name string) bool {
	return name == "state" || name == "pkce"
}

// cookiePrefix gives each app its own cookie namespace. Browsers scope cookies
// by host, not port, so the demo apps on localhost:8081 and localhost:8082
// (and the provider on :8080) all see each other's cookies.
func cookiePrefix(externalURL string) string {
	sum := sha256.Sum256([]byte(externalURL))
	return "demorp_" + hex.EncodeToString(sum[:4]) + "_"
}

// scopeRPCookies renames the rp package's fixed-name cookies to prefix+name on
// the way out and back on the way in. Without it, two sign-ins started in two
// apps in one browser overwrite each other's state and PKCE verifier and the
// first callback fails. Cookies of other apps with the bare names are hidden
// from the handler.
func scopeRPCookies(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&scopedWriter{ResponseWriter: w, prefix: prefix}, unscopeRequest(r, prefix))
	})
}

func unscopeRequest(r *http.Request, prefix string) *http.Request {
	cookies := r.Cookies()
	touched := false
	for _, c := range cookies {
		if isRPCookie(c.Name) || strings.HasPrefix(c.Name, prefix) {
			touched = true
			break
		}
	}
	if !touched {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if isRPCookie(c.Name) {
			continue // another app's (or an unscoped) flow cookie
		}
		if name, ok := strings.CutPrefix(c.Name, prefix); ok && isRPCookie(name) {
			c.Name = name
		}
		r.AddCookie(c)
	}
	return r
}

// scopedWriter rewrites Set-Cookie headers just before they are sent.
type scopedWriter struct {
	http.ResponseWriter
	prefix  string
	written bool
}

func (w *scopedWriter) rewrite() {
	if w.written {
		return
	}
	w.written = true
	h := w.ResponseWriter.Header()
	values := h["Set-Cookie"]
	if len(values) == 0 {
		return
	}
	out := make([]string, 0, len(values))
	for _, v := range values {
		if c, err := http.ParseSetCookie(v); err == nil && isRPCookie(c.Name) {
			c.Name = w.prefix + c.Name
			v = c.String()
		}
		out = append(out, v)
	}
	h["Set-Cookie"] = out
}

func (w *scopedWriter) WriteHeader(code int) {
	w.rewrite()
	w.ResponseWriter.WriteHeader(code)
}

func (w *scopedWriter) Write(b []byte) (int, error) {
	w.rewrite()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *scopedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
