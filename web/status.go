package web

import "net/http"

// StatusWriter remembers the status code a handler wrote (200 if it only
// wrote a body) and how many body bytes, for middleware that reports them:
// metrics, tracing, the access log.
type StatusWriter struct {
	http.ResponseWriter
	code    int
	written bool
	bytes   int64
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
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Bytes is how many body bytes were written.
func (s *StatusWriter) Bytes() int64 { return s.bytes }

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
