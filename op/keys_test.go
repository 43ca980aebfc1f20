package op

import (
	"errors"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/sqlite"
)

// openStore returns a real embedded store: the backends are the fakes.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/op.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func countKeys(t *testing.T, st KeyStore) int {
	t.Helper()
	keys, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestKeyRotationPublishesBeforeSigning(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := openStore(t)
	m, err := newKeyManager(t.Context(), st, AlgRS256, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, st); n != 2 {
		t.Fatalf("first start created %d keys, want one RS256 and one ES256", n)
	}
	first, err := m.signingKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	now = now.Add(time.Hour)
	rotated, err := m.Rotate(t.Context(), AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := m.publicKeys(t.Context())
	if len(pub) != 3 {
		t.Fatalf("%d keys published after rotation, want 3", len(pub))
	}
	if k, _ := m.signingKey(t.Context()); k.ID() != first.ID() {
		t.Fatalf("new key %s signs before relying parties could fetch it", k.ID())
	}
	now = now.Add(2*time.Minute + time.Second)
	if k, _ := m.signingKey(t.Context()); k.ID() != rotated {
		t.Fatalf("signing with %s, want the rotated key %s after the grace period", k.ID(), rotated)
	}
}

func TestKeysSurviveStorageOutage(t *testing.T) {
	now := time.Now()
	st := openStore(t)
	m, err := newKeyManager(t.Context(), st, AlgES256, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	st.Close()               // the database is gone
	now = now.Add(time.Hour) // the cache is stale: a reload is attempted and fails
	k, err := m.signingKey(t.Context())
	if err != nil || k.SignatureAlgorithm() != AlgES256 {
		t.Fatalf("signing during an outage: %v %v", k, err)
	}
}

func TestKeyManagerRefusesUnknownAlgorithm(t *testing.T) {
	if _, err := newKeyManager(t.Context(), openStore(t), "HS256", time.Minute, time.Now); err == nil {
		t.Fatal("HS256 accepted as a signing algorithm")
	}
}

func TestClientCacheExpires(t *testing.T) {
	now := time.Now()
	st := openStore(t)
	ctx := t.Context()
	if err := st.CreateClient(ctx, storage.Client{ID: "a", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	cc := newClientCache(st, 5*time.Second, func() time.Time { return now })
	if c, _ := cc.get(t.Context(), "a"); c.Name != "one" {
		t.Fatal(c)
	}
	if err := st.UpdateClient(ctx, "a", func(c *storage.Client) error { c.Name = "two"; return nil }); err != nil {
		t.Fatal(err)
	}
	if c, _ := cc.get(t.Context(), "a"); c.Name != "one" {
		t.Fatal("cache not used within its TTL")
	}
	now = now.Add(6 * time.Second)
	if c, _ := cc.get(t.Context(), "a"); c.Name != "two" {
		t.Fatal("cache served a stale client after its TTL")
	}
	if _, err := cc.get(t.Context(), "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	if err := st.CreateClient(ctx, storage.Client{ID: "ghost", Name: "ghost"}); err != nil {
		t.Fatal(err)
	}
	cc.invalidate("ghost")
	if _, err := cc.get(t.Context(), "ghost"); err != nil {
		t.Fatalf("invalidate did not drop the cached miss: %v", err)
	}
}
