package web

import (
	"log/slog"
	"net/http"
	"time"
)

// AccessLog writes one log line per request once it is answered: method,
// route pattern, path, status, duration, body bytes, request id and client
// address. Never the query string: authorization codes, states, tokens and
// service numbers travel there. Wrap it inside WithRequestID and
// TrustedProxies, so the id and the real client address are known.
type AccessLog struct {
	Logger *slog.Logger
	// Route names the pattern that served r (bounded, unlike paths); nil
	// logs none.
	Route func(r *http.Request) string
	// Skip, if set, leaves out requests nobody reads about (health probes).
	Skip func(r *http.Request) bool
	// Now is the clock durations are measured with; time.Now if nil.
	Now func() time.Time
}

// Wrap returns next with the access log around it.
func (a AccessLog) Wrap(next http.Handler) http.Handler {
	now := a.Now
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Skip != nil && a.Skip(r) {
			next.ServeHTTP(w, r)
			return
		}
		start := now()
		sw := NewStatusWriter(w)
		next.ServeHTTP(sw, r)
		route := ""
		if a.Route != nil {
			route = a.Route(r)
		}
		a.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.Status()),
			slog.Float64("duration_ms", float64(now().Sub(start).Microseconds())/1000),
			slog.Int64("bytes", sw.Bytes()),
			slog.String("request_id", RequestID(r.Context())),
			slog.String("remote_addr", RemoteIP(r)))
	})
}
