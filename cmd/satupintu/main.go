// Command satupintu is the one binary of the satupintu identity provider:
// `serve` runs it, `migrate` prepares the database, and the admin commands
// (`client`, `user`, `keys`, `settings`) change it, against whichever backend the
// configuration selects. This package only wires the others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"satupintu/jobs"
	"satupintu/op"
)

const usage = `satupintu — OpenID Connect identity provider for the national single window

usage:
  satupintu serve [--addr :8080] [--issuer URL] [--data-dir DIR] [--no-demo]
  satupintu migrate
  satupintu client create --name N --redirect-uri U [--redirect-uri U2] [--post-logout-redirect-uri U] [--public] [--grant-type G ...] [--dpop-required] [--json]
  satupintu client update ID [any flag of client create]   (changes only the flags given)
  satupintu client create|update ... --admin-api   (the admin scope: confidential, client_credentials only)
  satupintu client list [--json] | client show ID | client delete ID | client rotate-secret ID [--json]
  satupintu user create --username U --email E --password-stdin [--name N] [--phone P] [--role officer|admin] [--organization NIB]
  satupintu user list | user set-password --username U | user disable --username U | user enable --username U
  satupintu user unlock --username U      (lifts a sign-in lock, on every node and the embedded server)
  satupintu user set-expiry U YYYY-MM-DD|never [--force]   (last day of sign-in, WIB; --force: a past day)
  satupintu keys rotate [--alg RS256|PS256|ES256|EdDSA|all]
  satupintu keys list                     (each signing key's state; no key material)
  satupintu settings show | settings set KEY LANG VALUE   (service name, contact details, banner; see the README)
  satupintu audit verify                  (checks the audit log's hash chain; exits 1 naming the first broken event)
  satupintu audit export [--format csv|jsonl] [--actor ID] [--action A|prefix.*] [--target ID] [--client ID] [--since T] [--until T]
  satupintu demo-rp [--config data/demo-clients.json]
  satupintu seed --users N --registrations N [--force]   (test databases only: fills them for benchmarks)
  satupintu bench [--scenarios a,b] [--duration 10s] [--concurrency 16] [--target URL ...]   (the load tool)

Every command reads the same configuration: flags, or SATUPINTU_* environment
variables (see the README).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit status: 0 on success,
// 2 for a bad command line, 1 for anything else.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	err := dispatch(ctx, args, stdin, stdout, stderr, getenv)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "satupintu:", ue.msg)
		return 2
	default:
		fmt.Fprintln(stderr, "satupintu:", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "serve":
		return serve(ctx, rest, stdout, stderr, getenv)
	case "demo-rp":
		return demoRP(ctx, rest, stderr, getenv)
	case "bench":
		return benchCommand(ctx, rest, stdin, stdout, stderr, getenv)
	case "seed":
		return seedCommand(ctx, rest, stdout, getenv)
	case "migrate", "client", "user", "keys", "settings", "audit":
	default:
		return usagef("unknown command %q (try: satupintu help)", cmd)
	}

	// Admin commands: shared configuration flags come before the subcommand.
	fs := newFlagSet(cmd)
	cfg, err := loadConfig(fs, rest, getenv)
	if err != nil {
		return usagef("%v", err)
	}
	db, name, err := openDurable(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// Running nodes cache users, organizations and clients: tell them of changes.
	defer publishChanges(db, cfg, slog.New(slog.NewTextHandler(stderr, nil)))()
	a := &admin{store: db, stdin: stdin, stdout: stdout, now: time.Now}
	a.keyTimeline, a.kek = op.Config{KeyRotation: cfg.KeyRotation}.KeyTimeline(), cfg.KEK
	switch cmd {
	case "migrate":
		// River's tables too: opening the job queue applies its migrations.
		if _, err := jobs.Open(ctx, db, jobs.Config{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s database is up to date\n", name)
		return nil
	case "client":
		return a.client(ctx, fs.Args())
	case "user":
		return a.user(ctx, fs.Args())
	case "settings":
		return a.settings(ctx, fs.Args())
	case "audit":
		return a.auditCommand(ctx, fs.Args())
	default:
		return a.keys(ctx, fs.Args())
	}
}

// flagErr turns flag.ErrHelp into a clean exit.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return usagef("%v", err)
}
