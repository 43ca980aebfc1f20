package op

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
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

// testTimeline: keys reload every minute, rotate every 90 days, and what
// they sign lives at most an hour.
var testTimeline = KeyTimeline{Refresh: time.Minute, Rotation: 90 * 24 * time.Hour, TokenLifetime: time.Hour}

func newTestKeyManager(t *testing.T, st KeyStore, kek *KEK, clock func() time.Time) *keyManager {
	t.Helper()
	m, err := newKeyManager(t.Context(), st, AlgRS256, testTimeline, kek, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func published(t *testing.T, m *keyManager) map[string]bool {
	t.Helper()
	keys, err := m.publicKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[k.ID()] = true
	}
	return out
}

func signingID(t *testing.T, m *keyManager, alg string) string {
	t.Helper()
	k, err := m.signingKeyFor(t.Context(), alg)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

func TestFirstStartMakesOneKeyPerAlgorithm(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := openStore(t)
	m := newTestKeyManager(t, st, nil, func() time.Time { return now })
	if n := countKeys(t, st); n != len(Algorithms) {
		t.Fatalf("first start created %d keys, want one per algorithm (%d)", n, len(Algorithms))
	}
	for _, alg := range Algorithms {
		k, err := m.signingKeyFor(t.Context(), alg)
		if err != nil || string(k.SignatureAlgorithm()) != alg {
			t.Errorf("no %s key signs on first start: %v %v", alg, k, err)
		}
	}
	// A second node starting on the same store adds nothing.
	newTestKeyManager(t, st, nil, func() time.Time { return now })
	if n := countKeys(t, st); n != len(Algorithms) {
		t.Errorf("second start left %d keys, want %d", n, len(Algorithms))
	}
}

// TestScheduledRotationTimeline walks one rotation (OIDC Core §10.1.1):
// the successor is published before it signs, the old key stays published
// until everything it signed has expired, then leaves JWKS and storage.
func TestScheduledRotationTimeline(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := openStore(t)
	m := newTestKeyManager(t, st, nil, clock)
	old := signingID(t, m, AlgES256)

	now = now.Add(testTimeline.Rotation - time.Minute)
	if _, err := m.maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, st); n != len(Algorithms) {
		t.Fatalf("%d keys before the rotation is due, want %d", n, len(Algorithms))
	}

	now = now.Add(time.Minute) // due: the next reload makes the successors
	pub := published(t, m)
	if len(pub) != 2*len(Algorithms) {
		t.Fatalf("%d keys published after the scheduled rotation, want %d", len(pub), 2*len(Algorithms))
	}
	var next string
	for id := range pub {
		if id != old {
			if k, _ := m.signingKeyFor(t.Context(), AlgES256); k.ID() == id {
				t.Fatalf("new key %s signs before relying parties could fetch it", id)
			}
		}
	}
	stored, _ := st.SigningKeys(t.Context())
	for _, k := range stored {
		if k.Algorithm == AlgES256 && k.ID != old {
			next = k.ID
			if k.Predecessor != old {
				t.Errorf("successor names %q as predecessor, want %q", k.Predecessor, old)
			}
		}
	}
	if got := signingID(t, m, AlgES256); got != old {
		t.Fatalf("signing with %s during the publish delay, want the old key %s", got, old)
	}

	now = now.Add(testTimeline.PublishDelay())
	if got := signingID(t, m, AlgES256); got != next {
		t.Fatalf("signing with %s after the publish delay, want the successor %s", got, next)
	}
	if !published(t, m)[old] {
		t.Fatal("the old key left JWKS while tokens it signed are still valid")
	}

	now = now.Add(testTimeline.RetireAfter() - time.Second)
	m.invalidate()
	if !published(t, m)[old] {
		t.Fatal("the old key left JWKS before RetireAfter")
	}
	now = now.Add(time.Second)
	m.invalidate()
	if published(t, m)[old] {
		t.Fatal("the old key is still published after it retired")
	}
	stored, _ = st.SigningKeys(t.Context())
	for _, k := range stored {
		if k.ID == old {
			t.Fatal("the retired key is still stored")
		}
	}
	if got := signingID(t, m, AlgES256); got != next {
		t.Fatalf("signing with %s after retirement, want %s", got, next)
	}
}

func TestManualRotationOnlyWhenScheduleIsOff(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := openStore(t)
	manual := testTimeline
	manual.Rotation = 0
	m, err := newKeyManager(t.Context(), st, AlgRS256, manual, nil, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * 365 * 24 * time.Hour)
	m.invalidate()
	published(t, m)
	if n := countKeys(t, st); n != len(Algorithms) {
		t.Fatalf("%d keys after five years without a schedule, want %d", n, len(Algorithms))
	}
	id, err := m.Rotate(t.Context(), AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if !published(t, m)[id] {
		t.Fatal("a manually rotated key is not published at once")
	}
	if got := signingID(t, m, AlgEdDSA); got == id {
		t.Fatal("a manually rotated key signs before the publish delay")
	}
	now = now.Add(manual.PublishDelay())
	if got := signingID(t, m, AlgEdDSA); got != id {
		t.Fatalf("signing with %s after the delay, want %s", got, id)
	}
}

// TestTwoNodesRotateOnce: two key managers (two nodes) on one store find
// the rotation due at once; one successor per algorithm is made.
func TestTwoNodesRotateOnce(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := openStore(t)
	a := newTestKeyManager(t, st, nil, clock)
	b := newTestKeyManager(t, st, nil, clock)
	now = now.Add(testTimeline.Rotation)
	done := make(chan error, 2)
	for _, m := range []*keyManager{a, b} {
		go func() {
			_, err := m.maintain(t.Context())
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := countKeys(t, st); n != 2*len(Algorithms) {
		t.Fatalf("%d keys after two nodes rotated, want %d: one successor per algorithm", n, 2*len(Algorithms))
	}
	// Both nodes serve the same set after their refresh.
	a.invalidate()
	b.invalidate()
	if pa, pb := published(t, a), published(t, b); len(pa) != len(pb) || len(pa) != 2*len(Algorithms) {
		t.Fatalf("nodes publish %d and %d keys", len(pa), len(pb))
	}
}

func TestKeysSurviveStorageOutage(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := openStore(t)
	m := newTestKeyManager(t, st, nil, func() time.Time { return now })
	st.Close()               // the database is gone
	now = now.Add(time.Hour) // the cache is stale: a reload is attempted and fails
	k, err := m.signingKeyFor(t.Context(), AlgES256)
	if err != nil || k.SignatureAlgorithm() != AlgES256 {
		t.Fatalf("signing during an outage: %v %v", k, err)
	}
}

func TestKeyManagerRefusesUnknownAlgorithm(t *testing.T) {
	if _, err := newKeyManager(t.Context(), openStore(t), "HS256", testTimeline, nil, time.Now, nil); err == nil {
		t.Fatal("HS256 accepted as a signing algorithm")
	}
}

func testKEK(t *testing.T, b byte) *KEK {
	t.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{b}, KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealedKeys: with a key-encryption key, no private key is stored in
// plaintext; keys stored before are sealed on start; the wrong key, or
// none, stops the start.
func TestSealedKeys(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := openStore(t)
	newTestKeyManager(t, st, nil, clock) // the embedded default: plaintext
	plain, _ := st.SigningKeys(t.Context())

	kek := testKEK(t, 7)
	m := newTestKeyManager(t, st, kek, clock) // a KEK is configured: sealed on start
	sealed, _ := st.SigningKeys(t.Context())
	if len(sealed) != len(plain) {
		t.Fatalf("%d keys after sealing, want %d", len(sealed), len(plain))
	}
	for i, k := range sealed {
		if !k.Sealed {
			t.Errorf("key %s not sealed", k.ID)
		}
		if bytes.Contains(k.PrivateDER, plain[i].PrivateDER[len(plain[i].PrivateDER)-32:]) {
			t.Errorf("stored row of %s holds its private key in plaintext", k.ID)
		}
		if _, err := x509.ParsePKCS8PrivateKey(k.PrivateDER); err == nil {
			t.Errorf("stored row of %s parses as a private key", k.ID)
		}
	}
	// The same keys sign: sealing changed storage, not the keys.
	if got := signingID(t, m, AlgRS256); got != head(plain, AlgRS256).ID {
		t.Errorf("signing with %s after sealing, want %s", got, head(plain, AlgRS256).ID)
	}
	// New keys are sealed as they are made.
	id, err := m.Rotate(t.Context(), AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := st.SigningKeys(t.Context())
	for _, k := range stored {
		if k.ID == id && !k.Sealed {
			t.Error("a rotated key was stored in plaintext")
		}
	}

	_, err = newKeyManager(t.Context(), st, AlgRS256, testTimeline, testKEK(t, 8), clock, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrWrongKEK) || !strings.Contains(err.Error(), "SATUPINTU_KEY_ENCRYPTION_KEY") {
		t.Errorf("start with the wrong KEK: %v", err)
	}
	_, err = newKeyManager(t.Context(), st, AlgRS256, testTimeline, nil, clock, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "no key-encryption key") {
		t.Errorf("start without the KEK: %v", err)
	}
}

func TestKEKRoundTrip(t *testing.T) {
	kek := testKEK(t, 1)
	sealed := kek.Seal("kid-1", []byte("private"))
	if got, err := kek.Open("kid-1", sealed); err != nil || string(got) != "private" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := kek.Open("kid-2", sealed); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("a sealed key moved to another id opened: %v", err)
	}
	if _, err := testKEK(t, 2).Open("kid-1", sealed); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("another KEK opened the key: %v", err)
	}
	if bytes.Equal(kek.Seal("kid-1", []byte("private")), sealed) {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := ParseKEK(bad); err == nil {
			t.Errorf("ParseKEK(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseKEK error echoes the value: %v", err)
		}
	}
	if _, err := ParseKEK(base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"); err != nil {
		t.Errorf("ParseKEK of a file's content: %v", err)
	}
}

func TestKeyStates(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	keys := []storage.SigningKey{
		{ID: "old", Algorithm: AlgRS256, ActivatesAt: at(0), NotAfter: at(50)},
		{ID: "gone", Algorithm: AlgRS256, ActivatesAt: at(0), NotAfter: at(5)},
		{ID: "cur", Algorithm: AlgRS256, ActivatesAt: at(8)},
		{ID: "next", Algorithm: AlgRS256, ActivatesAt: at(30)},
	}
	got := KeyStates(keys, at(10))
	want := map[string]KeyState{"old": KeyRetiring, "gone": KeyRetired, "cur": KeyActive, "next": KeyPending}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("%s is %s, want %s", id, got[id], s)
		}
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
