package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

// Device authorizations (RFC 8628) live under two keys with the same TTL:
//
//	P dev:<id>       string  DeviceAuthorization JSON   PX ttl
//	P devcode:<code> string  the id                     PX ttl
func (s *Store) deviceKey(id string) string       { return s.prefix + "dev:" + id }
func (s *Store) deviceCodeKey(code string) string { return s.prefix + "devcode:" + code }

func encodeDevice(d storage.DeviceAuthorization) (string, error) {
	d.CreatedAt, d.ExpiresAt, d.LastPoll, d.AuthTime = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), d.LastPoll.UTC(), d.AuthTime.UTC()
	b, err := json.Marshal(d)
	return string(b), err
}

func decodeDevice(op, data string) (storage.DeviceAuthorization, error) {
	var d storage.DeviceAuthorization
	if err := decode(op, data, &d); err != nil {
		return storage.DeviceAuthorization{}, err
	}
	d.CreatedAt, d.ExpiresAt, d.LastPoll, d.AuthTime = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), d.LastPoll.UTC(), d.AuthTime.UTC()
	return d, nil
}

// createDeviceScript stores both keys, or neither when either is taken by
// a live authorization. Returns 1 when stored, 0 when taken.
var createDeviceScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`)

// CreateDeviceAuthorization stores d for ttl: one script.
func (s *Store) CreateDeviceAuthorization(ctx context.Context, d storage.DeviceAuthorization, ttl time.Duration) error {
	const op = "create device authorization"
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive", op, ttl)
	}
	v, err := encodeDevice(d)
	if err != nil {
		return fmt.Errorf("redis: %s: encode: %w", op, err)
	}
	res, err := createDeviceScript.Run(ctx, s.rdb, []string{s.deviceKey(d.ID), s.deviceCodeKey(d.UserCode)}, v, d.ID, ttlMilli(ttl)).Int()
	if err != nil {
		return wrap(op, err)
	}
	if res == 0 {
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	return nil
}

// deviceByCodeScript follows the user code to the authorization: one round
// trip. The key name is built from the value read, as the package comment
// allows (one primary, no Cluster).
var deviceByCodeScript = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. 'dev:' .. id)
`)

// DeviceAuthorizationByUserCode returns the authorization with userCode.
func (s *Store) DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (storage.DeviceAuthorization, error) {
	const op = "get device authorization"
	v, err := deviceByCodeScript.Run(ctx, s.rdb, []string{s.deviceCodeKey(userCode)}, s.prefix).Text()
	if err != nil {
		return storage.DeviceAuthorization{}, wrap(op, err)
	}
	d, err := decodeDevice(op, v)
	if err != nil {
		return storage.DeviceAuthorization{}, err
	}
	if d.UserCode != userCode {
		return storage.DeviceAuthorization{}, notFound(op)
	}
	return d, nil
}

// UpdateDeviceAuthorization is UpdateAuthRequest's compare-and-set for a
// device authorization: a read, fn, and a write only if unchanged.
func (s *Store) UpdateDeviceAuthorization(ctx context.Context, id string, fn func(*storage.DeviceAuthorization) error) error {
	const op = "update device authorization"
	return s.compareAndSet(ctx, op, s.deviceKey(id), func(old string) (string, error) {
		d, err := decodeDevice(op, old)
		if err != nil {
			return "", err
		}
		code := d.UserCode
		if err := fn(&d); err != nil {
			return "", err
		}
		d.ID, d.UserCode = id, code // the keys stay
		next, err := encodeDevice(d)
		if err != nil {
			return "", fmt.Errorf("redis: %s: encode: %w", op, err)
		}
		return next, nil
	})
}
