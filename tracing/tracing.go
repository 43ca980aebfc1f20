// Package tracing is satupintu's OpenTelemetry tracing: a span per HTTP
// request named by its route, child spans for every Postgres statement and
// Redis command made on its behalf, exported over OTLP/HTTP.
//
// It is off unless the standard OTEL_* environment asks for it (Setup), and
// off means off: Setup returns a nil *Tracing, whose methods hand back what
// they were given, so no middleware, tracer or hook is installed and the
// request path costs what it did before.
//
// Spans carry names and bounded attributes only: the route pattern, never
// the raw path or query (which carry codes and state); the SQL operation and
// table, never the statement's parameters; the Redis command name, never its
// keys (which hold token and session ids) or values; an error's class,
// never its message (Postgres quotes offending input in some).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES says otherwise.
const ServiceName = "satupintu"

// scope names this package's tracers (the instrumentation scope).
const scope = "satupintu/tracing"

// Tracing owns the tracer provider and makes the instruments that feed it.
// A nil *Tracing is tracing turned off: every method is then a no-op that
// installs nothing.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
}

// Enabled reads the OTEL_* variables that decide whether to trace, with
// the SDK's meaning: OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
// turn it off; OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint turn it on;
// nothing set leaves it off (unlike the SDK's default of otlp to
// localhost, an identity provider should not send spans anywhere nobody
// asked for). Only OTLP over HTTP with protobuf is built in: asking for
// another exporter or protocol is an error rather than silence.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if list := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); list != "" {
		on = false
		for exp := range strings.SplitSeq(list, ",") { // a list, by the specification
			switch strings.TrimSpace(exp) {
			case "none":
				return false, nil
			case "otlp":
				on = true
			default:
				return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", list)
			}
		}
	}
	if !on {
		return false, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(k)); p != "" {
			if p != "http/protobuf" {
				return false, fmt.Errorf("%s=%q: only http/protobuf is supported", k, p)
			}
			break // the traces-specific setting wins
		}
	}
	return true, nil
}

// Setup starts tracing if the environment asks for it (Enabled), or
// returns nil. getenv decides whether; the exporter, sampler, batching
// and resource then read the rest of the standard OTEL_* variables from
// the process environment themselves (OTEL_EXPORTER_OTLP_ENDPOINT,
// _HEADERS, _TIMEOUT, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES). Call Shutdown before exiting to send what is
// buffered.
func Setup(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	on, err := Enabled(getenv)
	if err != nil || !on {
		return nil, err
	}
	exporter, err := otlptracehttp.New(ctx) // endpoint etc. from OTEL_EXPORTER_OTLP_*
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	// Later detectors win: our default name first, then the environment.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		exporter.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER (default: follow the
	// caller's traceparent, else sample everything).
	return New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))), nil
}

// New traces into provider; Setup uses it with the OTLP exporter, tests
// with a recorder.
func New(provider *sdktrace.TracerProvider) *Tracing {
	return &Tracing{
		provider: provider,
		tracer:   provider.Tracer(scope),
		// W3C Trace Context only: baggage would let any caller put
		// arbitrary entries into our context.
		propagators: propagation.TraceContext{},
	}
}

// Provider is the tracer provider, for libraries that trace through the
// global one (zitadel/oidc): cmd/satupintu installs it there. Nil when
// tracing is off.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// traced reports whether ctx belongs to a traced request. Database and
// Redis spans are made only then: background work (health checks, the job
// queue's polling) would otherwise make a root span per statement.
func traced(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid()
}
