package redis

import (
	"context"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// invalidateChannel carries the owners of cached durable records that a
// node changed (storage/cache), one message per write, owners separated by
// newlines. Pub/sub delivers at most once, to nodes subscribed at that
// moment; the subscriber's flush on every (re)subscription covers the rest.
func (s *Store) invalidateChannel() string { return s.prefix + "invalidate" }

// PublishInvalidation tells every node subscribed to drop the owners'
// cached records: one PUBLISH.
func (s *Store) PublishInvalidation(ctx context.Context, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	if err := s.rdb.Publish(ctx, s.invalidateChannel(), strings.Join(owners, "\n")).Err(); err != nil {
		return wrap("publish invalidation", err)
	}
	return nil
}

// SubscribeInvalidations calls drop with the owners of each invalidation
// published, and flush whenever the subscription starts or starts again
// after a lost connection (messages may have been missed meanwhile), until
// ctx ends. It returns once subscribed, or with ctx's error.
func (s *Store) SubscribeInvalidations(ctx context.Context, drop func(owners ...string), flush func()) error {
	ps := s.rdb.Subscribe(ctx, s.invalidateChannel())
	// The first confirmation, so that nothing published after we return
	// is missed.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return wrap("subscribe to invalidations", err)
	}
	flush()
	ch := ps.ChannelWithSubscriptions()
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *goredis.Subscription:
					flush()
				case *goredis.Message:
					drop(strings.Split(m.Payload, "\n")...)
				}
			}
		}
	}()
	return nil
}
