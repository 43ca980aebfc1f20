package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"

	"satupintu/storage/postgres"
	"satupintu/storage/redis"
	"satupintu/tracing"
)

// flushTimeout bounds the export of the last spans at shutdown: a
// collector that is down must not hold the process.
const flushTimeout = 5 * time.Second

// startTracing starts OpenTelemetry tracing when the OTEL_* environment asks
// for it (tracing.Enabled) and returns the logger to use from then on (with
// trace ids) and a function that flushes the last spans. Off, it returns a
// nil *tracing.Tracing, logger itself and a no-op.
func startTracing(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*tracing.Tracing, *slog.Logger, func(), error) {
	tr, err := tracing.Setup(ctx, getenv)
	if err != nil || tr == nil {
		return nil, logger, func() {}, err
	}
	// zitadel/oidc traces through the global provider (its op.Tracer):
	// installing ours there puts its spans (ClientCredentialsExchange,
	// CreateAccessToken, …) between the request's and the stores'.
	otel.SetTracerProvider(tr.Provider())
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: export", "error", err)
	}))
	logger.Info("tracing on: spans are exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_*)")
	flush := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			logger.Warn("tracing: last spans not exported", "error", err)
		}
	}
	return tr, slog.New(tr.LogHandler(logger.Handler())), flush, nil
}

// storeTracing is what the stores get to trace their calls: nothing at all
// when tracing is off.
func storeTracing(tr *tracing.Tracing) ([]postgres.Option, []redis.Option) {
	var pg []postgres.Option
	var rd []redis.Option
	if t := tr.Postgres(); t != nil {
		pg = append(pg, postgres.WithTracer(t))
	}
	if h := tr.Redis(); h != nil {
		rd = append(rd, redis.WithHook(h))
	}
	return pg, rd
}

// isProbe reports a health probe, which is not traced: load balancers and
// Kubernetes send one every few seconds.
func isProbe(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
}
