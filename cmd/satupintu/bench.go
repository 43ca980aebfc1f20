package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"satupintu/bench"
	"satupintu/mail"
	"satupintu/op"
	"satupintu/password"
	"satupintu/storage"
)

// benchCommand runs the load tool (package bench) against a running
// provider (--target), or starts one as a separate process on whichever
// backend the configuration selects (SATUPINTU_DATABASE_URL,
// SATUPINTU_REDIS_URL) and loads that.
func benchCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("bench")
	target := fs.String("target", "", "issuer URL of a running provider; empty: start one (see the README)")
	metricsURL := fs.String("metrics", "", "the target's /metrics URL, for the server's own view")
	scenarioList := fs.String("scenarios", "", "comma-separated scenarios; empty: all of "+strings.Join(bench.Names(), ","))
	duration := fs.Duration("duration", 10*time.Second, "how long each scenario runs")
	concurrency := fs.Int("concurrency", 16, "concurrent workers (people, or connections)")
	limitDuration := fs.Duration("limit-duration", 3*time.Second, "how long each limit (signing, hashing) is measured")
	clientID := fs.String("client-id", "", "--target: a confidential code-flow client")
	clientSecret := fs.String("client-secret", "", "--target: its secret")
	redirectURI := fs.String("redirect-uri", "", "--target: one of its redirect URIs")
	serviceID := fs.String("service-id", "", "--target: a client_credentials client")
	serviceSecret := fs.String("service-secret", "", "--target: its secret")
	jwtServiceID := fs.String("jwt-service-id", "", "--target: a client_credentials client with JWT access tokens")
	jwtServiceSecret := fs.String("jwt-service-secret", "", "--target: its secret")
	username := fs.String("username", "", "--target: a user who may sign in to the code-flow client")
	passwordStdin := fs.Bool("password-stdin", false, "--target: read the user's password from stdin")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected argument %q", fs.Arg(0))
	}
	opts := bench.Options{Duration: *duration, Concurrency: *concurrency, LimitDuration: *limitDuration}
	if *scenarioList != "" {
		opts.Scenarios = strings.Split(*scenarioList, ",")
	}
	if opts.Duration <= 0 || opts.Concurrency <= 0 || opts.Concurrency > 10000 {
		return usagef("bench: --duration must be positive and --concurrency between 1 and 10000")
	}
	if err := bench.Check(opts); err != nil {
		return usagef("%v", err)
	}
	t := &bench.Target{URL: strings.TrimSuffix(*target, "/"), MetricsURL: *metricsURL, HashParams: password.OWASP,
		Code:       bench.Client{ID: *clientID, Secret: *clientSecret, RedirectURI: *redirectURI},
		Service:    bench.Client{ID: *serviceID, Secret: *serviceSecret},
		JWTService: bench.Client{ID: *jwtServiceID, Secret: *jwtServiceSecret}, User: *username}
	if t.URL != "" {
		if *passwordStdin {
			pw, err := (&admin{stdin: stdin}).readPassword()
			if err != nil {
				return err
			}
			t.Password = pw
		}
		if t.Code.ID == "" || t.Code.RedirectURI == "" || t.User == "" || t.Password == "" {
			return usagef("bench: --target needs --client-id, --client-secret, --redirect-uri, --username and --password-stdin")
		}
	} else {
		started, stop, err := startBenchServer(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer stop()
		t = started
	}
	fmt.Fprintf(stdout, "target %s, %d workers, %s per scenario\n", t.URL, opts.Concurrency, opts.Duration)
	_, err := bench.Run(ctx, t, opts, stdout)
	return err
}

// startBenchServer starts `satupintu serve` as a child process on a free
// loopback port, with its own data folder (and Redis key prefix), its mail
// sent to a sink the bench reads, code clients for RS256, ES256 and EdDSA
// ID tokens, a service client with opaque and one with JWT access tokens,
// and a user made with the admin commands. The limits on pending
// authorization requests and registration drafts are off: all sign-ins
// come from one address. The child starts signing with RS256 by default
// and is restarted with another default when a scenario needs it (JWT
// access tokens are signed with the default).
func startBenchServer(ctx context.Context, getenv func(string) string, stderr io.Writer) (*bench.Target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("bench: find the satupintu binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "satupintu-bench-")
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, nil, err
	}
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, nil, err
	}
	sink, err := bench.NewMailSink()
	if err != nil {
		return nil, nil, err
	}
	smtpHost, smtpPort, _ := net.SplitHostPort(sink.Addr())
	run := storage.NewID()[:8]
	env := []string{
		"SATUPINTU_ADDR=" + addr, "SATUPINTU_ISSUER=http://" + addr, "SATUPINTU_DATA_DIR=" + dir,
		"SATUPINTU_METRICS_ADDR=" + metricsAddr, "SATUPINTU_DEMO=false", "SATUPINTU_LOG_LEVEL=warn",
		"SATUPINTU_REDIS_PREFIX=satupintu-bench-" + run + ":", "SATUPINTU_LIMIT_AUTHORIZE=0/0/15m",
		"SATUPINTU_LIMIT_REGISTER=0/0/24h",
		"SATUPINTU_SMTP_HOST=" + smtpHost, "SATUPINTU_SMTP_PORT=" + smtpPort, "SATUPINTU_SMTP_TLS=" + mail.TLSNone,
	}
	// OTEL_*: the cost of tracing can be measured too (README, Tracing).
	for _, k := range []string{"SATUPINTU_DATABASE_URL", "SATUPINTU_REDIS_URL", "SATUPINTU_PPROF", "PATH", "HOME", "GOMAXPROCS", "GOGC", "GOMEMLIMIT",
		"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if v := getenv(beMainEnv); v != "" { // the test binary standing in for satupintu
		env = append(env, beMainEnv+"="+v)
	}
	srv := &benchServer{exe: exe, env: env, dir: dir, issuer: "http://" + addr}
	cleanup := func() {
		srv.stop()
		sink.Close()
		os.RemoveAll(dir)
	}
	t, err := srv.setup(ctx, run)
	if err == nil {
		err = srv.start(ctx, op.AlgRS256)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "bench: started satupintu serve at %s (data %s)\n", srv.issuer, dir)
	t.URL, t.MetricsURL, t.HashParams, t.Mail = srv.issuer, "http://"+metricsAddr+"/metrics", password.OWASP, sink
	t.UseSigningAlg = srv.start
	return t, cleanup, nil
}

// benchServer is the bench's child `satupintu serve`.
type benchServer struct {
	exe, dir, issuer string
	env              []string
	alg              string // the default signing algorithm it runs with
	cmd              *exec.Cmd
	exited           chan struct{} // closed when cmd has exited
	waitErr          error         // cmd.Wait's, once exited is closed
	log              *os.File
}

// setup makes the clients and the user with the admin commands.
func (s *benchServer) setup(ctx context.Context, run string) (*bench.Target, error) {
	admin := func(stdin string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, s.exe, args...)
		cmd.Env, cmd.Stdin = s.env, strings.NewReader(stdin)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("bench: satupintu %s: %w: %s", strings.Join(args[:2], " "), err, errb.String())
		}
		return out, nil
	}
	client := func(name string, args ...string) (bench.Client, error) {
		out, err := admin("", append([]string{"client", "create", "--name", "bench " + name + " " + run, "--json"}, args...)...)
		if err != nil {
			return bench.Client{}, err
		}
		var c clientJSON
		if json.Unmarshal(out, &c) != nil {
			return bench.Client{}, errors.New("bench: client create gave no JSON")
		}
		return bench.Client{ID: c.ClientID, Secret: c.ClientSecret}, nil
	}
	const redirect = "http://127.0.0.1:9/callback" // never called: the bench reads the code from the redirect
	t := &bench.Target{Codes: map[string]bench.Client{}}
	for _, alg := range []string{op.AlgRS256, op.AlgES256, op.AlgEdDSA} {
		c, err := client("code "+alg, "--redirect-uri", redirect, "--id-token-alg", alg)
		if err != nil {
			return nil, err
		}
		c.RedirectURI = redirect
		t.Codes[alg] = c
	}
	t.Code = t.Codes[op.AlgRS256]
	var err error
	if t.Service, err = client("service", "--grant-type", storage.GrantClientCredentials); err != nil {
		return nil, err
	}
	if t.JWTService, err = client("service jwt", "--grant-type", storage.GrantClientCredentials, "--access-token-format", "jwt"); err != nil {
		return nil, err
	}
	t.User, t.Password = "bench."+run, password.GenerateSecret()[:20]
	if _, err := admin(t.Password+"\n", "user", "create", "--username", t.User, "--email", t.User+"@bench.invalid", "--password-stdin"); err != nil {
		return nil, err
	}
	return t, nil
}

// start (re)starts the server signing with alg by default, unless it runs
// with alg already, and waits until it is ready.
func (s *benchServer) start(ctx context.Context, alg string) error {
	if s.cmd != nil && s.alg == alg {
		return nil
	}
	s.stop()
	log, err := os.OpenFile(filepath.Join(s.dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(s.exe, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = append(slices.Clip(s.env), "SATUPINTU_SIGNING_ALG="+alg), log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("bench: start satupintu serve: %w", err)
	}
	s.cmd, s.alg, s.log, s.exited = cmd, alg, log, make(chan struct{})
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	if err := waitReady(ctx, s.issuer, s.exited); err != nil {
		if errors.Is(err, errServeExited) {
			err = fmt.Errorf("%w: %v", err, s.waitErr)
		}
		return fmt.Errorf("%w (its log: %s)", err, log.Name())
	}
	return nil
}

// stop ends the server, if it runs.
func (s *benchServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.log.Close()
	s.cmd = nil
}

var errServeExited = errors.New("bench: satupintu serve exited")

// waitReady polls /readyz until it answers 200, the child exits or ctx ends.
func waitReady(ctx context.Context, issuer string, exited <-chan struct{}) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errServeExited
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// beMainEnv makes the test binary act as satupintu (TestMain), so the
// bench's child processes can be tested without building the binary.
const beMainEnv = "SATUPINTU_TEST_BE_MAIN"
