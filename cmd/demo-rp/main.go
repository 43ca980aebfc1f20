// Command demo-rp runs satupintu's demo relying parties: small web apps that
// sign in with satupintu over OpenID Connect and show the claims they get.
//
// By default it serves every app in data/demo-clients.json, the file the
// provider writes on first start ("e-BPOM (demo)" on :8081, "Portal INSW
// (demo)" on :8082). A single app can be given with --client-id instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"satupintu/demorp"
)

const defaultIssuer = "http://localhost:8080"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// config is the parsed command line.
type config struct {
	issuer     string
	configPath string
	single     *demorp.App // set when --client-id is given
}

// run returns the exit status: 0 ok, 1 runtime failure, 2 bad usage.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo-rp: %v (see --help)\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	var apps []demorp.App
	if cfg.single != nil {
		apps = []demorp.App{*cfg.single}
	} else if apps, err = demorp.LoadApps(cfg.configPath); err != nil {
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = " (start satupintu once to write it, or pass --client-id)"
		}
		fmt.Fprintf(stderr, "demo-rp: %v%s\n", err, hint)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demorp.Run(ctx, cfg.issuer, apps, logger); err != nil {
		logger.Error("demo-rp stopped", "err", err)
		return 1
	}
	return 0
}

const usage = `Usage: demo-rp [flags]

Serves the demo relying parties for satupintu. Register at the provider, per app:
  redirect URI             <external-url>/callback
  post-logout redirect URI <external-url>/

Flags:
  --issuer URL          provider issuer (env SATUPINTU_ISSUER, default ` + defaultIssuer + `)
  --config PATH         demo clients JSON file (default data/demo-clients.json):
                        [{"name","client_id","client_secret","addr","external_url"}, ...]
  --client-id ID        serve one app with this client instead of the file
  --client-secret S     its secret (env SATUPINTU_DEMO_CLIENT_SECRET)
  --addr HOST:PORT      its listen address (default localhost:8081)
  --external-url URL    its URL as the browser sees it (default http://<addr>)
  --name NAME           its display name (default "Demo RP")
`

func parseFlags(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("demo-rp", flag.ContinueOnError)
	// flag would print the whole usage on every mistake; we print one line.
	fs.SetOutput(io.Discard)
	issuer := fs.String("issuer", envOr(getenv, "SATUPINTU_ISSUER", defaultIssuer), "")
	configPath := fs.String("config", "data/demo-clients.json", "")
	clientID := fs.String("client-id", "", "")
	clientSecret := fs.String("client-secret", getenv("SATUPINTU_DEMO_CLIENT_SECRET"), "")
	addr := fs.String("addr", "localhost:8081", "")
	externalURL := fs.String("external-url", "", "")
	name := fs.String("name", "Demo RP", "")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if u, err := url.Parse(*issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config{}, fmt.Errorf("--issuer %q is not an absolute http(s) URL", *issuer)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := config{issuer: *issuer, configPath: *configPath}
	if *clientID == "" {
		for _, f := range []string{"client-secret", "addr", "external-url", "name"} {
			if set[f] {
				return config{}, fmt.Errorf("--%s needs --client-id", f)
			}
		}
		return cfg, nil
	}
	if set["config"] {
		return config{}, errors.New("--config and --client-id exclude each other")
	}
	app := demorp.App{Name: *name, ClientID: *clientID, ClientSecret: *clientSecret, Addr: *addr, ExternalURL: *externalURL}
	if app.ClientSecret == "" {
		return config{}, errors.New("--client-id needs --client-secret (or SATUPINTU_DEMO_CLIENT_SECRET)")
	}
	if err := app.Validate(); err != nil {
		return config{}, fmt.Errorf("single app: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	cfg.single = &app
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
