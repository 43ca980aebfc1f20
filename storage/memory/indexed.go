package memory

import (
	"cmp"
	"slices"
	"time"
)

// indexed is a table of entries that expire at a time of their own, with a
// secondary index (sessions by user, access tokens by refresh-token
// family). The caller holds the lock that guards it.
type indexed[T any] struct {
	rows   map[string]T
	by     map[string]map[string]struct{} // key → ids
	writes int
	expiry func(T) time.Time
	key    func(T) string
}

func newIndexed[T any](expiry func(T) time.Time, key func(T) string) indexed[T] {
	return indexed[T]{rows: map[string]T{}, by: map[string]map[string]struct{}{}, expiry: expiry, key: key}
}

// insert stores v under id and reports false if a live entry already has
// that id. Now and then it sweeps out expired entries.
func (x *indexed[T]) insert(id string, v T, now time.Time) bool {
	if old, ok := x.rows[id]; ok {
		if live(x.expiry(old), now) {
			return false
		}
		remove(x.by, x.key(old), id)
	}
	x.rows[id] = v
	add(x.by, x.key(v), id)
	if sweepDue(&x.writes, len(x.rows)) {
		for id, v := range x.rows {
			if !live(x.expiry(v), now) {
				x.delete(id)
			}
		}
	}
	return true
}

// get returns the live entry with id.
func (x *indexed[T]) get(id string, now time.Time) (T, bool) {
	v, ok := x.rows[id]
	if !ok || !live(x.expiry(v), now) {
		var zero T
		return zero, false
	}
	return v, true
}

func (x *indexed[T]) delete(id string) {
	if v, ok := x.rows[id]; ok {
		delete(x.rows, id)
		remove(x.by, x.key(v), id)
	}
}

// live returns the live entries indexed under key.
func (x *indexed[T]) live(key string, now time.Time) []T {
	var out []T
	for id := range x.by[key] {
		if v := x.rows[id]; live(x.expiry(v), now) {
			out = append(out, v)
		}
	}
	return out
}

// deleteKey deletes every entry indexed under key.
func (x *indexed[T]) deleteKey(key string) {
	for id := range x.by[key] {
		delete(x.rows, id)
	}
	delete(x.by, key)
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
		v := x.rows[id]
		if !live(x.expiry(v), now) {
			x.delete(id) // the index stays as small as the live entries
			continue
		}
		alive = append(alive, entry{id, x.expiry(v).UnixMilli()})
	}
	if len(alive) < limit {
		return nil
	}
	slices.SortFunc(alive, func(a, b entry) int { return cmp.Or(cmp.Compare(a.exp, b.exp), cmp.Compare(a.id, b.id)) })
	var ended []T
	for _, e := range alive[:len(alive)-limit+1] {
		ended = append(ended, x.rows[e.id])
		x.delete(e.id)
	}
	return ended
}
