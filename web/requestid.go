package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// RequestIDHeader carries a response's request id, so a user's report or a
// relying party's log can be matched to ours.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID gives every request an id, in its context (RequestID) for
// the log lines about it and in the X-Request-Id response header. The id is
// always our own: one taken from the request could be forged to confuse the
// log or flood it with chosen text.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte   // 64 bits: unique enough to find one request's lines
		rand.Read(b[:]) // never returns an error (crypto/rand documents it)
		id := hex.EncodeToString(b[:])
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID returns the id WithRequestID gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
