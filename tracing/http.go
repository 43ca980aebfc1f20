package tracing

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"satupintu/web"
)

// Middleware gives every request next serves a server span, continuing the
// caller's trace when it sends a W3C traceparent. route names the request
// with a bounded set of values (as the metrics label it: the mux pattern,
// never the raw path, which carries ids and which anyone can vary); it is
// called after next has served. Requests for which skip (if not nil) is
// true get no span: load balancers' health probes would drown the
// requests people trace for. With tracing off, next is returned as is.
func (t *Tracing) Middleware(next http.Handler, route func(*http.Request) string, skip func(*http.Request) bool) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if skip != nil && skip(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := t.propagators.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := methodName(r.Method)
		scheme := semconv.URLScheme("http")
		if r.TLS != nil {
			scheme = semconv.URLScheme("https")
		}
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method), scheme))
		sw := web.NewStatusWriter(w)
		r = r.WithContext(ctx) // the request a mux sets Pattern on
		defer func() {
			// Named at the end: the mux has chosen the route by then.
			name := route(r)
			span.SetName(method + " " + name)
			span.SetAttributes(semconv.HTTPRoute(name), semconv.HTTPResponseStatusCode(sw.Status()))
			// A server span fails on 5xx only; 4xx is the client's error.
			if sw.Status() >= http.StatusInternalServerError {
				span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(sw.Status())))
				span.SetStatus(codes.Error, "")
			}
			span.End()
		}()
		next.ServeHTTP(sw, r)
	})
}

// methodName keeps the method bounded: anyone can send any method
// (semantic conventions: _OTHER).
func methodName(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "_OTHER"
}
