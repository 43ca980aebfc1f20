package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(h.unavailable()) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		if isProtocolPath(r.URL.Path) {
			writeOAuthUnavailable(w)
			return
		}
		renderer.Error(w, r, &web.Error{Status: http.StatusServiceUnavailable, MessageKey: "error.unavailable"})
	})
}

func writeOAuthUnavailable(w http.ResponseWriter) {
	body, _ := json.Marshal(&oidc.Error{ErrorType: "temporarily_unavailable", Description: "the service is temporarily unavailable; try again shortly"})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body)
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
