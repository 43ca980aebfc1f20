// Package audit checks and exports the audit log: Verify walks the hash
// chain (storage.AuditHash) and names the first broken link; the writers
// turn events into CSV or JSON lines for an auditor.
package audit

import (
	"bytes"
	"context"
	"fmt"

	"satupintu/storage"
)

// Source is what Verify reads: the log in id order, its head and the
// events retention left behind (storage.Audit has them all).
type Source interface {
	AuditAscending(ctx context.Context, afterID int64, limit int) ([]storage.AuditEvent, error)
	AuditHead(ctx context.Context) (id int64, hash []byte, err error)
	ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// Report is the outcome of Verify.
type Report struct {
	Events   int64 // events checked
	FirstID  int64
	LastID   int64
	HeadID   int64
	HeadHash []byte
	// Anchor is the first event's PrevHash when retention removed its
	// predecessor (empty when the log starts at its first event).
	Anchor []byte
	Broken *Break // nil: the chain holds
}

// Break is the first broken link: the event at ID and what is wrong.
type Break struct {
	ID     int64
	Reason string
}

// pageSize is how many events Verify reads at once.
const pageSize = 1000

// Verify streams every event in id order and reports the first broken
// link:
//   - an event whose Hash is not AuditHash of its contents: edited;
//   - an event whose PrevHash is not the Hash of the event before it: a
//     row removed or inserted between them, unless a retention record
//     (storage.AuditPruneAction) says it deleted ids there;
//   - the last event not being the store's head: events cut off the end,
//     or added after it without the store (events appended while Verify
//     walks are walked too).
//
// The earliest event's PrevHash may name a pruned event: it is the
// anchor. A break is excused only where a retention record names ids
// between the two events, so a row removed right beside pruned ones
// passes for pruned. Verification proves the log is as it was chained; someone who
// can write the database can also rechain it, so compare HeadHash with a
// value noted earlier (a previous report) to catch that.
func Verify(ctx context.Context, src Source) (Report, error) {
	var r Report
	runs, err := prunedRuns(ctx, src)
	if err != nil {
		return r, err
	}
	pruned := func(after, before int64) bool { // some id in (after, before)
		for _, run := range runs {
			if run[0] < before && run[1] > after {
				return true
			}
		}
		return false
	}
	var prev *storage.AuditEvent
	after := int64(0)
	for round := 0; ; round++ {
		for {
			es, err := src.AuditAscending(ctx, after, pageSize)
			if err != nil {
				return r, fmt.Errorf("audit: verify: read events after %d: %w", after, err)
			}
			for i := range es {
				e := &es[i]
				b := check(prev, e, pruned)
				if b != nil && b.link {
					// Retention may have run since the records were read.
					if runs, err = prunedRuns(ctx, src); err != nil {
						return r, err
					}
					b = check(prev, e, pruned)
				}
				if b != nil {
					r.Broken = &b.Break
					return r, nil
				}
				if prev == nil {
					r.FirstID, r.Anchor = e.ID, e.PrevHash
				}
				r.Events++
				r.LastID = e.ID
				prev = &storage.AuditEvent{ID: e.ID, Hash: e.Hash}
			}
			if len(es) > 0 {
				after = es[len(es)-1].ID
			}
			if len(es) < pageSize {
				break
			}
		}
		headID, headHash, err := src.AuditHead(ctx)
		if err != nil {
			return r, fmt.Errorf("audit: verify: read head: %w", err)
		}
		r.HeadID, r.HeadHash = headID, headHash
		var lastHash []byte
		if prev != nil {
			lastHash = prev.Hash
		}
		switch {
		case r.LastID == headID && bytes.Equal(lastHash, headHash):
			return r, nil
		case headID > r.LastID && round < 3:
			continue // appended while we walked: walk on
		case r.LastID > headID:
			es, err := src.AuditAscending(ctx, headID, 1)
			if err != nil {
				return r, fmt.Errorf("audit: verify: read events after the head: %w", err)
			}
			id := r.LastID
			if len(es) > 0 {
				id = es[0].ID
			}
			r.Broken = &Break{ID: id, Reason: fmt.Sprintf("it comes after the chain's head (event %d): the store did not chain it", headID)}
		default:
			r.Broken = &Break{ID: headID, Reason: fmt.Sprintf("the newest chained event is %d but the log ends at %d: events were removed from its end", headID, r.LastID)}
		}
		return r, nil
	}
}

// brokenLink is a Break, and whether it is in the link to the event
// before (which a retention record may explain) rather than the event.
type brokenLink struct {
	Break
	link bool
}

// check returns what is wrong with e after prev (nil: e is the first).
func check(prev, e *storage.AuditEvent, pruned func(after, before int64) bool) *brokenLink {
	if want := storage.AuditHash(e.PrevHash, *e); !bytes.Equal(want, e.Hash) {
		if len(e.Hash) == 0 {
			return &brokenLink{Break: Break{ID: e.ID, Reason: "the event is not chained"}}
		}
		return &brokenLink{Break: Break{ID: e.ID, Reason: "its hash does not match its contents: the event was edited"}}
	}
	switch {
	case prev == nil && len(e.PrevHash) != 0 && !pruned(0, e.ID):
		return &brokenLink{Break: Break{ID: e.ID, Reason: "the events before it were removed, and no retention record says so"}, link: true}
	case prev != nil && !bytes.Equal(e.PrevHash, prev.Hash) && !pruned(prev.ID, e.ID):
		return &brokenLink{Break: Break{ID: e.ID, Reason: fmt.Sprintf("it does not follow event %d: an event between them was removed or inserted", prev.ID)}, link: true}
	}
	return nil
}

// prunedRuns collects the id runs every retention record says it deleted.
// The records are themselves in the chain, so a forged one shows there.
func prunedRuns(ctx context.Context, src Source) ([][2]int64, error) {
	var runs [][2]int64
	f := storage.AuditFilter{Action: storage.AuditPruneAction, Limit: pageSize}
	for {
		es, err := src.ListAuditFiltered(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: read retention records: %w", err)
		}
		for _, e := range es {
			if rs, err := storage.ParseAuditRuns(e.Detail["deleted"]); err == nil {
				runs = append(runs, rs...)
			}
		}
		if len(es) < f.Limit {
			return runs, nil
		}
		f.Before = es[len(es)-1].ID
	}
}
