// Package metrics is satupintu's Prometheus instrumentation: request counts
// and latencies per route, security events by action (sign-ins by outcome,
// registrations, ...), tokens issued per grant, and gauges read at scrape
// time (queues, pools). It is served on an internal address, never next to
// the public endpoints (cmd/satupintu), because route names, queue depths
// and pool figures help an attacker time an attack.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"satupintu/web"
)

// namespace prefixes every metric name.
const namespace = "satupintu"

// Registry holds satupintu's metrics. The zero value is not usable: call New.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	events   *prometheus.CounterVec
	tokens   *prometheus.CounterVec
}

// New makes a registry with the Go runtime and process collectors.
func New() *Registry {
	m := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route.",
			// From a cached discovery document (~50 µs) to an argon2id
			// sign-in queued behind others (~1 s).
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_events_total",
			Help: "Security events written to the audit log, by action (login.success, login.failure, registration.submit, ...).",
		}, []string{"action"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_issued_total",
			Help: "Access tokens issued, by grant type.",
		}, []string{"grant"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.events, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Event counts one audit event.
func (m *Registry) Event(action string) { m.events.WithLabelValues(action).Inc() }

// TokenIssued counts one access token issued with grant.
func (m *Registry) TokenIssued(grant string) { m.tokens.WithLabelValues(grant).Inc() }

// Gauge registers a gauge whose value fn reads at scrape time. fn must be
// quick: it runs on every scrape.
func (m *Registry) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, fn))
}

// GaugeVec registers a family of gauges with one label, all read by fn at
// scrape time as label value → gauge value.
func (m *Registry) GaugeVec(name, help, label string, fn func() map[string]float64) {
	m.reg.MustRegister(&funcVec{
		desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, []string{label}, nil),
		fn:   fn, kind: prometheus.GaugeValue,
	})
}

// CounterVec registers a family of counters with one label that another
// package already counts, read by fn at scrape time as label value →
// total. Unlike a gauge, Prometheus's rate() applies to it.
func (m *Registry) CounterVec(name, help, label string, fn func() map[string]float64) {
	m.reg.MustRegister(&funcVec{
		desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, []string{label}, nil),
		fn:   fn, kind: prometheus.CounterValue,
	})
}

// funcVec is a collector of gauges (or counters) computed together.
type funcVec struct {
	desc *prometheus.Desc
	fn   func() map[string]float64
	kind prometheus.ValueType
}

func (f *funcVec) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *funcVec) Collect(ch chan<- prometheus.Metric) {
	for label, v := range f.fn() {
		ch <- prometheus.MustNewConstMetric(f.desc, f.kind, v, label)
	}
}

// Middleware counts and times every request next answers. route names the
// request with a bounded set of values (never the raw path, which anyone
// can vary); it is called after next has served, when a ServeMux has set
// r.Pattern.
func (m *Registry) Middleware(next http.Handler, route func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := web.NewStatusWriter(w)
		next.ServeHTTP(sw, r)
		name, method := route(r), methodLabel(r.Method)
		m.latency.WithLabelValues(name, method).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(name, method, strconv.Itoa(sw.Status())).Inc()
	})
}

// methodLabel keeps the method label bounded: anyone can send any method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}
