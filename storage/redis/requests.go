package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

// encodeRequest stores times in UTC so that what a node writes and what the
// callers get back look the same whichever node's zone wrote them.
func encodeRequest(r storage.AuthRequest) (string, error) {
	r.CreatedAt, r.AuthTime = r.CreatedAt.UTC(), r.AuthTime.UTC()
	b, err := json.Marshal(r)
	return string(b), err
}

func decodeRequest(op, data string) (storage.AuthRequest, error) {
	var r storage.AuthRequest
	if err := decode(op, data, &r); err != nil {
		return storage.AuthRequest{}, err
	}
	r.CreatedAt, r.AuthTime = r.CreatedAt.UTC(), r.AuthTime.UTC()
	return r, nil
}

// CreateAuthRequest stores r for ttl: one SET NX PX.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest, ttl time.Duration) error {
	const op = "create auth request"
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive", op, ttl)
	}
	v, err := encodeRequest(r)
	if err != nil {
		return fmt.Errorf("redis: %s: encode: %w", op, err)
	}
	err = s.rdb.Do(ctx, "set", s.requestKey(r.ID), v, "nx", "px", ttlMilli(ttl)).Err()
	if errors.Is(err, goredis.Nil) { // NX refused: the id is taken by a live request
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// AuthRequestByID returns the request with id: one GET.
func (s *Store) AuthRequestByID(ctx context.Context, id string) (storage.AuthRequest, error) {
	const op = "get auth request"
	v, err := s.rdb.Get(ctx, s.requestKey(id)).Result()
	if err != nil {
		return storage.AuthRequest{}, wrap(op, err)
	}
	return decodeRequest(op, v)
}

// updateRequestScript writes ARGV[2] only if the request still holds ARGV[1],
// the value fn was given, and keeps the TTL (KEEPTTL). It returns 1 when
// written, 0 when another update came first, -1 when the request is gone.
var updateRequestScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// maxUpdateAttempts bounds the optimistic retries of UpdateAuthRequest. Each
// lost attempt means another update won, so n concurrent updaters all succeed
// within n attempts; real contention on one request is a double submit.
const maxUpdateAttempts = 10

// UpdateAuthRequest applies fn to the stored request and writes the result
// only if fn succeeds and nobody changed the request in between; otherwise it
// reads again and retries, so fn may run more than once and must only change
// the request it is given. The TTL is kept.
//
// A compare-and-set script rather than WATCH/MULTI: the guarantee is the
// same, but it takes two round trips (GET, EVALSHA) where WATCH, GET and
// MULTI/SET/EXEC take three, and it does not hold a pooled connection for
// as long as fn runs.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(*storage.AuthRequest) error) error {
	const op = "update auth request"
	return s.compareAndSet(ctx, op, s.requestKey(id), func(old string) (string, error) {
		// A fresh decode per attempt: fn gets its own slices and pointers, so
		// whatever it scribbles before failing never reaches Redis.
		r, err := decodeRequest(op, old)
		if err != nil {
			return "", err
		}
		if err := fn(&r); err != nil {
			return "", err
		}
		r.ID = id
		next, err := encodeRequest(r)
		if err != nil {
			return "", fmt.Errorf("redis: %s: encode: %w", op, err)
		}
		return next, nil
	})
}

// compareAndSet reads key, asks change for its new value, and writes it
// only if key still holds what was read (updateRequestScript, TTL kept),
// retrying up to maxUpdateAttempts times when another writer came first.
// An unchanged value is not written: the read is as good as a write.
func (s *Store) compareAndSet(ctx context.Context, op, key string, change func(old string) (string, error)) error {
	for range maxUpdateAttempts {
		old, err := s.rdb.Get(ctx, key).Result()
		if err != nil {
			return wrap(op, err)
		}
		next, err := change(old)
		if err != nil {
			return err
		}
		if next == old {
			return nil
		}
		res, err := updateRequestScript.Run(ctx, s.rdb, []string{key}, old, next).Int()
		if err != nil {
			return wrap(op, err)
		}
		switch res {
		case 1:
			return nil
		case -1:
			return notFound(op)
		}
	}
	return fmt.Errorf("redis: %s: lost %d races in a row: %w", op, maxUpdateAttempts, storage.ErrConflict)
}

// saveCodeScript stores the code only while the request exists, so a code is
// never issued for a request that can no longer be redeemed. Returns 1 when
// stored, 0 when the code is taken, -1 when the request is missing.
var saveCodeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
return 1
`)

// SaveAuthCode links code to the request id for ttl: one script.
func (s *Store) SaveAuthCode(ctx context.Context, id, code string, ttl time.Duration) error {
	const op = "save auth code"
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive", op, ttl)
	}
	res, err := saveCodeScript.Run(ctx, s.rdb, []string{s.requestKey(id), s.codeKey(code)}, id, ttlMilli(ttl)).Int()
	if err != nil {
		return wrap(op, err)
	}
	switch res {
	case -1:
		return notFound(op + ": request")
	case 0:
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	return nil
}

// consumeCodeScript deletes the code and its request and returns the
// request's JSON; false (nil) when the code is unknown or expired, 0 when the
// request is gone. A script runs alone on the server, so of two concurrent
// redemptions exactly one gets the request (RFC 6749 §4.1.2).
var consumeCodeScript = goredis.NewScript(`
local id = redis.call('GETDEL', KEYS[1])
if not id then return false end
local r = redis.call('GETDEL', ARGV[1] .. 'req:' .. id)
if not r then return 0 end
return r
`)

// ConsumeAuthCode returns the code's request and deletes both: one script.
func (s *Store) ConsumeAuthCode(ctx context.Context, code string) (storage.AuthRequest, error) {
	const op = "consume auth code"
	res, err := consumeCodeScript.Run(ctx, s.rdb, []string{s.codeKey(code)}, s.prefix).Result()
	if err != nil {
		return storage.AuthRequest{}, wrap(op, err)
	}
	v, ok := res.(string)
	if !ok {
		return storage.AuthRequest{}, notFound(op + ": request")
	}
	return decodeRequest(op, v)
}

// DeleteAuthRequest deletes the request: one DEL. Its codes stay until they
// expire but can no longer be redeemed, since redemption needs the request.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.requestKey(id)).Err(); err != nil {
		return wrap("delete auth request", err)
	}
	return nil
}
