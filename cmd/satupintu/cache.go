package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"satupintu/op"
	"satupintu/storage"
	"satupintu/storage/cache"
)

// changeReporter is a durable store that reports its committed writes to
// users, organizations and clients (sqlstore.Store.OnChange).
type changeReporter interface {
	OnChange(fn func(ctx context.Context, owners []string))
}

// invalidationBus carries those reports between nodes (storage/redis).
type invalidationBus interface {
	PublishInvalidation(ctx context.Context, owners []string) error
	SubscribeInvalidations(ctx context.Context, drop func(owners ...string), flush func()) error
}

// clientDrops carries client changes ("c:<id>", sqlstore.ClientOwner) to
// the provider's client cache (SATUPINTU_CLIENT_CACHE_TTL). The provider
// is made after readCache subscribes, so it is set once it exists; a
// change before then finds nothing cached.
type clientDrops struct{ p atomic.Pointer[op.Provider] }

func (c *clientDrops) drop(owners []string) {
	p := c.p.Load()
	if p == nil {
		return
	}
	for _, o := range owners {
		if id, ok := strings.CutPrefix(o, "c:"); ok {
			p.InvalidateClient(id)
		}
	}
}

func (c *clientDrops) flush() {
	if p := c.p.Load(); p != nil {
		p.FlushClients()
	}
}

// userOwners drops the client owners, which the user cache does not hold.
func userOwners(owners []string) []string {
	return slices.DeleteFunc(slices.Clone(owners), func(o string) bool { return strings.HasPrefix(o, "c:") })
}

// readCache returns the durable store the sign-in and token paths read
// through: cached for SATUPINTU_CACHE_TTL (storage/cache), invalidated by
// this node's writes at once and by other nodes' through Redis. Without a
// TTL, or with a store that cannot report changes, it is the store itself.
// Client changes go to clients (the provider's client cache) the same
// ways, whether or not users are cached.
func readCache(ctx context.Context, d deps, clients *clientDrops) (storage.Durable, error) {
	src, ok := d.durable.(changeReporter)
	if !ok {
		return d.durable, nil
	}
	var reads storage.Durable = d.durable
	drop := func(owners ...string) { clients.drop(owners) }
	flush := clients.flush
	if d.cfg.CacheTTL > 0 {
		c := cache.New(d.durable, d.cfg.CacheTTL, d.now)
		reads = c
		drop = func(owners ...string) {
			c.Invalidate(userOwners(owners)...)
			clients.drop(owners)
		}
		flush = func() {
			c.Flush()
			clients.flush()
		}
	}
	bus, _ := d.ephemeral.(invalidationBus)
	src.OnChange(func(ctx context.Context, owners []string) {
		drop(owners...)
		if bus != nil {
			publish(ctx, bus, owners, d.logger)
		}
	})
	if bus != nil {
		if err := bus.SubscribeInvalidations(ctx, drop, flush); err != nil {
			return nil, err
		}
	}
	return reads, nil
}

// publish sends a change to the other nodes. The write has committed
// whatever happens here; a lost message costs other nodes at most the TTL.
func publish(ctx context.Context, bus invalidationBus, owners []string, logger *slog.Logger) {
	if err := bus.PublishInvalidation(context.WithoutCancel(ctx), owners); err != nil {
		logger.WarnContext(ctx, "publish cache invalidation; other nodes see the change when their entries expire",
			"owners", len(owners), "error", err)
	}
}

// publishChanges makes the admin commands' writes reach the running
// nodes' caches: with Redis configured, each change is published there,
// through a connection opened on the first change.
func publishChanges(db storage.Durable, cfg Config, logger *slog.Logger) func() {
	src, ok := db.(changeReporter)
	if !ok || cfg.RedisURL == "" {
		return func() {}
	}
	var once sync.Once
	var bus invalidationBus
	var eph storage.Ephemeral
	src.OnChange(func(ctx context.Context, owners []string) {
		once.Do(func() {
			var err error
			if eph, _, err = openEphemeral(ctx, cfg); err != nil {
				logger.WarnContext(ctx, "open redis to publish cache invalidation; running nodes see the change when their entries expire", "error", err)
				return
			}
			bus, _ = eph.(invalidationBus)
		})
		if bus != nil {
			publish(ctx, bus, owners, logger)
		}
	})
	return func() {
		if eph != nil {
			eph.Close()
		}
	}
}
