package tracing_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"satupintu/tracing"
)

// recorder is tracing whose spans a test reads as they end.
func recorder(t *testing.T) (*tracing.Tracing, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.WithoutCancel(t.Context())) })
	return tracing.New(tp), rec
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestEnabledFollowsTheOTELEnvironment(t *testing.T) {
	for name, c := range map[string]struct {
		env     map[string]string
		want    bool
		wantErr bool
	}{
		"nothing set is off":                  {env: nil, want: false},
		"an endpoint turns it on":             {env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, want: true},
		"a traces endpoint turns it on":       {env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, want: true},
		"the otlp exporter turns it on":       {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: true},
		"exporter none wins over an endpoint": {env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, want: false},
		"the SDK disabled wins over all": {env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, want: false},
		"a list with none is off":              {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp, none"}, want: false},
		"a list of otlp is on":                 {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp,otlp"}, want: true},
		"a list with console is an error":      {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, wantErr: true},
		"an exporter not built in is an error": {env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: true},
		"grpc is an error, not silence": {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			wantErr: true},
		"the traces protocol wins": {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, want: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tracing.Enabled(env(c.env))
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("Enabled = %v, %v; want %v (error: %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

// Off means nothing is installed: no middleware, no pgx tracer, no Redis
// hook, no log handler around the logger's.
func TestOffInstallsNothing(t *testing.T) {
	tr, err := tracing.Setup(t.Context(), env(map[string]string{"OTEL_SERVICE_NAME": "x"}))
	if err != nil || tr != nil {
		t.Fatalf("Setup without an exporter = %v, %v; want nil, nil", tr, err)
	}
	h := http.NewServeMux()
	if got := tr.Middleware(h, nil, nil); got != http.Handler(h) {
		t.Errorf("Middleware wrapped the handler: %T", got)
	}
	if got := tr.Postgres(); got != nil {
		t.Errorf("Postgres tracer: %T", got)
	}
	if got := tr.Redis(); got != nil {
		t.Errorf("Redis hook: %T", got)
	}
	lh := slog.NewTextHandler(&bytes.Buffer{}, nil)
	if got := tr.LogHandler(lh); got != slog.Handler(lh) {
		t.Errorf("LogHandler wrapped the handler: %T", got)
	}
	if tr.Provider() != nil {
		t.Error("a provider without tracing")
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	tr, err = tracing.Setup(t.Context(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}))
	if err != nil || tr != nil {
		t.Fatalf("Setup with the SDK disabled = %v, %v; want nil, nil", tr, err)
	}
}

func TestMiddlewareNamesTheSpanByRoute(t *testing.T) {
	tr, rec := recorder(t)
	mux := http.NewServeMux()
	var inner trace.SpanContext
	mux.HandleFunc("GET /apps/{id}/link", func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	route := func(r *http.Request) string { return r.Pattern }
	h := tr.Middleware(mux, route, nil)

	// A caller's traceparent is continued.
	const parentTrace, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "/apps/secret-looking-id/link?code=abc", nil)
	req.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/fail", nil))

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	s := spans[0]
	// r.Pattern carries the method; cmd/satupintu's route function strips it.
	if s.Name() != "GET GET /apps/{id}/link" {
		t.Errorf("span name %q", s.Name())
	}
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind %v", s.SpanKind())
	}
	if s.SpanContext().TraceID().String() != parentTrace || s.Parent().SpanID().String() != parentSpan || !s.Parent().IsRemote() {
		t.Errorf("traceparent not continued: trace %s parent %s", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Error("the handler's context does not carry the request's span")
	}
	attrs := attrMap(s.Attributes())
	if attrs["http.route"] != "GET /apps/{id}/link" || attrs["http.request.method"] != "GET" || attrs["http.response.status_code"] != "200" {
		t.Errorf("attributes %v", attrs)
	}
	for k, v := range attrs {
		if strings.Contains(v, "secret-looking-id") || strings.Contains(v, "code=") {
			t.Errorf("attribute %s=%q carries the raw path or query", k, v)
		}
	}
	fail := spans[1]
	if fail.Status().Code.String() != "Error" || attrMap(fail.Attributes())["error.type"] != "500" {
		t.Errorf("a 500 is not an error span: %v %v", fail.Status(), fail.Attributes())
	}
	if fail.Parent().IsValid() {
		t.Error("a request without traceparent has a parent")
	}
}

func TestLogHandlerAddsTheTraceID(t *testing.T) {
	tr, _ := recorder(t)
	var buf bytes.Buffer
	logger := slog.New(tr.LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "t")
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside")
	}), func(*http.Request) string { return "/x" }, nil)
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	logger.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id=4bf92f3577b34da6a3ce929d0e0e4736") ||
		!strings.Contains(lines[0], "component=t") || strings.Contains(lines[1], "trace_id") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}

// attrMap flattens span attributes for comparisons.
func attrMap(attrs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}
