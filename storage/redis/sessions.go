package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/storage"
)

// A session is a hash: field v holds the session as JSON without its client
// list, field c the client ids as a JSON array. Keeping the list apart lets
// AddSessionClient append in a script without re-encoding the whole session
// in Lua (whose cjson would turn empty arrays into objects).

func encodeSession(sess storage.Session) (v, c string, err error) {
	clients := sess.ClientIDs
	if clients == nil {
		clients = []string{} // "[]", not "null": the script appends to it
	}
	cb, err := json.Marshal(clients)
	if err != nil {
		return "", "", err
	}
	sess.ClientIDs = nil
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = sess.AuthTime.UTC(), sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	vb, err := json.Marshal(sess)
	if err != nil {
		return "", "", err
	}
	return string(vb), string(cb), nil
}

func decodeSession(op, v, c string) (storage.Session, error) {
	var sess storage.Session
	if err := decode(op, v, &sess); err != nil {
		return storage.Session{}, err
	}
	if err := decode(op, c, &sess.ClientIDs); err != nil {
		return storage.Session{}, err
	}
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = sess.AuthTime.UTC(), sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

// createSessionScript creates the session hash unless the id is live, sets
// its expiry to ExpiresAt and adds it to the user's index. With a cap
// (ARGV[5] > 0) it first makes room: the index (a sorted set scored by
// expiry) loses its expired members and those whose session was deleted,
// and the live sessions that expire first (equal scores by id, as ZRANGE
// orders them) are ended until fewer than the cap remain. Returns {0} when
// the id is taken, else {1} followed by v, c of each session it ended.
var createSessionScript = goredis.NewScript(indexLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local out = {1}
local max = tonumber(ARGV[5])
if KEYS[2] and max > 0 then
  local t = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('EXISTS', ARGV[6] .. 'sess:' .. id) == 1 then
      live[#live + 1] = id
    else
      redis.call('ZREM', KEYS[2], id)
    end
  end
  for i = 1, #live - max + 1 do
    local key = ARGV[6] .. 'sess:' .. live[i]
    local h = redis.call('HMGET', key, 'v', 'c')
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], live[i])
    if h[1] and h[2] then
      out[#out + 1] = h[1]
      out[#out + 1] = h[2]
    end
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if KEYS[2] then index(KEYS[2], ARGV[4], ARGV[3]) end
return out
`)

// CreateSession stores sess until sess.ExpiresAt: one script.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	_, err := s.CreateSessionCapped(ctx, sess, 0)
	return err
}

// CreateSessionCapped stores sess and ends the user's sessions that expire
// first until at most maxPerUser are live with it: one script, so two
// sign-ins at once cannot both keep maxPerUser sessions besides their own.
func (s *Store) CreateSessionCapped(ctx context.Context, sess storage.Session, maxPerUser int) ([]storage.Session, error) {
	const op = "create session"
	if !sess.ExpiresAt.After(time.Now()) {
		return nil, fmt.Errorf("redis: %s: ExpiresAt %v is not in the future", op, sess.ExpiresAt)
	}
	v, c, err := encodeSession(sess)
	if err != nil {
		return nil, fmt.Errorf("redis: %s: encode: %w", op, err)
	}
	keys := []string{s.sessionKey(sess.ID)}
	if sess.UserID != "" {
		keys = append(keys, s.userKey(sess.UserID))
	}
	res, err := createSessionScript.Run(ctx, s.rdb, keys, v, c, unixMilli(sess.ExpiresAt), sess.ID, max(maxPerUser, 0), s.prefix).Slice()
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(res) == 0 || res[0] != int64(1) {
		return nil, fmt.Errorf("redis: %s: %w", op, storage.ErrAlreadyExists)
	}
	var ended []storage.Session
	for i := 1; i+1 < len(res); i += 2 {
		v, ok1 := res[i].(string)
		c, ok2 := res[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("redis: %s: unexpected reply %T, %T", op, res[i], res[i+1])
		}
		e, err := decodeSession(op, v, c)
		if err != nil {
			return nil, err
		}
		ended = append(ended, e)
	}
	return ended, nil
}

// SessionByID returns the session with id: one HMGET.
func (s *Store) SessionByID(ctx context.Context, id string) (storage.Session, error) {
	const op = "get session"
	vals, err := s.rdb.HMGet(ctx, s.sessionKey(id), "v", "c").Result()
	if err != nil {
		return storage.Session{}, wrap(op, err)
	}
	v, ok1 := vals[0].(string)
	c, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return storage.Session{}, notFound(op)
	}
	return decodeSession(op, v, c)
}

// addSessionClientScript appends ARGV[1] to the session's client list unless
// it is there; the hash keeps its expiry. Returns 0 when the session is gone.
// Running in the server, two concurrent adds cannot overwrite each other.
var addSessionClientScript = goredis.NewScript(addClientLua + `
return addClient(KEYS[1], ARGV[1])
`)

// addClientLua is shared by the scripts that record a session's client.
const addClientLua = `
local function addClient(key, client)
  local c = redis.call('HGET', key, 'c')
  if not c then return 0 end
  local list = cjson.decode(c)
  for _, id in ipairs(list) do
    if id == client then return 1 end
  end
  list[#list + 1] = client
  redis.call('HSET', key, 'c', cjson.encode(list))
  return 1
end
`

// AddSessionClient records clientID in the session, once: one script.
func (s *Store) AddSessionClient(ctx context.Context, id, clientID string) error {
	const op = "add session client"
	res, err := addSessionClientScript.Run(ctx, s.rdb, []string{s.sessionKey(id)}, clientID).Int()
	if err != nil {
		return wrap(op, err)
	}
	if res == 0 {
		return notFound(op)
	}
	return nil
}

// DeleteSession deletes the session: one DEL. Its entry in the user's index
// is pruned later (by UserSessions, by the next CreateSession once expired,
// or with the index); until then it only costs a lookup that finds nothing.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.sessionKey(id)).Err(); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// userSessionsScript returns the user's live sessions as v, c pairs and
// removes from the index the ids whose session is gone or expired.
var userSessionsScript = goredis.NewScript(`
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HMGET', ARGV[1] .. 'sess:' .. id, 'v', 'c')
  if h[1] and h[2] then
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

// UserSessions returns the user's live sessions, oldest first: one script.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	const op = "list user sessions"
	vals, err := userSessionsScript.Run(ctx, s.rdb, []string{s.userKey(userID)}, s.prefix).StringSlice()
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]storage.Session, 0, len(vals)/2)
	for i := 0; i+1 < len(vals); i += 2 {
		sess, err := decodeSession(op, vals[i], vals[i+1])
		if err != nil {
			return nil, err
		}
		// Ids are random, but should one ever be reused by another user
		// after expiring, the old user's index must not hand it out.
		if sess.UserID == userID {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b storage.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// deleteUserSessionsScript deletes every session in the user's index and the
// index, atomically: a session created concurrently is either deleted or
// created after, never half-indexed.
var deleteUserSessionsScript = goredis.NewScript(`
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'sess:' .. id)
end
redis.call('DEL', KEYS[1])
return 1
`)

// DeleteUserSessions deletes every session of the user: one script.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	if err := deleteUserSessionsScript.Run(ctx, s.rdb, []string{s.userKey(userID)}, s.prefix).Err(); err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}
