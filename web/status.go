package web

import "net/http"

// StatusWriter remembers the status code a handler wrote (200 if it only
// wrote a body), for middleware that reports it: metrics, tracing.
type StatusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

// NewStatusWriter wraps w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w, code: http.StatusOK}
}

// Status is the code written, 200 if none was.
func (s *StatusWriter) Status() int { return s.code }

func (s *StatusWriter) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusWriter) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
