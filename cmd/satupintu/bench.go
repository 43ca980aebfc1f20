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
	"strings"
	"time"

	"satupintu/bench"
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
		Code:    bench.Client{ID: *clientID, Secret: *clientSecret, RedirectURI: *redirectURI},
		Service: bench.Client{ID: *serviceID, Secret: *serviceSecret}, User: *username}
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
// loopback port, with its own data folder (and Redis key prefix), a code
// client, a service client and a user made with the admin commands, and
// the limits on anonymous writes off: all load comes from one address.
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
	run := storage.NewID()[:8]
	env := []string{
		"SATUPINTU_ADDR=" + addr, "SATUPINTU_ISSUER=http://" + addr, "SATUPINTU_DATA_DIR=" + dir,
		"SATUPINTU_METRICS_ADDR=" + metricsAddr, "SATUPINTU_DEMO=false", "SATUPINTU_LOG_LEVEL=warn",
		"SATUPINTU_REDIS_PREFIX=satupintu-bench-" + run + ":", "SATUPINTU_LIMIT_AUTHORIZE=0/0/15m",
	}
	// OTEL_*: the cost of tracing can be measured too (README, Tracing).
	for _, k := range []string{"SATUPINTU_DATABASE_URL", "SATUPINTU_REDIS_URL", "SATUPINTU_SIGNING_ALG", "PATH", "HOME", "GOMAXPROCS",
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
	admin := func(stdin string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("bench: satupintu %s: %w: %s", strings.Join(args[:2], " "), err, errb.String())
		}
		return out, nil
	}
	const redirect = "http://127.0.0.1:9/callback" // never called: the bench reads the code from the redirect
	code, err := admin("", "client", "create", "--name", "bench code "+run, "--redirect-uri", redirect, "--json")
	if err != nil {
		return nil, nil, err
	}
	service, err := admin("", "client", "create", "--name", "bench service "+run, "--grant-type", storage.GrantClientCredentials, "--json")
	if err != nil {
		return nil, nil, err
	}
	var codeClient, serviceClient clientJSON
	if json.Unmarshal(code, &codeClient) != nil || json.Unmarshal(service, &serviceClient) != nil {
		return nil, nil, errors.New("bench: client create gave no JSON")
	}
	user, pw := "bench."+run, password.GenerateSecret()[:20]
	if _, err := admin(pw+"\n", "user", "create", "--username", user, "--email", user+"@bench.invalid", "--password-stdin"); err != nil {
		return nil, nil, err
	}
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("bench: start satupintu serve: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		log.Close()
		os.RemoveAll(dir)
	}
	issuer := "http://" + addr
	if err := waitReady(ctx, issuer, exited); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w (its log: %s)", err, filepath.Join(dir, "serve.log"))
	}
	fmt.Fprintf(stderr, "bench: started satupintu serve at %s (data %s)\n", issuer, dir)
	return &bench.Target{URL: issuer, MetricsURL: "http://" + metricsAddr + "/metrics", HashParams: password.OWASP,
		Code:    bench.Client{ID: codeClient.ClientID, Secret: codeClient.ClientSecret, RedirectURI: redirect},
		Service: bench.Client{ID: serviceClient.ClientID, Secret: serviceClient.ClientSecret},
		User:    user, Password: pw}, stop, nil
}

// waitReady polls /readyz until it answers 200, the child exits or ctx ends.
func waitReady(ctx context.Context, issuer string, exited <-chan error) error {
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
		case err := <-exited:
			return fmt.Errorf("bench: satupintu serve exited: %v", err)
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
