// Package web is the HTTP plumbing shared by the UI packages (login, op's
// error pages, later registration and account): security headers, body
// limits, CSRF tokens, locale choice, client IP, and the adapter that turns a
// handler's error into a friendly page in the user's language while the
// detail goes to the log.
package web

import (
	"net"
	"net/http"
	"strings"
)

// DefaultBodyLimit caps request bodies that carry no upload: a sign-in form
// is well under 4 KiB, so 64 KiB leaves room without inviting floods.
const DefaultBodyLimit = 64 << 10

// csp allows only same-origin resources and no plugins, base rewriting or
// framing (ASVS 3.4.3, 3.4.6). There is deliberately no form-action: Chrome
// applies it to the whole redirect chain after the sign-in POST, which ends
// at the relying party's origin.
const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// SecurityHeaders sets the headers every response carries (ASVS 3.4). HSTS
// is sent only when the service is reached over https: on plain http it is
// ignored by browsers and would pin a developer's localhost.
func SecurityHeaders(next http.Handler, https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // codes and state in URLs must not leak
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		// No Server or X-Powered-By header: net/http sends none and we add
		// none, so no version banner (ASVS 13.4.6).
		next.ServeHTTP(w, r)
	})
}

// LimitBody caps the request body at n bytes (DefaultBodyLimit if n <= 0).
// Reading past it fails with *http.MaxBytesError, which Handle turns into
// 413. Upload routes wrap their own, larger limit instead.
func LimitBody(next http.Handler, n int64) http.Handler {
	return LimitBodyWith(next, n, nil)
}

// LimitBodyWith is LimitBody with larger limits for the POSTs to the exact
// paths in uploads (a nested MaxBytesReader cannot raise an outer limit).
func LimitBodyWith(next http.Handler, n int64, uploads map[string]int64) http.Handler {
	if n <= 0 {
		n = DefaultBodyLimit
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			limit := n
			if up, ok := uploads[r.URL.Path]; ok && r.Method == http.MethodPost {
				limit = up
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// NoStore marks a response as not to be cached by the browser or any proxy:
// sign-in and account pages carry personal data and CSRF tokens (ASVS 14.3.2).
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// RemoteIP returns the client's address as seen by this server. It does not
// read X-Forwarded-For: a client can forge it to dodge throttling or poison
// the audit log (ASVS 4.1.3). Trusting a known proxy is a later option.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// TrustedProxies makes r.RemoteAddr the real client's address when the
// request comes from one of the proxies in trusted (the Ingress, a load
// balancer): the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy. Requests from anywhere else keep their own address, so a
// client cannot forge one (ASVS 4.1.3, RFC 9700 §4.13). With no trusted
// proxies it changes nothing.
func TrustedProxies(next http.Handler, trusted []*net.IPNet) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(s string) bool {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return false
		}
		for _, n := range trusted {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := RemoteIP(r)
		if !isTrusted(peer) {
			next.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := strings.TrimSpace(hops[i])
			if hop == "" || isTrusted(hop) {
				continue
			}
			if ip := net.ParseIP(hop); ip != nil {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = net.JoinHostPort(ip.String(), "0")
				next.ServeHTTP(w, r2)
				return
			}
			break // garbage where the client's address should be: keep the proxy's
		}
		next.ServeHTTP(w, r)
	})
}
