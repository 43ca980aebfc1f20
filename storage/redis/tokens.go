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

func encodeToken(t storage.AccessToken) (string, error) {
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	b, err := json.Marshal(t)
	return string(b), err
}

// CreateAccessToken stores t until t.ExpiresAt: one SET NX PXAT, or one
// script when the token belongs to a family (storeToken, combined.go).
func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	return s.storeToken(ctx, "create access token", t, storage.TokenWrites{})
}

// AccessTokenByID returns the token with id: one GET.
func (s *Store) AccessTokenByID(ctx context.Context, id string) (storage.AccessToken, error) {
	const op = "get access token"
	v, err := s.rdb.Get(ctx, s.tokenKey(id)).Result()
	if err != nil {
		return storage.AccessToken{}, wrap(op, err)
	}
	var t storage.AccessToken
	if err := decode(op, v, &t); err != nil {
		return storage.AccessToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t, nil
}

// DeleteAccessToken deletes the token: one DEL. A family index entry for it
// stays until it expires or the family is revoked, and then deletes nothing.
func (s *Store) DeleteAccessToken(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.tokenKey(id)).Err(); err != nil {
		return wrap("delete access token", err)
	}
	return nil
}

// deleteFamilyScript deletes every token in the family index and the index.
var deleteFamilyScript = goredis.NewScript(`
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'tok:' .. id)
end
redis.call('DEL', KEYS[1])
return 1
`)

// DeleteAccessTokenFamily deletes every token issued with the refresh token
// family (RFC 7009 §2.1): one script.
func (s *Store) DeleteAccessTokenFamily(ctx context.Context, familyID string) error {
	if err := deleteFamilyScript.Run(ctx, s.rdb, []string{s.familyKey(familyID)}, s.prefix).Err(); err != nil {
		return wrap("delete access token family", err)
	}
	return nil
}

// PutOnce stores value under key for ttl unless the key is live: one SET NX PX.
func (s *Store) PutOnce(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	const op = "put one-time value"
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive", op, ttl)
	}
	err := s.rdb.Do(ctx, "set", s.onceKey(key), value, "nx", "px", ttlMilli(ttl)).Err()
	if errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// TakeOnce returns the value under key and deletes it: one GETDEL, so of
// concurrent takers exactly one gets the value.
func (s *Store) TakeOnce(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.GetDel(ctx, s.onceKey(key)).Bytes()
	if err != nil {
		return nil, wrap("take one-time value", err)
	}
	return v, nil
}
