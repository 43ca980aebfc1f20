package memory

import (
	"sync/atomic"
	"time"
)

// DefaultMaxEntries bounds each kind of entry (authorization requests,
// codes, sessions, access tokens, one-time values, counters, drafts, device
// authorizations) when New is given no WithMaxEntries: enough for a morning
// peak of a national single window on one node, small enough that a flood
// cannot take the machine (README, Configuration).
const DefaultMaxEntries = 200_000

// table holds the entries of one kind, each expiring at its own time, and
// at most max of them. Every write first drops the entries that have
// expired; a write that would go over max then evicts the entry that
// expires first (or, with a rank, the lowest-ranked one). Both are O(log n)
// per entry dropped, from a heap: no write scans the table. The caller
// holds the lock that guards it.
type table[V any] struct {
	rows  map[string]*slot[V]
	byExp slotHeap[V] // the soonest expiry on top
	// byRank, when set, picks the entry to evict instead of byExp
	// (counters: the fewest hits go first).
	byRank *slotHeap[V]
	max    int // <= 0: no bound
	// onDrop keeps secondary indexes consistent: it runs for every entry
	// leaving the table, deleted, expired or evicted.
	onDrop  func(key string, v V)
	evicted atomic.Uint64 // read without the lock by Evictions
}

// slot is one entry; at holds its positions in byExp and byRank.
type slot[V any] struct {
	key string
	v   V
	exp time.Time
	at  [2]int
}

func newTable[V any](max int) *table[V] {
	return &table[V]{rows: map[string]*slot[V]{}, byExp: slotHeap[V]{less: soonerExpiry[V]}, max: max}
}

func soonerExpiry[V any](a, b *slot[V]) bool {
	if !a.exp.Equal(b.exp) {
		return a.exp.Before(b.exp)
	}
	return a.key < b.key // equal expiries go in a stable order, for tests
}

// withRank makes less, not the expiry, choose whom to evict when full.
func (t *table[V]) withRank(less func(a, b *slot[V]) bool) *table[V] {
	t.byRank = &slotHeap[V]{less: less, k: 1}
	return t
}

// purge drops the entries expired at now; writes call it first, so a full
// table never evicts a live entry while an expired one remains.
func (t *table[V]) purge(now time.Time) {
	for len(t.byExp.s) > 0 && !live(t.byExp.s[0].exp, now) {
		t.drop(t.byExp.s[0])
	}
}

// get returns the live entry under key.
func (t *table[V]) get(key string, now time.Time) (*slot[V], bool) {
	s, ok := t.rows[key]
	if !ok || !live(s.exp, now) {
		return nil, false
	}
	return s, true
}

// put stores v under key until exp, replacing any entry there. It purges
// first and evicts when the table is full. It returns the slot, which the
// caller may change in place under the same lock (then calling reranked if
// the rank depends on what changed).
func (t *table[V]) put(key string, v V, exp, now time.Time) *slot[V] {
	t.purge(now)
	if s, ok := t.rows[key]; ok {
		if t.onDrop != nil {
			t.onDrop(key, s.v) // the replaced value leaves the indexes
		}
		s.v, s.exp = v, exp
		t.byExp.fix(s)
		t.reranked(s)
		return s
	}
	for t.max > 0 && len(t.rows) >= t.max {
		victim := t.byExp.s[0]
		if t.byRank != nil {
			victim = t.byRank.s[0]
		}
		t.drop(victim)
		t.evicted.Add(1)
	}
	s := &slot[V]{key: key, v: v, exp: exp}
	t.rows[key] = s
	t.byExp.push(s)
	if t.byRank != nil {
		t.byRank.push(s)
	}
	return s
}

// reranked restores the eviction order after s.v changed.
func (t *table[V]) reranked(s *slot[V]) {
	if t.byRank != nil {
		t.byRank.fix(s)
	}
}

// delete removes the entry under key, live or not, and returns it.
func (t *table[V]) delete(key string) (V, bool) {
	s, ok := t.rows[key]
	if !ok {
		var zero V
		return zero, false
	}
	t.drop(s)
	return s.v, true
}

func (t *table[V]) drop(s *slot[V]) {
	delete(t.rows, s.key)
	t.byExp.remove(s)
	if t.byRank != nil {
		t.byRank.remove(s)
	}
	if t.onDrop != nil {
		t.onDrop(s.key, s.v)
	}
}

// slotHeap is a binary min-heap of slots by less that keeps each slot's
// position in slot.at[k], so any slot can be removed or fixed in O(log n).
type slotHeap[V any] struct {
	s    []*slot[V]
	less func(a, b *slot[V]) bool
	k    int
}

func (h *slotHeap[V]) push(x *slot[V]) {
	x.at[h.k] = len(h.s)
	h.s = append(h.s, x)
	h.up(len(h.s) - 1)
}

func (h *slotHeap[V]) remove(x *slot[V]) {
	i, n := x.at[h.k], len(h.s)-1
	if i != n {
		h.swap(i, n)
	}
	h.s[n] = nil // let the slot be collected
	h.s = h.s[:n]
	if i != n {
		h.fixAt(i)
	}
}

func (h *slotHeap[V]) fix(x *slot[V]) { h.fixAt(x.at[h.k]) }

func (h *slotHeap[V]) fixAt(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *slotHeap[V]) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].at[h.k], h.s[j].at[h.k] = i, j
}

func (h *slotHeap[V]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.s[i], h.s[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down sifts i down and reports whether it moved.
func (h *slotHeap[V]) down(i int) bool {
	start, n := i, len(h.s)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.less(h.s[r], h.s[c]) {
			c = r
		}
		if !h.less(h.s[c], h.s[i]) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}
