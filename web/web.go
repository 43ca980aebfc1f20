// Package web is the HTTP plumbing shared by the UI packages (login, op's
// error pages, later registration and account): security headers, body
// limits, CSRF tokens, locale choice, client IP, and the adapter that turns a
// handler's error into a friendly page in the user's language while the
// detail goes to the log.
package web

import (
	"bytes"
	"errors"
	"io"
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
	return BodyLimit{Max: n}.Wrap(next)
}

// LimitBodyWith is LimitBody with larger limits for the POSTs to the exact
// paths in uploads (a nested MaxBytesReader cannot raise an outer limit).
func LimitBodyWith(next http.Handler, n int64, uploads map[string]int64) http.Handler {
	return BodyLimit{Max: n, Uploads: uploads}.Wrap(next)
}

// BodyLimit caps request bodies, so that no handler, ours or a library's,
// reads more than a form needs (a flood of large bodies costs memory).
type BodyLimit struct {
	// Max bounds every body (DefaultBodyLimit if <= 0).
	Max int64
	// Uploads are larger limits for the POSTs to these exact paths; their
	// handlers read the body themselves and report a body over the limit
	// next to the file field.
	Uploads map[string]int64
	// Refuse, if set, answers a body over Max before any handler runs, so
	// the answer never depends on how a handler treats a read error (a
	// library's may be a 500). The error is a *http.MaxBytesError; Refuse
	// is expected to log it. Without Refuse the handler meets that error on
	// its first read.
	Refuse func(w http.ResponseWriter, r *http.Request, err error)
}

// Wrap returns next behind the limit. A body whose declared length is over
// Max is refused without being read. A body of unknown length (chunked) is
// read into memory first, up to Max, so the handler gets either the whole
// body or no call at all; bodies of known length are read by the handler
// through a MaxBytesReader as usual.
func (l BodyLimit) Wrap(next http.Handler) http.Handler {
	n := l.Max
	if n <= 0 {
		n = DefaultBodyLimit
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if up, ok := l.Uploads[r.URL.Path]; ok && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, up)
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > n {
			// Not read: net/http closes the connection rather than
			// drain a large body.
			l.refuse(w, r, next, &http.MaxBytesError{Limit: n})
			return
		}
		body := http.MaxBytesReader(w, r.Body, n)
		if r.ContentLength >= 0 {
			r.Body = body
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(body)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			l.refuse(w, r, next, err)
			return
		case err != nil:
			// The client went away or stalled: the handler meets the
			// same error on its first read.
			r.Body = errorBody{err}
		default:
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers a body over the limit with Refuse, or, without it, passes
// the request on with a body that fails at once with err.
func (l BodyLimit) refuse(w http.ResponseWriter, r *http.Request, next http.Handler, err error) {
	w.Header().Set("Connection", "close") // the rest of the body is not read
	if l.Refuse != nil {
		l.Refuse(w, r, err)
		return
	}
	r.Body = errorBody{err}
	next.ServeHTTP(w, r)
}

// errorBody is a request body whose reads fail with err.
type errorBody struct{ err error }

func (b errorBody) Read([]byte) (int, error) { return 0, b.err }
func (b errorBody) Close() error             { return nil }

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
