package memory

import (
	"cmp"
	"slices"
	"time"
)

// indexed is a table of entries that expire at a time of their own, with a
// secondary index (sessions by user, access tokens by refresh-token
// family) that the table keeps consistent however an entry leaves it. The
// caller holds the lock that guards it.
type indexed[T any] struct {
	*table[T]
	by     map[string]map[string]struct{} // key → ids
	expiry func(T) time.Time
	key    func(T) string
}

func newIndexed[T any](max int, expiry func(T) time.Time, key func(T) string) indexed[T] {
	x := indexed[T]{table: newTable[T](max), by: map[string]map[string]struct{}{}, expiry: expiry, key: key}
	x.onDrop = func(id string, v T) { remove(x.by, key(v), id) }
	return x
}

// insert stores v under id and reports false if a live entry already has
// that id. When full, it evicts the entry that expires first.
func (x *indexed[T]) insert(id string, v T, now time.Time) bool {
	if _, ok := x.get(id, now); ok {
		return false
	}
	x.put(id, v, x.expiry(v), now)
	add(x.by, x.key(v), id)
	return true
}

// value returns the live entry with id.
func (x *indexed[T]) value(id string, now time.Time) (T, bool) {
	s, ok := x.get(id, now)
	if !ok {
		var zero T
		return zero, false
	}
	return s.v, true
}

// live returns the live entries indexed under key.
func (x *indexed[T]) live(key string, now time.Time) []T {
	var out []T
	for id := range x.by[key] {
		if s, ok := x.get(id, now); ok {
			out = append(out, s.v)
		}
	}
	return out
}

// deleteKey deletes every entry indexed under key.
func (x *indexed[T]) deleteKey(key string) {
	for id := range x.by[key] {
		x.delete(id) // onDrop empties the index as it goes
	}
}

// capKey makes room under key for one more entry: it drops the ids of
// expired entries from key's index and ends the live entries that expire
// first (equal expiries, to the millisecond as Redis scores them, by id)
// until fewer than limit remain. It returns the ended entries. limit <= 0 or an
// empty key: nothing to do.
func (x *indexed[T]) capKey(key string, limit int, now time.Time) []T {
	if limit <= 0 || key == "" {
		return nil
	}
	type entry struct {
		id  string
		exp int64
	}
	var alive []entry
	for id := range x.by[key] {
		s := x.rows[id]
		if !live(s.exp, now) {
			x.delete(id) // the index stays as small as the live entries
			continue
		}
		alive = append(alive, entry{id, s.exp.UnixMilli()})
	}
	if len(alive) < limit {
		return nil
	}
	slices.SortFunc(alive, func(a, b entry) int { return cmp.Or(cmp.Compare(a.exp, b.exp), cmp.Compare(a.id, b.id)) })
	var ended []T
	for _, e := range alive[:len(alive)-limit+1] {
		v, _ := x.delete(e.id)
		ended = append(ended, v)
	}
	return ended
}
