package op

import (
	"context"
	"sync"
	"time"

	"satupintu/storage"
)

// An authorization request answered by single sign-on lives and dies
// within one /authorize response: created, completed with the session,
// given a code. Nobody outside that response knows its id until the code
// is sent, so it need not be stored until then. withoutUI holds such a
// request in the response's context (a pending), and deferring stores it
// with its code in one round trip, or on its own when a page turns out to
// be needed after all. That makes single sign-on three Redis round trips
// (quota, session, request with code) instead of ten.

type pendingKey struct{}

// pending is the authorization request created while one /authorize
// response is being answered, not yet stored.
type pending struct {
	mu  sync.Mutex
	r   *storage.AuthRequest
	ttl time.Duration
}

func withPending(ctx context.Context) (context.Context, *pending) {
	p := &pending{}
	return context.WithValue(ctx, pendingKey{}, p), p
}

// held returns ctx's pending holding the request id, locked; the caller
// unlocks it.
func held(ctx context.Context, id string) *pending {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.r == nil || p.r.ID != id {
		p.mu.Unlock()
		return nil
	}
	return p
}

// flush stores a request p still holds, for the page that needs it.
func (d deferring) flush(ctx context.Context, p *pending) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.r == nil {
		return nil
	}
	r := *p.r
	p.r = nil
	return d.Ephemeral.CreateAuthRequest(ctx, r, p.ttl)
}

// drop forgets a request still held: it has been answered.
func (p *pending) drop() {
	p.mu.Lock()
	p.r = nil
	p.mu.Unlock()
}

// deferring is the ephemeral store as the provider and the sign-in UI see
// it: authorization requests created under a pending stay there until
// they get a code or are flushed.
type deferring struct {
	Ephemeral
}

func (d deferring) CreateAuthRequest(ctx context.Context, r storage.AuthRequest, ttl time.Duration) error {
	if p, _ := ctx.Value(pendingKey{}).(*pending); p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.r == nil {
			c := r.Clone()
			p.r, p.ttl = &c, ttl
			return nil
		}
	}
	return d.Ephemeral.CreateAuthRequest(ctx, r, ttl)
}

func (d deferring) AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error) {
	if p := held(ctx, id); p != nil {
		defer p.mu.Unlock()
		return p.r.Clone(), nil
	}
	return d.Ephemeral.AuthRequestByID(ctx, id)
}

func (d deferring) UpdateAuthRequest(ctx context.Context, id string, fn func(*storage.AuthRequest) error) error {
	if p := held(ctx, id); p != nil {
		defer p.mu.Unlock()
		next := p.r.Clone()
		if err := fn(&next); err != nil {
			return err
		}
		next.ID = id
		p.r = &next
		return nil
	}
	return d.Ephemeral.UpdateAuthRequest(ctx, id, fn)
}

func (d deferring) SaveAuthCode(ctx context.Context, id, code string, ttl time.Duration) error {
	if p := held(ctx, id); p != nil {
		defer p.mu.Unlock()
		if err := d.Ephemeral.CreateAuthRequestWithCode(ctx, *p.r, p.ttl, code, ttl); err != nil {
			return err
		}
		p.r = nil
		return nil
	}
	return d.Ephemeral.SaveAuthCode(ctx, id, code, ttl)
}
