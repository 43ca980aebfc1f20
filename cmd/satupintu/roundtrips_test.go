package main

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage/postgres"
	"satupintu/storage/redis"
)

// tally records what a node asks of Redis and Postgres: one entry per
// round trip (a command, a pipeline or a script) and per SQL statement.
type tally struct {
	mu    sync.Mutex
	redis []string
	sql   []string
}

func (t *tally) add(list *[]string, s string) {
	t.mu.Lock()
	*list = append(*list, s)
	t.mu.Unlock()
}

func (t *tally) reset() (redis, sql []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	redis, sql = t.redis, t.sql
	t.redis, t.sql = nil, nil
	return redis, sql
}

func (t *tally) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (t *tally) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if by := caller("satupintu/storage/redis."); !strings.Contains(by, "storeCheck") {
			t.add(&t.redis, cmd.Name()+" by "+by)
		}
		return next(ctx, cmd)
	}
}

func (t *tally) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		names := make([]string, len(cmds))
		handshake := true
		for i, c := range cmds {
			names[i] = c.Name()
			handshake = handshake && slices.Contains([]string{"hello", "client", "auth", "select"}, names[i])
		}
		// go-redis opens a pool connection with HELLO / CLIENT SETINFO:
		// once per connection, whenever a loaded machine makes the pool
		// grow, never per flow.
		if !handshake {
			t.add(&t.redis, "pipeline("+strings.Join(names, ",")+")")
		}
		return next(ctx, cmds)
	}
}

func (t *tally) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	// The job queue's polling and the readiness probe (storeCheck, as on
	// Redis) share the pool but not the request path.
	if by := caller("satupintu/storage/sqlstore."); by != "" && !strings.Contains(by, "storeCheck") {
		sql := strings.Join(strings.Fields(d.SQL), " ")
		t.add(&t.sql, by+": "+sql[:min(len(sql), 40)])
	}
	return ctx
}

// caller names the first function on the stack in the package with the
// given prefix, and what called it from outside the store.
func caller(prefix string) string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	var found string
	for {
		f, more := frames.Next()
		switch {
		case strings.HasPrefix(f.Function, prefix):
			found = strings.TrimPrefix(f.Function, "satupintu/")
		case found != "" && !strings.HasPrefix(f.Function, "satupintu/storage/"):
			return found + " ← " + strings.TrimPrefix(f.Function, "satupintu/")
		}
		if !more {
			return found
		}
	}
}

func (t *tally) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestCodeFlowRoundTrips counts what one single-sign-on code flow costs a
// node on Postgres and Redis: /authorize for a signed-in user, then the
// code exchange (with a refresh token). Issue 13 measured 12 round trips
// and about 5 statements; the log lists each so a regression names itself.
func TestCodeFlowRoundTrips(t *testing.T) {
	var tl tally
	c := newCluster(t, 1, nodeOptions{direct: true, redis: []redis.Option{redis.WithHook(&tl)},
		postgres: []postgres.Option{postgres.WithTracer(&tl)},
		config:   func(cfg *Config) { cfg.ClientCacheTTL = time.Hour }})
	b := c.newBrowser()
	c.signIn(b, "app-one", newFlow())
	// A first flow warms the caches a node keeps (clients, keys).
	flowOnce(t, c, b)
	tl.reset()

	flowOnce(t, c, b)
	rt, sql := tl.reset()
	t.Logf("redis round trips (%d):\n%s", len(rt), strings.Join(rt, "\n"))
	t.Logf("postgres statements (%d):\n%s", len(sql), strings.Join(sql, "\n"))
	const maxRedis, maxSQL = 5, 1
	if len(rt) > maxRedis {
		t.Errorf("a code flow took %d Redis round trips, budget %d", len(rt), maxRedis)
	}
	if len(sql) > maxSQL {
		t.Errorf("a code flow took %d Postgres statements, budget %d", len(sql), maxSQL)
	}
	// The one statement left is the refresh token, which must outlive
	// Redis's data; everything read is cached.
	if len(sql) == 1 && !strings.Contains(sql[0], "INSERT INTO refresh_tokens") {
		t.Errorf("the statement of a code flow is %q, want the refresh token's insert", sql[0])
	}
}

// flowOnce runs /authorize on b's session and redeems the code.
func flowOnce(t *testing.T, c *cluster, b *browser) {
	t.Helper()
	f := newFlow()
	resp, _ := b.get(c.authURL("app-one", f))
	q := c.redirectParams(resp, "app-one")
	tok := c.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
	if tok.status != http.StatusOK || tok.IDToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token: %+v", tok)
	}
}
