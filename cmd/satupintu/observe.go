package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"satupintu/jobs"
	"satupintu/metrics"
	"satupintu/storage"
)

// scrapeTimeout bounds the database reads a scrape makes (queue depth,
// open registrations): a slow database must not hang Prometheus.
const scrapeTimeout = 2 * time.Second

// protocolRoutes are the provider's endpoints, which sit behind the "/"
// pattern of the main mux: they are named by path, every other path under
// "/" is "other", so nobody can grow the label set by inventing paths.
var protocolRoutes = map[string]bool{
	"/authorize": true, "/authorize/callback": true, "/oauth/token": true, "/oauth/introspect": true,
	"/revoke": true, "/userinfo": true, "/end_session": true, "/keys": true, "/par": true,
	"/device_authorization": true, "/.well-known/openid-configuration": true,
	"/.well-known/oauth-authorization-server": true,
}

// routeOf names r for metrics by the mux pattern that serves it, without
// the method (a label of its own).
func routeOf(mux *http.ServeMux) func(*http.Request) string {
	return func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		if _, path, ok := strings.Cut(pattern, " "); ok {
			pattern = path
		}
		switch {
		case pattern == "":
			return "none"
		case pattern != "/":
			return pattern
		case protocolRoutes[r.URL.Path]:
			return r.URL.Path
		}
		return "other"
	}
}

// instrument registers the gauges read at scrape time and counts audit
// events, for the stores and queue this node runs with.
func instrument(m *metrics.Registry, durable storage.Durable, ephemeral storage.Ephemeral, queue *jobs.Queue, logger *slog.Logger) {
	if o, ok := durable.(interface{ ObserveAudit(func(string)) }); ok {
		o.ObserveAudit(m.Event)
	}
	if p, ok := durable.(interface{ Pool() *pgxpool.Pool }); ok {
		pool := p.Pool()
		m.GaugeVec("postgres_pool_connections", "Postgres pool connections by state.", "state", func() map[string]float64 {
			st := pool.Stat()
			return map[string]float64{"total": float64(st.TotalConns()), "idle": float64(st.IdleConns()),
				"acquired": float64(st.AcquiredConns()), "constructing": float64(st.ConstructingConns()),
				"max": float64(st.MaxConns())}
		})
		m.Gauge("postgres_pool_empty_acquire_total", "Acquires that had to wait for a connection (a counter).", func() float64 {
			return float64(pool.Stat().EmptyAcquireCount())
		})
		m.Gauge("postgres_pool_acquire_wait_seconds_total", "Time spent waiting for a connection (a counter).", func() float64 {
			return pool.Stat().AcquireDuration().Seconds()
		})
	}
	if r, ok := ephemeral.(interface{ PoolStats() *goredis.PoolStats }); ok {
		m.GaugeVec("redis_pool", "Redis client pool: connections and lookups (hits, misses, timeouts are counters).", "kind", func() map[string]float64 {
			st := r.PoolStats()
			return map[string]float64{"total_conns": float64(st.TotalConns), "idle_conns": float64(st.IdleConns),
				"stale_conns": float64(st.StaleConns), "hits": float64(st.Hits), "misses": float64(st.Misses),
				"timeouts": float64(st.Timeouts)}
		})
	}
	if e, ok := ephemeral.(interface{ Entries() map[string]int }); ok {
		m.GaugeVec("memory_entries", "Entries the in-process store holds, by kind; each kind is bounded by SATUPINTU_MEMORY_MAX_ENTRIES.", "kind", func() map[string]float64 {
			out := map[string]float64{}
			for kind, n := range e.Entries() {
				out[kind] = float64(n)
			}
			return out
		})
	}
	if e, ok := ephemeral.(interface{ Evictions() map[string]uint64 }); ok {
		m.CounterVec("memory_evictions_total", "Live entries the in-process store evicted because their kind was full (SATUPINTU_MEMORY_MAX_ENTRIES), by kind.", "kind", func() map[string]float64 {
			out := map[string]float64{}
			for kind, n := range e.Evictions() {
				out[kind] = float64(n)
			}
			return out
		})
	}
	if queue != nil {
		m.GaugeVec("jobs", "Jobs in the durable queue (mail, back-channel logout) by state.", "state", func() map[string]float64 {
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			d, err := queue.Depth(ctx)
			if err != nil {
				logger.Warn("metrics: job queue depth", "error", err)
				return nil
			}
			return map[string]float64{"available": float64(d.Available), "running": float64(d.Running),
				"retryable": float64(d.Retryable), "scheduled": float64(d.Scheduled), "discarded": float64(d.Discarded)}
		})
	}
	if c, ok := durable.(interface {
		OpenRegistrationCounts(context.Context) (map[storage.RegistrationStatus]int, error)
	}); ok {
		m.GaugeVec("registrations_open", "Registrations awaiting an officer's decision, by status.", "status", func() map[string]float64 {
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			counts, err := c.OpenRegistrationCounts(ctx)
			if err != nil {
				logger.Warn("metrics: open registrations", "error", err)
				return nil
			}
			out := map[string]float64{}
			for _, s := range []storage.RegistrationStatus{storage.StatusSubmitted, storage.StatusInReview,
				storage.StatusRevisionRequested, storage.StatusResubmitted} {
				out[string(s)] = float64(counts[s])
			}
			return out
		})
	}
}

// internalHandler serves what only operators may reach: /metrics, and the
// profiler when enabled.
func internalHandler(m *metrics.Registry, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// serveInternal runs the internal listener until ctx ends. The returned
// function waits for it to stop.
func serveInternal(ctx context.Context, cfg Config, m *metrics.Registry, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (SATUPINTU_METRICS_ADDR): %w", cfg.MetricsAddr, err)
	}
	srv := &http.Server{
		Handler:           internalHandler(m, cfg.Pprof),
		ReadHeaderTimeout: 10 * time.Second,
		// A CPU profile or trace runs for the seconds it is asked for.
		WriteTimeout: 2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("metrics serving", "addr", ln.Addr().String(), "pprof", cfg.Pprof)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	return func() { <-done }, nil
}

// tokenCounter is the provider's TokenIssued hook: nil without metrics.
func tokenCounter(m *metrics.Registry) func(string) {
	if m == nil {
		return nil
	}
	return m.TokenIssued
}
