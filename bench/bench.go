// Package bench is satupintu's load tool: it drives a running provider
// over real HTTP with named scenarios, and reports throughput, latency
// percentiles and errors per scenario, each next to the limit that applies
// (the signing or hashing rate of the same machine, measured in the same
// run) and to the server's own view (its CPU per operation, from its
// metrics). Single-request scenarios are driven by vegeta; flows of several
// requests (sign-in, code flow, refresh) by workers that feed the same
// vegeta metrics, one result per flow.
package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"satupintu/op"
	"satupintu/password"
)

// Client is a registered client's credentials.
type Client struct {
	ID, Secret, RedirectURI string
}

// basic is c's client_secret_basic Authorization value (RFC 6749 §2.3.1:
// id and secret form-encoded first).
func (c Client) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))
}

// Target is the provider under load and what the scenarios sign in with.
type Target struct {
	URL        string // the issuer
	MetricsURL string // the server's /metrics, for its own view; "" skips it
	Code       Client // a confidential client of the code flow
	// Codes are code-flow clients by the algorithm of their ID tokens
	// (op.Algorithms); Code serves an algorithm without one.
	Codes   map[string]Client
	Service Client // a client_credentials client, opaque tokens
	// JWTService is a client_credentials client with JWT access tokens,
	// which the server signs with its default algorithm.
	JWTService Client
	User       string
	Password   string
	// HashParams are the server's argon2id parameters (the sign-in limit).
	HashParams password.Params
	// UseSigningAlg makes the server sign with alg by default (JWT access
	// tokens use the default), restarting it if need be; nil when the
	// target's algorithm is fixed.
	UseSigningAlg func(ctx context.Context, alg string) error
	// Mail receives the server's mail (the registration's code); nil when
	// the bench cannot read it.
	Mail *MailSink

	transport   *http.Transport
	http        *http.Client
	registrants *registrant
	loopback    atomic.Uint32 // registrations' source addresses (nextLoopback)
	powNanos    atomic.Int64  // time spent solving proofs of work
}

// codeClient is the code client whose ID tokens use alg.
func (t *Target) codeClient(alg string) Client {
	if c, ok := t.Codes[alg]; ok {
		return c
	}
	return t.Code
}

// Options says what to run.
type Options struct {
	Scenarios   []string      // names; empty: all
	Duration    time.Duration // per scenario
	Concurrency int           // workers (vegeta workers for single requests)
	// LimitDuration is how long each limit is measured (default 3 s).
	LimitDuration time.Duration
}

// Result is one scenario's figures: a line of the table and of the JSON.
type Result struct {
	Scenario   string  `json:"scenario"`
	Operations uint64  `json:"operations"`
	Throughput float64 `json:"throughput_per_s"` // successful operations per second
	P50        float64 `json:"p50_ms"`
	P95        float64 `json:"p95_ms"`
	P99        float64 `json:"p99_ms"`
	Errors     uint64  `json:"errors"`
	// Throttled are operations the limits on anonymous writes answered
	// 429: neither successes nor errors.
	Throttled  uint64 `json:"throttled,omitempty"`
	FirstError string `json:"first_error,omitempty"`
	// Limit and Ratio: throughput ÷ the rate of the scenario's costly step.
	Limit *limit  `json:"limit,omitempty"`
	Ratio float64 `json:"ratio_to_limit,omitempty"`
	// ServerCPUms is the server's CPU time per operation and ServerRate
	// the requests it counted per second, from its metrics.
	ServerCPUms float64 `json:"server_cpu_ms_per_op,omitempty"`
	ServerRate  float64 `json:"server_requests_per_s,omitempty"`
	// ClientPoWms is the load tool's time per operation solving the
	// proofs of work a browser would solve (one core's CPU).
	ClientPoWms float64 `json:"client_pow_ms_per_op,omitempty"`
}

// scenario is one named load. Exactly one of request and flow is set.
type scenario struct {
	name string
	// limit names the costly step: a signing algorithm (op.Algorithms),
	// hashLimitName or "".
	limit string
	// serverAlg is the default signing algorithm the server must have.
	serverAlg string
	// request builds the single request vegeta sends, after setup.
	request func(ctx context.Context, t *Target) (vegeta.Target, error)
	// flow makes one worker's operation; called once per worker.
	flow func(ctx context.Context, t *Target) (func(ctx context.Context) error, error)
}

// scenarios are the loads, in the order they run.
var scenarios = []scenario{
	{name: "discovery", request: get("/.well-known/openid-configuration")},
	{name: "jwks", request: get("/keys")},
	{name: "client_credentials", request: clientCredentials},
	{name: "introspection", request: introspection},
	{name: "userinfo", request: userinfo},
	{name: "refresh", limit: op.AlgRS256, flow: refreshFlow}, // a refresh signs a new ID token
	{name: "sso_code_flow", limit: op.AlgRS256, flow: ssoCodeFlow(op.AlgRS256)},
	{name: "sso_code_flow_es256", limit: op.AlgES256, flow: ssoCodeFlow(op.AlgES256)},
	{name: "sso_code_flow_eddsa", limit: op.AlgEdDSA, flow: ssoCodeFlow(op.AlgEdDSA)},
	{name: "password_sign_in", limit: hashLimitName, flow: passwordSignIn},
	{name: "registration", flow: registrationFlow},
	// Last: each may restart a started server with another default.
	{name: "client_credentials_jwt_rs256", limit: op.AlgRS256, serverAlg: op.AlgRS256, request: clientCredentialsJWT(op.AlgRS256)},
	{name: "client_credentials_jwt_ps256", limit: op.AlgPS256, serverAlg: op.AlgPS256, request: clientCredentialsJWT(op.AlgPS256)},
	{name: "client_credentials_jwt_es256", limit: op.AlgES256, serverAlg: op.AlgES256, request: clientCredentialsJWT(op.AlgES256)},
	{name: "client_credentials_jwt_eddsa", limit: op.AlgEdDSA, serverAlg: op.AlgEdDSA, request: clientCredentialsJWT(op.AlgEdDSA)},
}

// unavailableError says why a scenario cannot run against this target:
// the run goes on without it.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string { return e.reason }

func unavailable(reason string) error { return &unavailableError{reason} }

// Names lists the scenarios.
func Names() []string {
	out := make([]string, 0, len(scenarios))
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

// Check refuses options Run would refuse, before anything is started.
func Check(o Options) error {
	if o.Duration <= 0 || o.Concurrency <= 0 {
		return errors.New("bench: duration and concurrency must be positive")
	}
	_, err := choose(o.Scenarios)
	return err
}

// Run runs the chosen scenarios one after another against t, printing a
// table row and a JSON line for each to out.
func Run(ctx context.Context, t *Target, o Options, out io.Writer) ([]Result, error) {
	if err := Check(o); err != nil {
		return nil, err
	}
	if o.LimitDuration <= 0 {
		o.LimitDuration = 3 * time.Second
	}
	chosen, err := choose(o.Scenarios)
	if err != nil {
		return nil, err
	}
	t.transport = &http.Transport{MaxIdleConns: 4 * o.Concurrency, MaxIdleConnsPerHost: 4 * o.Concurrency, IdleConnTimeout: time.Minute}
	t.http = &http.Client{Transport: t.transport, Timeout: requestTimeout}
	t.registrants = newRegistrant()
	limits, err := measureLimits(chosen, t, o.LimitDuration)
	if err != nil {
		return nil, err
	}
	for _, l := range limits {
		fmt.Fprintf(out, "limit: %s %.0f/s on this machine\n", l.Name, l.Rate)
	}
	fmt.Fprintf(out, "%-28s %8s %8s %8s %8s %8s %7s %6s %7s %11s\n", "scenario", "ops", "ops/s", "p50 ms", "p95 ms", "p99 ms", "errors", "429", "ratio", "server ms/op")
	var results []Result
	for _, s := range chosen {
		if s.serverAlg != "" && t.UseSigningAlg != nil {
			if err := t.UseSigningAlg(ctx, s.serverAlg); err != nil {
				return results, fmt.Errorf("bench: %s: %w", s.name, err)
			}
			t.transport.CloseIdleConnections() // to the server that was
		}
		t.powNanos.Store(0)
		before := t.scrape(ctx)
		m, err := s.run(ctx, t, o)
		var u *unavailableError
		if errors.As(err, &u) {
			fmt.Fprintf(out, "%-28s skipped: %s\n", s.name, u.reason)
			continue
		}
		if err != nil {
			return results, fmt.Errorf("bench: %s: %w", s.name, err)
		}
		after := t.scrape(ctx)
		r := result(s.name, m)
		if r.Operations > 0 {
			r.ClientPoWms = float64(t.powNanos.Load()) / 1e6 / float64(r.Operations)
		}
		if l, ok := limits[s.limit]; ok && l.Rate > 0 {
			r.Limit, r.Ratio = &l, r.Throughput/l.Rate
		}
		if before != nil && after != nil && r.Operations > 0 {
			r.ServerCPUms = (after.cpu - before.cpu) * 1000 / float64(r.Operations)
			r.ServerRate = (after.requests - before.requests) / m.Duration.Seconds()
		}
		results = append(results, r)
		ratio := "-"
		if r.Limit != nil {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		server := "-"
		if r.ServerCPUms > 0 {
			server = fmt.Sprintf("%.2f", r.ServerCPUms)
		}
		fmt.Fprintf(out, "%-28s %8d %8.0f %8.2f %8.2f %8.2f %7d %6d %7s %11s\n", r.Scenario, r.Operations, r.Throughput,
			r.P50, r.P95, r.P99, r.Errors, r.Throttled, ratio, server)
		if r.ClientPoWms > 0 {
			fmt.Fprintf(out, "  client proof of work: %.2f ms/op\n", r.ClientPoWms)
		}
		if r.FirstError != "" {
			fmt.Fprintf(out, "  first error: %s\n", r.FirstError)
		}
	}
	for _, r := range results {
		b, _ := json.Marshal(r) // plain values: never fails
		fmt.Fprintf(out, "%s\n", b)
	}
	return results, nil
}

func choose(names []string) ([]scenario, error) {
	if len(names) == 0 {
		return scenarios, nil
	}
	var out []scenario
	for _, n := range names {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == n })
		if i < 0 {
			return nil, fmt.Errorf("bench: no scenario %q (have %s)", n, strings.Join(Names(), ", "))
		}
		out = append(out, scenarios[i])
	}
	return out, nil
}

// measureLimits measures the limits the chosen scenarios need, before
// any load, so the load does not slow them down.
func measureLimits(chosen []scenario, t *Target, d time.Duration) (map[string]limit, error) {
	out := map[string]limit{}
	for _, s := range chosen {
		if _, done := out[s.limit]; done || s.limit == "" {
			continue
		}
		var (
			l   limit
			err error
		)
		if s.limit == hashLimitName {
			l, err = hashLimit(t.HashParams, d)
		} else {
			l, err = signLimit(s.limit, d)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: measure %s: %w", s.limit, err)
		}
		out[s.limit] = l
	}
	return out, nil
}

// run loads the target with s for o.Duration.
func (s scenario) run(ctx context.Context, t *Target, o Options) (*vegeta.Metrics, error) {
	var m vegeta.Metrics
	if s.request != nil {
		tg, err := s.request(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		n := uint64(o.Concurrency)
		a := vegeta.NewAttacker(vegeta.Client(t.http), vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.MaxBody(1<<20))
		// Rate 0 with a fixed worker count: as fast as the server answers,
		// until the duration has passed and at least one answer came
		// (a loaded machine may take longer than the duration to answer).
		deadline := time.Now().Add(o.Duration)
		for r := range a.Attack(vegeta.NewStaticTargeter(tg), vegeta.Rate{}, 0, s.name) {
			m.Add(r)
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				a.Stop()
			}
		}
		m.Close()
		return &m, nil
	}
	ops := make([]func(context.Context) error, o.Concurrency)
	for i := range ops {
		op, err := s.flow(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		ops[i] = op
	}
	results := make(chan *vegeta.Result, 4*o.Concurrency)
	deadline := time.Now().Add(o.Duration)
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() {
			// At least one operation each, however slow the machine.
			for {
				start := time.Now()
				err := op(ctx)
				r := &vegeta.Result{Attack: s.name, Timestamp: start, Latency: time.Since(start), Code: http.StatusOK}
				switch {
				case errors.Is(err, errThrottled):
					r.Code = http.StatusTooManyRequests
				case err != nil:
					r.Code, r.Error = 0, err.Error()
				}
				results <- r
				if !time.Now().Before(deadline) || ctx.Err() != nil {
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		m.Add(r)
	}
	m.Close()
	return &m, nil
}

func result(name string, m *vegeta.Metrics) Result {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := Result{
		Scenario: name, Operations: m.Requests, Throughput: m.Throughput,
		P50: ms(m.Latencies.P50), P95: ms(m.Latencies.P95), P99: ms(m.Latencies.P99),
		Throttled: uint64(m.StatusCodes[strconv.Itoa(http.StatusTooManyRequests)]),
	}
	r.Errors = m.Requests - uint64(float64(m.Requests)*m.Success+0.5) - r.Throttled
	if len(m.Errors) > 0 {
		r.FirstError = m.Errors[0]
	}
	return r
}

// --- scenarios ---

func get(path string) func(context.Context, *Target) (vegeta.Target, error) {
	return func(_ context.Context, t *Target) (vegeta.Target, error) {
		return vegeta.Target{Method: http.MethodGet, URL: t.URL + path}, nil
	}
}

func form(t *Target, path string, c Client, body url.Values) vegeta.Target {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {c.basic()}}
	return vegeta.Target{Method: http.MethodPost, URL: t.URL + path, Header: h, Body: []byte(body.Encode())}
}

func clientCredentials(_ context.Context, t *Target) (vegeta.Target, error) {
	if t.Service.ID == "" {
		return vegeta.Target{}, errors.New("no client_credentials client (--service-id)")
	}
	return form(t, "/oauth/token", t.Service, url.Values{"grant_type": {"client_credentials"}}), nil
}

// clientCredentialsJWT is client_credentials with a JWT access token,
// which the server signs with its default algorithm: that must be alg.
func clientCredentialsJWT(alg string) func(context.Context, *Target) (vegeta.Target, error) {
	return func(ctx context.Context, t *Target) (vegeta.Target, error) {
		if t.JWTService.ID == "" {
			return vegeta.Target{}, unavailable("no client_credentials client with JWT access tokens (--jwt-service-id)")
		}
		grant := url.Values{"grant_type": {"client_credentials"}}
		tk, err := t.token(ctx, t.JWTService, grant)
		if err != nil {
			return vegeta.Target{}, err
		}
		if got := jwtAlg(tk.AccessToken); got != alg {
			return vegeta.Target{}, unavailable(fmt.Sprintf("the target signs JWT access tokens with %q, not %s (its SATUPINTU_SIGNING_ALG)", got, alg))
		}
		return form(t, "/oauth/token", t.JWTService, grant), nil
	}
}

func introspection(ctx context.Context, t *Target) (vegeta.Target, error) {
	_, tk, err := t.signedInTokens(ctx, t.Code)
	if err != nil {
		return vegeta.Target{}, err
	}
	return form(t, "/oauth/introspect", t.Code, url.Values{"token": {tk.AccessToken}}), nil
}

func userinfo(ctx context.Context, t *Target) (vegeta.Target, error) {
	_, tk, err := t.signedInTokens(ctx, t.Code)
	if err != nil {
		return vegeta.Target{}, err
	}
	return vegeta.Target{Method: http.MethodGet, URL: t.URL + "/userinfo",
		Header: http.Header{"Authorization": {"Bearer " + tk.AccessToken}}}, nil
}

// refreshFlow: each worker signs in once, then refreshes, rotating its
// refresh token every time.
func refreshFlow(ctx context.Context, t *Target) (func(context.Context) error, error) {
	b, tk, err := t.signedInAs(ctx, op.AlgRS256)
	if err != nil {
		return nil, err
	}
	rt := tk.RefreshToken
	return func(ctx context.Context) error {
		next, err := t.token(ctx, b.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err != nil {
			return err
		}
		rt = next.RefreshToken
		return nil
	}, nil
}

// ssoCodeFlow: each worker signs in once to the code client of alg;
// every operation is a whole code flow on that session: /authorize
// answered without a page, then the exchange that signs the ID token.
func ssoCodeFlow(alg string) func(context.Context, *Target) (func(context.Context) error, error) {
	return func(ctx context.Context, t *Target) (func(context.Context) error, error) {
		b, _, err := t.signedInAs(ctx, alg)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			p := newPKCE()
			code, err := b.ssoCode(ctx, p)
			if err != nil {
				return err
			}
			_, err = t.exchange(ctx, b.app, code, p)
			return err
		}, nil
	}
}

// passwordSignIn: every operation is a new browser through the sign-in
// form, up to the code (the argon2id verification is its cost).
func passwordSignIn(_ context.Context, t *Target) (func(context.Context) error, error) {
	return func(ctx context.Context) error {
		_, err := t.newBrowser(t.Code).signIn(ctx, newPKCE())
		return err
	}, nil
}
