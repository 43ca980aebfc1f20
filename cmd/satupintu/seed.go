package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"satupintu/password"
	"satupintu/storage/sqlstore"
)

// seedPassword is every seeded user's password, so a load test can sign
// in as any of them. Seeding refuses a database with real users, and the
// README says it is for test databases only.
const seedPassword = "benih-satupintu-uji"

// seeder is a durable store that can be seeded (both SQL backends).
type seeder interface {
	Seed(ctx context.Context, cfg sqlstore.SeedConfig) (sqlstore.SeedResult, error)
}

// seedCommand answers `satupintu seed`: it adds seeded users (with their
// organizations and memberships) and registrations to the configured
// database, for benchmarks and capacity tests.
func seedCommand(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlagSet("seed")
	users := fs.Int("users", 0, "users to add (four to an organization)")
	regs := fs.Int("registrations", 0, "registrations to add, in every state of the officer queue")
	force := fs.Bool("force", false, "seed even a database that has real users (never in production)")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return flagErr(err)
	}
	if fs.NArg() > 0 {
		return usagef("seed: unexpected argument %q", fs.Arg(0))
	}
	if *users < 0 || *regs < 0 || *users+*regs == 0 {
		return usagef("seed: give --users N and/or --registrations N (positive)")
	}
	db, name, err := openDurable(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	s, ok := db.(seeder)
	if !ok {
		return fmt.Errorf("seed: the %s store cannot be seeded", name)
	}
	// One hash for all: argon2id per user would take hours for a million.
	hash, err := password.Hash(seedPassword, password.OWASP)
	if err != nil {
		return fmt.Errorf("seed: hash the password: %w", err)
	}
	start := time.Now()
	res, err := s.Seed(ctx, sqlstore.SeedConfig{Users: *users, Registrations: *regs, PasswordHash: hash, Force: *force})
	if errors.Is(err, sqlstore.ErrRealUsers) {
		return fmt.Errorf("seed: refusing: %w; seeding is for test databases (--force to seed anyway)", err)
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "%s: added %d users, %d organizations and %d registrations in %v\n", name,
		res.Users, res.Organizations, res.Registrations, time.Since(start).Round(time.Millisecond))
	if res.Users > 0 {
		n := res.FirstUser
		fmt.Fprintf(stdout, "every seeded user signs in with the password %q, e.g. %s or %s\n",
			seedPassword, sqlstore.SeedUsername(n), sqlstore.SeedEmail(n))
	}
	return nil
}
