package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	adminui "satupintu/admin"
	"satupintu/op"
	"satupintu/web"
)

// health watches the storage dependencies. While one is down every request
// gets a fast 503 (an OAuth error body on protocol endpoints, a page in the
// user's language elsewhere) instead of a slow failure deep in a handler,
// and /readyz names what is down so a load balancer stops sending traffic.
// It recovers by itself: the checks keep running.
type health struct {
	checks   map[string]func(context.Context) error
	interval time.Duration
	logger   *slog.Logger

	mu   sync.RWMutex
	down map[string]string // dependency → error text (logged, not shown)
}

func newHealth(checks map[string]func(context.Context) error, interval time.Duration, logger *slog.Logger) *health {
	return &health{checks: checks, interval: interval, logger: logger, down: map[string]string{}}
}

// writeProber is a store that can show it accepts writes, which a ping
// cannot: Redis at maxmemory with noeviction or a read-only replica, a
// read-only or full Postgres all answer pings while every sign-in fails.
// sqlstore (SQLite, Postgres), redis and memory implement it.
type writeProber interface {
	ProbeWrite(ctx context.Context) error
}

// storeCheck is the health check of a store: it answers a ping and, if it
// can tell, accepts a small write.
func storeCheck(s interface{ Ping(context.Context) error }) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := s.Ping(ctx); err != nil {
			return err
		}
		if p, ok := s.(writeProber); ok {
			return p.ProbeWrite(ctx)
		}
		return nil
	}
}

// check runs every check once.
func (h *health) check(ctx context.Context) {
	down := map[string]string{}
	for name, fn := range h.checks {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := fn(cctx); err != nil {
			down[name] = err.Error()
		}
		cancel()
	}
	h.mu.Lock()
	before := h.down
	h.down = down
	h.mu.Unlock()
	for name, msg := range down {
		if _, was := before[name]; !was {
			h.logger.Error("dependency down", "dependency", name, "error", msg)
		}
	}
	for name := range before {
		if _, still := down[name]; !still {
			h.logger.Info("dependency recovered", "dependency", name)
		}
	}
}

// run checks until ctx ends.
func (h *health) run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unavailable lists the dependencies that are down, sorted.
func (h *health) unavailable() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	names := make([]string, 0, len(h.down))
	for n := range h.down {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// protocolPaths answer with OAuth error JSON rather than a page.
var protocolPaths = []string{"/oauth/", "/userinfo", "/revoke", "/keys", "/.well-known/"}

func isProtocolPath(p string) bool {
	for _, prefix := range protocolPaths {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// gate answers 503 while a dependency is down; /healthz, /readyz and static
// files are always served.
func (h *health) gate(next http.Handler, renderer *web.Renderer) http.Handler {
	refuse := refuser(renderer, h.logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		down := h.unavailable()
		if len(down) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		refuse(w, r, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "error.unavailable",
			Err: fmt.Errorf("dependency down: %s", strings.Join(down, ", "))})
	})
}

// refuser returns how the server turns a request away before any handler
// runs (a dependency down, a body over the limit): OAuth error JSON on the
// protocol paths, whose clients are programs, and the friendly page in the
// user's language elsewhere. Either way the log gets one line with the
// request id; the response carries no internal detail.
func refuser(renderer *web.Renderer, logger *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, oauth := http.StatusInternalServerError, &oidc.Error{ErrorType: oidc.ServerError}
		var e *web.Error
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			status = http.StatusRequestEntityTooLarge
			oauth = &oidc.Error{ErrorType: oidc.InvalidRequest, Description: "the request body is too large"}
		case errors.As(err, &e) && e.Status == http.StatusServiceUnavailable:
			status, oauth = e.Status, op.Unavailable()
		case errors.As(err, &e):
			status = e.Status
			oauth = &oidc.Error{ErrorType: oidc.InvalidRequest}
		}
		if !isProtocolPath(r.URL.Path) && !adminui.IsAPIPath(r.URL.Path) {
			renderer.Error(w, r, err) // logs
			return
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request refused",
			slog.Int("status", status),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("request_id", web.RequestID(r.Context())),
			slog.String("error", err.Error()))
		if adminui.IsAPIPath(r.URL.Path) {
			adminui.WriteProblem(w, r, status) // problem JSON, as the API's own errors
			return
		}
		op.WriteError(w, status, oauth) // Retry-After on a 503, as the page has
	}
}

// serveHealthz: the process is alive.
func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// serveReadyz: the dependencies answered the last check (at most interval
// ago; probes never trigger checks, so a flood of them costs nothing). The
// body names what is down, not why: the error text stays in the log.
func (h *health) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	down := h.unavailable()
	status := map[string]string{}
	for name := range h.checks {
		status[name] = "ok"
	}
	for _, name := range down {
		status[name] = "down"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if len(down) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": len(down) == 0, "dependencies": status})
}
