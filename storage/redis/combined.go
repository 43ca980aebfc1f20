package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

// The combined operations do in one script what the single ones do in
// several round trips, for the two steps of a single sign-on code flow.

// createRequestWithCodeScript stores the request and its code unless either
// is taken: 1 when stored, 0 when not.
var createRequestWithCodeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
`)

// CreateAuthRequestWithCode stores r and its code: one script.
func (s *Store) CreateAuthRequestWithCode(ctx context.Context, r storage.AuthRequest, ttl time.Duration, code string, codeTTL time.Duration) error {
	const op = "create auth request with code"
	if ttl <= 0 || codeTTL <= 0 {
		return fmt.Errorf("redis: %s: ttl %v or %v is not positive", op, ttl, codeTTL)
	}
	v, err := encodeRequest(r)
	if err != nil {
		return fmt.Errorf("redis: %s: encode: %w", op, err)
	}
	res, err := createRequestWithCodeScript.Run(ctx, s.rdb, []string{s.requestKey(r.ID), s.codeKey(code)},
		v, ttlMilli(ttl), r.ID, ttlMilli(codeTTL)).Int()
	if err != nil {
		return wrap(op, err)
	}
	if res == 0 {
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	return nil
}

// issueTokenScript stores a token that needs more than a SET: its family
// index (ARGV[3], so a family revocation can never miss a token created
// before it), the session's client list (ARGV[4]) and a one-time value
// (ARGV[5]), each when set, all in one step. 1 when stored, 0 when the
// token id is taken.
var issueTokenScript = goredis.NewScript(indexLua + addClientLua + `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 0 end
if ARGV[3] ~= '' then index(KEYS[2], ARGV[3], ARGV[2]) end
if ARGV[4] ~= '' then addClient(KEYS[3], ARGV[4]) end
if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[6], 'NX', 'PX', ARGV[7]) end
return 1
`)

// IssueAccessToken stores t with the writes that go with it: one command
// or one script.
func (s *Store) IssueAccessToken(ctx context.Context, t storage.AccessToken, with storage.TokenWrites) error {
	return s.storeToken(ctx, "issue access token", t, with)
}

// storeToken is CreateAccessToken and IssueAccessToken. A token with
// nothing to write beside it (client_credentials, the bulk of the traffic)
// is a plain SET NX PXAT; the others run issueTokenScript, whose unused
// keys are passed as the token's own and never touched.
func (s *Store) storeToken(ctx context.Context, op string, t storage.AccessToken, with storage.TokenWrites) error {
	if !t.ExpiresAt.After(time.Now()) {
		return fmt.Errorf("redis: %s: ExpiresAt %v is not in the future", op, t.ExpiresAt)
	}
	v, err := encodeToken(t)
	if err != nil {
		return fmt.Errorf("redis: %s: encode: %w", op, err)
	}
	tok := s.tokenKey(t.ID)
	if t.FamilyID == "" && with.SessionID == "" && with.Once.Key == "" {
		err := s.rdb.Do(ctx, "set", tok, v, "nx", "pxat", unixMilli(t.ExpiresAt)).Err()
		if errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
		}
		if err != nil {
			return wrap(op, err)
		}
		return nil
	}
	keys := []string{tok, tok, tok, tok}
	var member, client, once string
	if t.FamilyID != "" {
		keys[1], member = s.familyKey(t.FamilyID), t.ID
	}
	if with.SessionID != "" {
		keys[2], client = s.sessionKey(with.SessionID), t.ClientID
	}
	var ttl int64 = 1
	if with.Once.Key != "" {
		if with.Once.TTL <= 0 {
			return fmt.Errorf("redis: %s: one-time ttl %v is not positive", op, with.Once.TTL)
		}
		keys[3], once, ttl = s.onceKey(with.Once.Key), "1", ttlMilli(with.Once.TTL)
	}
	res, err := issueTokenScript.Run(ctx, s.rdb, keys, v, unixMilli(t.ExpiresAt), member, client, once, with.Once.Value, ttl).Int()
	if err != nil {
		return wrap(op, err)
	}
	if res == 0 {
		return fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	return nil
}

// incrChainScript is incrScript over KEYS in order, ARGV holding a window
// and a maximum per key; it stops after a count passes its maximum.
var incrChainScript = goredis.NewScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ARGV[2 * i - 1])
  end
  out[i] = n
  local max = tonumber(ARGV[2 * i])
  if max > 0 and n > max then break end
end
return out
`)

// IncrChain counts the steps in order: one script.
func (s *Store) IncrChain(ctx context.Context, steps []storage.CountStep) ([]int64, error) {
	const op = "incr counters"
	keys := make([]string, len(steps))
	args := make([]any, 0, 2*len(steps))
	for i, st := range steps {
		if st.Window <= 0 {
			return nil, fmt.Errorf("redis: %s: window %v is not positive", op, st.Window)
		}
		keys[i] = s.counterKey(st.Key)
		args = append(args, ttlMilli(st.Window), st.Max)
	}
	counts, err := incrChainScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, wrap(op, err)
	}
	return counts, nil
}
