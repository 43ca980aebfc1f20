// Package redis is the production ephemeral backend: authorization requests,
// codes, SSO sessions, opaque access tokens, one-time values, rate-limit
// counters and form drafts kept in Redis, so that several `satupintu serve`
// nodes share them, a user can start a flow on one node and finish it on
// another, and a lockout counts attempts made through every node.
//
// Expiry lives in Redis itself (PX for lifetimes given as durations, PXAT for
// the absolute ExpiresAt of sessions and tokens), so no node needs to sweep
// and every node sees an entry vanish at the same instant.
//
// The performance budget is one round trip per short-lived object (DESIGN.md):
// every operation is a single command or a single Lua script, except
// UpdateAuthRequest, which has to run the caller's Go function between
// reading and writing and so costs a read plus a compare-and-set (two round
// trips, more only when it loses a race).
//
// Key layout, under the configurable prefix P (default "satupintu:"):
//
//	P req:<id>     string  AuthRequest JSON                  PX ttl
//	P code:<code>  string  the request id                    PX ttl
//	P sess:<id>    hash    v: Session JSON, c: client ids    PXAT ExpiresAt
//	P usr:<user>   zset    session id → expiry (unix ms)     PXAT latest member
//	P tok:<id>     string  AccessToken JSON                  PXAT ExpiresAt
//	P fam:<family> zset    token id → expiry (unix ms)       PXAT latest member
//	P once:<key>   string  the raw value                     PX ttl
//	P cnt:<key>    string  the count (INCR)                  PX window, from the first Incr
//	P draft:<key>  string  the raw value                     PX ttl, from the last save
//	P dev:<id>     string  DeviceAuthorization JSON          PX ttl (device.go)
//	P devcode:<c>  string  the device authorization's id     PX ttl
//
// The scripts derive some key names from values they read (a code's request,
// an index's members), which a standalone Redis or a Sentinel-managed primary
// allows and Redis Cluster does not: this backend needs one primary. It uses
// GETDEL and PXAT, so Redis 6.2 or later.
//
// JSON keys are the Go field names. Renaming a field of storage.AuthRequest,
// Session or AccessToken makes entries written by older nodes lose that field
// during a rolling deploy; they are short-lived, so the damage is bounded by
// their TTL.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

// Store is the Redis ephemeral store. It is safe for concurrent use; open it
// once per process with Open.
type Store struct {
	rdb    *goredis.Client
	prefix string

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Ephemeral = (*Store)(nil)

// DefaultPrefix is prepended to every key unless WithPrefix says otherwise,
// so satupintu can share a Redis database with other applications.
const DefaultPrefix = "satupintu:"

// Timeouts a Redis URL does not set itself. They are short because the store
// sits on the request path: a Redis that does not answer should fail the
// request in seconds, not hold every handler until the load balancer gives
// up. go-redis redials by itself once Redis is back.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
	// One retry covers the common case of a pooled connection that the server
	// closed (restart, idle timeout, CLIENT KILL); more would only multiply
	// the wait while Redis is really down.
	maxRetries = 1
	// go-redis redials 5 times by default for each new connection; once is
	// enough when the command is retried anyway.
	dialerRetries = 1
)

type config struct {
	prefix string
	hooks  []goredis.Hook
}

// Option configures Open.
type Option func(*config)

// WithPrefix sets the key prefix (default DefaultPrefix). Nodes that must
// share state use the same prefix; tests use a random one for isolation.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithHook adds a go-redis hook to the client, for tracing or metrics (the
// tests count round trips with one).
func WithHook(h goredis.Hook) Option {
	return func(c *config) { c.hooks = append(c.hooks, h) }
}

// Open connects to the Redis at url (redis:// or rediss://, with the query
// options redis.ParseURL knows, such as dial_timeout or pool_size) and checks
// that it answers.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&cfg)
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	// Zero means the URL did not say; then our defaults apply.
	if o.DialTimeout == 0 {
		o.DialTimeout = dialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = ioTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = ioTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = maxRetries
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = dialerRetries
	}
	// A request's deadline should bound its Redis calls too.
	o.ContextTimeoutEnabled = true

	rdb := goredis.NewClient(o)
	for _, h := range cfg.hooks {
		rdb.AddHook(h)
	}
	s := &Store{rdb: rdb, prefix: cfg.prefix}
	if err := s.Ping(ctx); err != nil {
		rdb.Close()
		return nil, err
	}
	// Loading the scripts now spares the first call of each an EVALSHA that
	// fails with NOSCRIPT. Run still falls back to EVAL, which matters after
	// a Redis restart empties the script cache. (Not in a pipeline: Load
	// records the digest the reply carries, and a queued command has none
	// yet.)
	for _, sc := range scripts {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("redis: load scripts: %w", err)
		}
	}
	return s, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// probeKey is the counter ProbeWrite increments.
const probeKey = "health:probe"

// ProbeWrite checks that Redis accepts writes, which Ping does not: at
// maxmemory with noeviction (OOM) or as a read-only replica it answers PING
// and refuses every sign-in. It counts on a probe key through Incr, the
// script sign-in throttling runs, so it fails exactly when they would: one
// small key per prefix, expiring a minute after the first probe of its
// window.
func (s *Store) ProbeWrite(ctx context.Context) error {
	_, err := s.Incr(ctx, probeKey, time.Minute)
	return err
}

// Close closes the connection pool. Closing twice is harmless, so a test
// helper and the conformance suite can both close the same store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.rdb.Close(); err != nil {
			s.closeErr = fmt.Errorf("redis: close: %w", err)
		}
	})
	return s.closeErr
}

// scripts lists every Lua script so Open can load them.
var scripts = []*goredis.Script{
	saveCodeScript, consumeCodeScript, updateRequestScript,
	createSessionScript, addSessionClientScript, userSessionsScript, deleteUserSessionsScript,
	deleteFamilyScript, incrScript,
	createRequestWithCodeScript, issueTokenScript, incrChainScript, createDeviceScript, deviceByCodeScript,
}

// Key names; see the package comment. The scripts build the same names from
// the prefix they are passed, so a change here must be made there too.
func (s *Store) requestKey(id string) string    { return s.prefix + "req:" + id }
func (s *Store) codeKey(code string) string     { return s.prefix + "code:" + code }
func (s *Store) sessionKey(id string) string    { return s.prefix + "sess:" + id }
func (s *Store) userKey(userID string) string   { return s.prefix + "usr:" + userID }
func (s *Store) tokenKey(id string) string      { return s.prefix + "tok:" + id }
func (s *Store) familyKey(family string) string { return s.prefix + "fam:" + family }
func (s *Store) onceKey(key string) string      { return s.prefix + "once:" + key }
func (s *Store) counterKey(key string) string   { return s.prefix + "cnt:" + key }
func (s *Store) draftKey(key string) string     { return s.prefix + "draft:" + key }

// indexLua is shared by the scripts that add to a per-user or per-family
// index. The index is a sorted set scored by each member's expiry, so
// members that have expired are pruned on every add (the index stays as small
// as the live entries plus those deleted one by one since), and the index
// itself expires with its longest-lived member, never before it.
const indexLua = `
local function index(key, member, at)
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
  redis.call('ZADD', key, at, member)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 or now + ttl < tonumber(at) then
    redis.call('PEXPIREAT', key, at)
  end
end
`

// notFound wraps storage.ErrNotFound with the operation, for the cases where
// Redis said "nil" or a script said "missing". It is never used for other
// errors: a timeout or a refused connection must not look like a revoked
// token or an expired session.
func notFound(op string) error {
	return fmt.Errorf("redis: %s: %w", op, storage.ErrNotFound)
}

// wrap adds the operation to an error from go-redis, mapping redis.Nil (the
// key is absent or expired) to storage.ErrNotFound and a Redis that cannot
// serve the command now to storage.ErrUnavailable (the original error stays
// in the chain for the log).
func wrap(op string, err error) error {
	switch {
	case errors.Is(err, goredis.Nil):
		return notFound(op)
	case unavailable(err):
		return fmt.Errorf("redis: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// unavailable reports an error that says nothing about the data, only that
// Redis cannot serve it right now: no connection (refused, reset, timed
// out, the client closed), or a server that refuses the command until an
// operator or a failover acts: maxmemory reached with noeviction (OOM, also
// from inside a script), a read-only replica, loading its dataset, writes
// stopped after a failed save (MISCONF), a script running too long (BUSY),
// too many clients.
func unavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, goredis.ErrClosed), errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, goredis.ErrPoolExhausted):
		return true
	case goredis.IsOOMError(err), goredis.IsReadOnlyError(err), goredis.IsLoadingError(err),
		goredis.IsMasterDownError(err), goredis.IsMaxClientsError(err), goredis.IsClusterDownError(err),
		goredis.IsTryAgainError(err), goredis.IsNoReplicasError(err),
		goredis.HasErrorPrefix(err, "MISCONF "), goredis.HasErrorPrefix(err, "BUSY "):
		return true
	}
	return false
}

// unixMilli is t as the integer Redis's PXAT and the index scores take.
// Truncating to the millisecond makes an entry expire up to 1 ms early,
// never late.
func unixMilli(t time.Time) int64 { return t.UnixMilli() }

// ttlMilli is ttl in whole milliseconds for PX, at least 1 (PX 0 is an
// error), rounded down for the same reason as unixMilli.
func ttlMilli(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }

func decode(op, data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("redis: %s: decode: %w", op, err)
	}
	return nil
}

// PoolStats reports the client's connection pool (metrics).
func (s *Store) PoolStats() *goredis.PoolStats { return s.rdb.PoolStats() }
