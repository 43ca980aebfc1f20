package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"satupintu/storage"
)

// Keys written before migration 0015 keep signing: each waits two minutes
// after its creation as before, has a predecessor no new key can name, and
// the first successor of an algorithm retires all of them.
func TestMigration15KeepsSigningKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	migrateTo(t, old, 12)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"r1", "r2"} {
		if _, err := old.Exec(`INSERT INTO signing_keys (id, algorithm, private_der, created_at, not_after)
			VALUES ($1, 'RS256', X'3082', $2, 0)`, id, created.UnixMicro()); err != nil {
			t.Fatal(err)
		}
		created = created.Add(time.Hour)
	}
	if _, err := old.Exec(`INSERT INTO clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
		public, grant_types, access_token_format, created_at, updated_at)
		VALUES ('c1', '', 'e-BPOM', '["https://rp.example/cb"]', '[]', TRUE, '["authorization_code"]', 'opaque', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := open(t, path)
	defer s.Close()
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys after migration: %v %v", keys, err)
	}
	for _, k := range keys {
		if !k.ActivatesAt.Equal(k.CreatedAt.Add(2*time.Minute)) || k.Predecessor != "legacy:"+k.ID || k.Sealed || !k.NotAfter.IsZero() {
			t.Errorf("key from before 0015: %+v", k)
		}
	}
	if c, err := s.ClientByID(ctx, "c1"); err != nil || c.IDTokenSignedResponseAlg != "" {
		t.Errorf("client from before 0015: %+v %v", c, err)
	}
	next := storage.SigningKey{ID: "r3", Algorithm: "RS256", PrivateDER: []byte{1}, Predecessor: "r2",
		CreatedAt: created, ActivatesAt: created.Add(2 * time.Minute)}
	retire := created.Add(3 * time.Hour)
	if err := s.CreateSigningKey(ctx, next, retire); err != nil {
		t.Fatal(err)
	}
	dup := next
	dup.ID = "r3bis"
	if err := s.CreateSigningKey(ctx, dup, retire); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a second successor of r2: %v", err)
	}
	keys, _ = s.SigningKeys(ctx)
	for _, k := range keys[:2] {
		if !k.NotAfter.Equal(retire) {
			t.Errorf("old key %s retires at %v, want %v", k.ID, k.NotAfter, retire)
		}
	}
}
