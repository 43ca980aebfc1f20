package main

import (
	"path/filepath"
	"strings"
	"testing"

	"satupintu/password"
	"satupintu/storage/sqlite"
	"satupintu/storage/sqlstore"
)

func TestSeedCommand(t *testing.T) {
	c := cli{t: t, dataDir: t.TempDir()}
	if code, _, errOut := c.run("", "seed"); code != 2 || !strings.Contains(errOut, "--users") {
		t.Errorf("seed without counts: code %d, %q", code, errOut)
	}
	code, out, errOut := c.run("", "seed", "--no-demo", "--users", "9", "--registrations", "30")
	if code != 0 || !strings.Contains(out, "added 9 users, 3 organizations and 30 registrations") {
		t.Fatalf("seed: code %d, out %q, err %q", code, out, errOut)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(c.dataDir, "satupintu.db"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByLogin(t.Context(), sqlstore.SeedEmail(8))
	if err != nil {
		t.Fatalf("a seeded user: %v", err)
	}
	if err := password.Verify(seedPassword, u.PasswordHash); err != nil {
		t.Errorf("the seeded user's password: %v", err)
	}
	if !strings.Contains(out, seedPassword) {
		t.Errorf("output does not name the password: %q", out)
	}
	s.Close()

	if code, _, errOut := c.run("some password\n", "user", "create", "--username", "siti", "--email", "siti@contoh.co.id", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s", code, errOut)
	}
	if code, _, errOut := c.run("", "seed", "--users", "1"); code != 1 || !strings.Contains(errOut, "refusing") {
		t.Errorf("seeding among real users: code %d, %q", code, errOut)
	}
	if code, out, errOut := c.run("", "seed", "--users", "1", "--force"); code != 0 || !strings.Contains(out, "added 1 users") {
		t.Errorf("forced seed: code %d, %q %q", code, out, errOut)
	}
}
