// Package redistest opens Redis-backed stores for tests. Each test gets a
// random key prefix, so tests (and packages tested in parallel) share one
// Redis without seeing each other's keys, and the prefix's keys are deleted
// when the test ends.
//
// The server is SATUPINTU_TEST_REDIS_URL, or DefaultURL. When it does not
// answer the test is skipped, unless SATUPINTU_TEST_REQUIRE=1 (as in CI),
// where a missing Redis must fail the run rather than pass it silently.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage/redis"
)

// DefaultURL is the Redis tests use when SATUPINTU_TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the Redis URL tests use. Open a second store on the same
// prefix with OpenPrefix, or with redis.Open(ctx, URL(), redis.WithPrefix(p)),
// to play a second provider node.
func URL() string {
	if u := os.Getenv("SATUPINTU_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Open returns a store under a fresh random prefix, and the prefix. The store
// is closed and the prefix's keys deleted when t ends.
func Open(t testing.TB, opts ...redis.Option) (*redis.Store, string) {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	prefix := "satupintu-test:" + hex.EncodeToString(b[:]) + ":"
	s := OpenPrefix(t, prefix, opts...)
	t.Cleanup(func() { deleteKeys(t, prefix) })
	return s, prefix
}

// OpenPrefix returns another store on an existing prefix, sharing state with
// every store on it as provider nodes sharing one Redis do. It is closed when
// t ends; the keys are left to whoever made the prefix.
func OpenPrefix(t testing.TB, prefix string, opts ...redis.Option) *redis.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // generous: a loaded machine is slow; a missing Redis refuses at once
	defer cancel()
	opts = append(opts[:len(opts):len(opts)], redis.WithPrefix(prefix)) // the caller's array stays as it was
	s, err := redis.Open(ctx, URL(), opts...)
	if err != nil {
		if os.Getenv("SATUPINTU_TEST_REQUIRE") == "1" {
			t.Fatalf("redis not reachable at %s (SATUPINTU_TEST_REQUIRE=1): %v", URL(), err)
		}
		t.Skipf("redis not reachable at %s: %v", URL(), err)
	}
	t.Cleanup(func() {
		// The conformance suite closes its stores itself; Close is idempotent.
		if err := s.Close(); err != nil {
			t.Errorf("close redis store: %v", err)
		}
	})
	return s
}

// deleteKeys removes every key under prefix. It runs from Cleanup, after
// t's context is cancelled, hence its own.
func deleteKeys(t testing.TB, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // generous: a loaded machine is slow
	defer cancel()
	o, err := goredis.ParseURL(URL())
	if err != nil {
		t.Errorf("redistest: %v", err)
		return
	}
	rdb := goredis.NewClient(o)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("redistest: scan %s*: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("redistest: delete %s*: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}

// globEscape quotes the characters SCAN MATCH treats as patterns, so a
// prefix matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
