package memory

import "time"

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
