package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.RunEphemeral(t, func(t *testing.T, c *conformance.Clock) storage.Ephemeral {
		c.UseRealTime() // Redis expires keys by its own clock
		s, _ := redistest.Open(t)
		return s
	})
}

// admin is a plain go-redis client for looking at what the store wrote.
func admin(t testing.TB) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(o)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Two stores on one prefix are two provider nodes: a flow begun on one ends
// on the other. Another prefix sees none of it.
func TestStoresOnOnePrefixShareState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, prefix := redistest.Open(t)
	b := redistest.OpenPrefix(t, prefix)
	other, _ := redistest.Open(t)

	if err := a.CreateAuthRequest(ctx, storage.AuthRequest{ID: "req", ClientID: "ebpom"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveAuthCode(ctx, "req", "code", time.Minute); err != nil {
		t.Fatalf("SaveAuthCode on the second node: %v", err)
	}
	if _, err := other.AuthRequestByID(ctx, "req"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a store under another prefix sees the request: %v", err)
	}
	got, err := a.ConsumeAuthCode(ctx, "code")
	if err != nil || got.ClientID != "ebpom" {
		t.Fatalf("ConsumeAuthCode on the first node: (%+v, %v)", got, err)
	}
}

// Updates from several nodes at once all land: the compare-and-set retries
// instead of overwriting a concurrent change.
func TestConcurrentUpdatesFromTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, prefix := redistest.Open(t)
	b := redistest.OpenPrefix(t, prefix)
	if err := a.CreateAuthRequest(ctx, storage.AuthRequest{ID: "req"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.UpdateAuthRequest(ctx, "req", func(r *storage.AuthRequest) error {
				r.Scopes = append(r.Scopes, fmt.Sprint(i))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateAuthRequest %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	r, err := a.AuthRequestByID(ctx, "req")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scopes) != n {
		t.Errorf("after %d concurrent appends the request has scopes %v", n, r.Scopes)
	}
}

// The per-user and per-family indexes must not grow without bound: expired
// members are pruned on the next add, deleted ones when the index is read,
// and an index lives exactly as long as its longest-lived member.
func TestIndexesStayBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, prefix := redistest.Open(t)
	rdb := admin(t)
	usr, fam := prefix+"usr:u1", prefix+"fam:f1"
	// short is seconds ahead: Redis refuses an expiry already past, which
	// a loaded machine could reach before the create runs.
	now := time.Now()
	short, long := now.Add(2*time.Second), now.Add(time.Hour)

	for i, exp := range []time.Time{long, short} {
		if err := s.CreateSession(ctx, storage.Session{ID: fmt.Sprint("s", i), UserID: "u1", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: fmt.Sprint("t", i), FamilyID: "f1", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{usr, fam} {
		// A short-lived member added last must not shorten the index.
		want := time.Until(long) // read first: PTTL can only be smaller
		ttl := rdb.PTTL(ctx, key).Val()
		if ttl < want-time.Minute || ttl > want+time.Millisecond {
			t.Errorf("%s expires in %v, want %v (with its longest-lived member)", key, ttl, want)
		}
	}

	// s1 and t1 expire, by Redis's clock, which the index pruning reads.
	waitExpired(t, rdb, prefix+"sess:s1", prefix+"tok:t1")
	if err := s.CreateSession(ctx, storage.Session{ID: "s2", UserID: "u1", ExpiresAt: long}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: "t2", FamilyID: "f1", ExpiresAt: long}); err != nil {
		t.Fatal(err)
	}
	checkMembers := func(key string, want ...string) {
		t.Helper()
		got := rdb.ZRange(ctx, key, 0, -1).Val()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", key, got, want)
		}
	}
	checkMembers(usr, "s0", "s2")
	checkMembers(fam, "t0", "t2")

	if err := s.DeleteSession(ctx, "s0"); err != nil {
		t.Fatal(err)
	}
	list, err := s.UserSessions(ctx, "u1")
	if err != nil || len(list) != 1 || list[0].ID != "s2" {
		t.Errorf("UserSessions after deleting s0: (%v, %v), want [s2]", list, err)
	}
	checkMembers(usr, "s2")

	if err := s.DeleteAccessTokenFamily(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, fam, prefix+"tok:t0", prefix+"tok:t2").Val(); n != 0 {
		t.Errorf("%d of the family's keys remain after DeleteAccessTokenFamily", n)
	}
}

// waitExpired waits until Redis has expired every key, by its own clock,
// however loaded the machine: keys set to expire seconds ahead, a deadline
// of a minute.
func waitExpired(t *testing.T, rdb *goredis.Client, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := rdb.Exists(t.Context(), keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %v still in Redis after a minute", n, keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AddSessionClient edits the client list with Lua's cjson, which escapes and
// types values its own way; ids Go would quote differently, or that look
// like numbers, must come back exactly as added.
func TestSessionClientsSurviveLua(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := redistest.Open(t)
	if err := s.CreateSession(ctx, storage.Session{ID: "s", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"123", "1e3", "https://rp.example/cb", `quo"te\back`, "bea-cukai ü 税", "<&>", "true", ""}
	for _, id := range append(want, want...) {
		if err := s.AddSessionClient(ctx, "s", id); err != nil {
			t.Fatalf("AddSessionClient(%q): %v", id, err)
		}
	}
	got, err := s.SessionByID(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ClientIDs, want) {
		t.Errorf("ClientIDs = %q, want %q", got.ClientIDs, want)
	}
}

// countHook counts commands and pipelines, each one round trip.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *countHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// The performance budget is one Redis round trip per short-lived object
// (DESIGN.md); UpdateAuthRequest, which runs Go code between read and
// write, is the one exception and takes two.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := &countHook{}
	s, _ := redistest.Open(t, redis.WithHook(h))
	exp := time.Now().Add(time.Hour)
	steps := []struct {
		name string
		want int64
		run  func() error
	}{
		{"CreateAuthRequest", 1, func() error {
			return s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r"}, time.Minute)
		}},
		{"AuthRequestByID", 1, func() error { _, err := s.AuthRequestByID(ctx, "r"); return err }},
		{"UpdateAuthRequest", 2, func() error {
			return s.UpdateAuthRequest(ctx, "r", func(r *storage.AuthRequest) error { r.Done = true; return nil })
		}},
		{"UpdateAuthRequest without change", 1, func() error {
			return s.UpdateAuthRequest(ctx, "r", func(*storage.AuthRequest) error { return nil })
		}},
		{"SaveAuthCode", 1, func() error { return s.SaveAuthCode(ctx, "r", "c", time.Minute) }},
		{"ConsumeAuthCode", 1, func() error { _, err := s.ConsumeAuthCode(ctx, "c"); return err }},
		{"DeleteAuthRequest", 1, func() error { return s.DeleteAuthRequest(ctx, "r") }},
		{"CreateAuthRequestWithCode", 1, func() error {
			return s.CreateAuthRequestWithCode(ctx, storage.AuthRequest{ID: "rc"}, time.Minute, "cc", time.Minute)
		}},
		{"CreateSession", 1, func() error {
			return s.CreateSession(ctx, storage.Session{ID: "s", UserID: "u", ExpiresAt: exp})
		}},
		{"SessionByID", 1, func() error { _, err := s.SessionByID(ctx, "s"); return err }},
		{"AddSessionClient", 1, func() error { return s.AddSessionClient(ctx, "s", "ebpom") }},
		{"UserSessions", 1, func() error { _, err := s.UserSessions(ctx, "u"); return err }},
		{"DeleteSession", 1, func() error { return s.DeleteSession(ctx, "s") }},
		{"DeleteUserSessions", 1, func() error { return s.DeleteUserSessions(ctx, "u") }},
		{"CreateAccessToken", 1, func() error {
			return s.CreateAccessToken(ctx, storage.AccessToken{ID: "t", ExpiresAt: exp})
		}},
		{"CreateAccessToken in a family", 1, func() error {
			return s.CreateAccessToken(ctx, storage.AccessToken{ID: "tf", FamilyID: "f", ExpiresAt: exp})
		}},
		{"IssueAccessToken with session and one-time value", 1, func() error {
			return s.IssueAccessToken(ctx, storage.AccessToken{ID: "ti", FamilyID: "f", ClientID: "ebpom", ExpiresAt: exp},
				storage.TokenWrites{SessionID: "s", Once: storage.OnceValue{Key: "used", Value: []byte("v"), TTL: time.Minute}})
		}},
		{"AccessTokenByID", 1, func() error { _, err := s.AccessTokenByID(ctx, "t"); return err }},
		{"DeleteAccessToken", 1, func() error { return s.DeleteAccessToken(ctx, "t") }},
		{"DeleteAccessTokenFamily", 1, func() error { return s.DeleteAccessTokenFamily(ctx, "f") }},
		{"PutOnce", 1, func() error { return s.PutOnce(ctx, "k", []byte("v"), time.Minute) }},
		{"TakeOnce", 1, func() error { _, err := s.TakeOnce(ctx, "k"); return err }},
		{"Incr of a new counter", 1, func() error { _, err := s.Incr(ctx, "n", time.Minute); return err }},
		{"Incr", 1, func() error { _, err := s.Incr(ctx, "n", time.Minute); return err }},
		{"Count", 1, func() error { _, err := s.Count(ctx, "n"); return err }},
		{"IncrChain", 1, func() error {
			_, err := s.IncrChain(ctx, []storage.CountStep{{Key: "n", Window: time.Minute}, {Key: "m", Window: time.Minute}})
			return err
		}},
		{"ResetCounter", 1, func() error { return s.ResetCounter(ctx, "n") }},
		{"SaveDraft", 1, func() error { return s.SaveDraft(ctx, "d", []byte("v"), time.Minute) }},
		{"Draft", 1, func() error { _, err := s.Draft(ctx, "d"); return err }},
		{"DeleteDraft", 1, func() error { return s.DeleteDraft(ctx, "d") }},
	}
	for _, step := range steps {
		before := h.n.Load()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := h.n.Load() - before; got != step.want {
			t.Errorf("%s took %d round trips, want %d", step.name, got, step.want)
		}
	}
}

// Fail-fast tests set every timeout to a minute (longTimeouts) and expect
// the failure within failFast: an operation that waited for a timeout, or
// hung, takes longer; a refused connection fails in far less, however
// loaded the machine.
const failFast = 20 * time.Second

var longTimeouts = []string{"dial_timeout", "60s", "read_timeout", "60s", "write_timeout", "60s", "pool_timeout", "60s"}

// A Redis that is not there fails Open at once with a real error, not a
// hang and not "not found".
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, err := redis.Open(t.Context(), withHost(t, "127.0.0.1:1", longTimeouts...))
	if err == nil {
		s.Close()
		t.Fatal("Open of a port where nothing listens succeeded")
	}
	if errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open error %v matches ErrNotFound", err)
	}
	if d := time.Since(start); d > failFast {
		t.Errorf("Open took %v to fail: it waited for a timeout", d)
	}
}

// proxy forwards TCP to Redis and can be cut, to take Redis away from one
// store without disturbing anything else that uses the server.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, addr: "127.0.0.1:0", target: target}
	p.start()
	p.addr = p.ln.Addr().String() // the same port again after a cut
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and every forwarded connection: to the store it
// looks like Redis went down.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// withHost returns the test Redis URL pointed at another address, with
// extra query options.
func withHost(t *testing.T, host string, query ...string) string {
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	q := u.Query()
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// While Redis is away every operation fails fast with an error that is not
// ErrNotFound (a revoked token must not look like an unknown one, and an
// outage must not look like a logout); when it is back the same store works
// again without being reopened.
func TestOutageAndRecovery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, prefix := redistest.Open(t) // skips without Redis; cleans the prefix
	o, err := goredis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, o.Addr)
	s, err := redis.Open(ctx, withHost(t, p.addr, append([]string{"pool_size", "4"}, longTimeouts...)...), redis.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: "t", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}

	p.stop()
	ops := map[string]func() error{
		"AccessTokenByID": func() error { _, err := s.AccessTokenByID(ctx, "t"); return err },
		"ConsumeAuthCode": func() error { _, err := s.ConsumeAuthCode(ctx, "c"); return err },
		"UpdateAuthRequest": func() error {
			return s.UpdateAuthRequest(ctx, "r", func(*storage.AuthRequest) error { return nil })
		},
		"SessionByID":  func() error { _, err := s.SessionByID(ctx, "s"); return err },
		"UserSessions": func() error { _, err := s.UserSessions(ctx, "u"); return err },
		"TakeOnce":     func() error { _, err := s.TakeOnce(ctx, "k"); return err },
		"CreateSession": func() error {
			return s.CreateSession(ctx, storage.Session{ID: "s", UserID: "u", ExpiresAt: exp})
		},
		"Ping": func() error { return s.Ping(ctx) },
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		d := time.Since(start)
		switch {
		case err == nil:
			t.Errorf("%s succeeded while Redis was away", name)
		case errors.Is(err, storage.ErrNotFound):
			t.Errorf("%s while Redis was away: %v matches ErrNotFound", name, err)
		case !errors.Is(err, storage.ErrUnavailable):
			t.Errorf("%s while Redis was away: %v is not storage.ErrUnavailable", name, err)
		case !strings.HasPrefix(err.Error(), "redis: "):
			t.Errorf("%s error %q does not say where it came from", name, err)
		}
		if d > failFast {
			t.Errorf("%s took %v to fail: it waited for a timeout", name, d)
		}
	}

	p.start()
	start := time.Now()
	for {
		_, err := s.AccessTokenByID(ctx, "t")
		if err == nil {
			break
		}
		// go-redis stops dialing after pool_size failures and probes once a
		// second, so recovery may take that long.
		if time.Since(start) > 30*time.Second { // generous: CI machines are loaded
			t.Fatalf("store still failing %v after Redis came back: %v", time.Since(start), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("recovered %v after Redis came back", time.Since(start).Round(time.Millisecond))
}

// A connection the server drops (restart, idle timeout, failover) costs the
// next operation at most its one retry, not an error.
func TestServerClosedConnections(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, prefix := redistest.Open(t)
	rdb := admin(t)
	// A name of its own, so the test kills only its store's connections and
	// leaves every other test's alone (CLIENT KILL TYPE normal would not).
	name := strings.NewReplacer(":", "-").Replace(strings.TrimSuffix(prefix, ":"))
	s, err := redis.Open(ctx, withHost(t, mustAddr(t), "client_name", name), redis.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutOnce(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.Lines(rdb.ClientList(ctx).Val()) {
		fields := strings.Fields(line)
		if !slices.Contains(fields, "name="+name) {
			continue
		}
		for _, f := range fields {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := rdb.Do(ctx, "client", "kill", "id", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("no connection named %s in CLIENT LIST", name)
	}
	got, err := s.TakeOnce(ctx, "k")
	if err != nil || string(got) != "v" {
		t.Errorf("TakeOnce after the server closed %d connections: (%q, %v)", killed, got, err)
	}
}

func mustAddr(t *testing.T) string {
	o, err := goredis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	return o.Addr
}

// BenchmarkAccessToken measures the client_credentials hot path: store a
// token, introspect it.
func BenchmarkAccessToken(b *testing.B) {
	ctx := b.Context()
	h := &countHook{}
	s, _ := redistest.Open(b, redis.WithHook(h))
	exp := time.Now().Add(time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8) // a server handles many requests at once
	h.n.Store(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(next.Add(1))
			tok := storage.AccessToken{ID: id, ClientID: "insw", Scopes: []string{"openid"}, ExpiresAt: exp}
			if err := s.CreateAccessToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
			if _, err := s.AccessTokenByID(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(h.n.Load())/float64(2*b.N), "roundtrips/op")
}

// BenchmarkCodeFlow measures one authorization code flow's ephemeral work:
// create the request, mark it done, save and redeem the code.
func BenchmarkCodeFlow(b *testing.B) {
	ctx := b.Context()
	h := &countHook{}
	s, _ := redistest.Open(b, redis.WithHook(h))
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	h.n.Store(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(next.Add(1))
			r := storage.AuthRequest{ID: id, ClientID: "ebpom", Scopes: []string{"openid", "profile"}}
			if err := s.CreateAuthRequest(ctx, r, 10*time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := s.UpdateAuthRequest(ctx, id, func(r *storage.AuthRequest) error {
				r.Done, r.UserID = true, "user"
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := s.SaveAuthCode(ctx, id, "c"+id, time.Minute); err != nil {
				b.Fatal(err)
			}
			if _, err := s.ConsumeAuthCode(ctx, "c"+id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(4*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/flow")
}

// A Redis restart (no persistence, as in CI) loses the data and the script
// cache. The store must come back by itself, and its scripts must work again
// through the EVAL fallback instead of failing with NOSCRIPT. The test runs
// a private redis-server, since restarting the shared one would break every
// other test using it.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH")
	}
	ctx := t.Context()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	await := func(what string, op func() error) time.Duration {
		t.Helper()
		begin := time.Now()
		for {
			err := op()
			if err == nil {
				return time.Since(begin)
			}
			if time.Since(begin) > 30*time.Second { // generous: CI machines are loaded
				t.Fatalf("%s still failing after %v: %v", what, time.Since(begin), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	server := start()
	var s *redis.Store
	await("Open", func() (err error) { s, err = redis.Open(ctx, "redis://"+addr+"/0"); return err })
	defer s.Close()
	flow := func(id string) error {
		if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: id}, time.Minute); err != nil {
			return err
		}
		if err := s.SaveAuthCode(ctx, id, "code-"+id, time.Minute); err != nil {
			return err
		}
		_, err := s.ConsumeAuthCode(ctx, "code-"+id)
		return err
	}
	if err := flow("before"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOnce(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}

	server.Process.Kill()
	server.Wait()
	if err := flow("down"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("code flow while Redis is down: got %v, want a connection error", err)
	}

	start()
	d := await("code flow after restart", func() error { return flow("after") })
	t.Logf("code flow works again %v after restart", d.Round(time.Millisecond))
	// Without persistence the restart lost the value; that must read as
	// absent, not as an error.
	if _, err := s.TakeOnce(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("TakeOnce of a value lost in the restart: got %v, want ErrNotFound", err)
	}
}
