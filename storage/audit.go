package storage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcomes of an audit event.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditPruneAction is the event retention appends with every deletion:
// Detail "count", "cutoff" (RFC 3339) and "deleted", the id runs it
// removed ("1-4990,5003-5003").
const AuditPruneAction = "audit.prune"

// failureSuffixes end the last dot-separated part of an action that
// records something refused or gone wrong: "login.failure",
// "password.change_failure", "client.assertion_replay",
// "registration.submit_refused", "dpop.key_mismatch", the anonymous
// summaries "login.failures" and "registration.refusals".
var failureSuffixes = []string{"failure", "failures", "fail", "failed", "denied", "refused", "refusals", "replay", "locked", "mismatch"}

// AuditOutcome is the outcome an event of action has when its Outcome is
// not set: "failure" for the refusals above, else "success".
func AuditOutcome(action string) string {
	last := action[strings.LastIndexByte(action, '.')+1:]
	for _, suf := range failureSuffixes {
		if strings.HasSuffix(last, suf) {
			return OutcomeFailure
		}
	}
	return OutcomeSuccess
}

// AuditHash is the hash chaining e to its predecessor, whose hash is
// prev (empty for the first event): SHA-256 over a tag and every field
// of e as stored (Time in microseconds, Detail by key, ID included, so
// renumbering shows), each length-prefixed so no two events encode
// alike. e.PrevHash and e.Hash are not read.
func AuditHash(prev []byte, e AuditEvent) []byte {
	h := sha256.New()
	var n [8]byte
	num := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	field := func(b []byte) {
		num(uint64(len(b)))
		h.Write(b)
	}
	field([]byte("satupintu audit v1"))
	num(uint64(e.ID))
	var at int64
	if !e.Time.IsZero() {
		at = e.Time.UnixMicro()
	}
	num(uint64(at))
	for _, s := range []string{e.Action, e.ActorID, e.Subject, e.ClientID, e.IP, e.Outcome} {
		field([]byte(s))
	}
	num(uint64(len(e.Detail)))
	for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
		field([]byte(k))
		field([]byte(e.Detail[k]))
	}
	field(prev)
	return h.Sum(nil)
}

// AuditFilter selects events for ListAuditFiltered. Zero fields do not
// filter.
type AuditFilter struct {
	ActorID string
	// Action is an exact action, or a prefix when it ends in '*' or '.'
	// ("login.*" and "login." both match "login.success").
	Action   string
	Subject  string
	ClientID string
	// From (inclusive) and To (exclusive) bound the time of the events.
	From, To time.Time
	// Before is the keyset cursor: only events with ID < Before (0: from
	// the newest).
	Before int64
	Limit  int
}

// ActionPrefix reports whether f.Action is a prefix, and which.
func (f AuditFilter) ActionPrefix() (prefix string, ok bool) {
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		return p, true
	}
	if strings.HasSuffix(f.Action, ".") {
		return f.Action, true
	}
	return "", false
}

type auditCtxKey struct{}

// pendingAudit is the events one WithAudit attached; parent holds those
// attached before, on the context it was given.
type pendingAudit struct {
	mu     sync.Mutex
	events []AuditEvent
	state  int // pendingState…
	parent *pendingAudit
}

const (
	pendingState = iota
	claimedState // a transaction is writing them
	writtenState // committed
)

// WithAudit returns ctx carrying events for the next write that commits
// with it: a durable store appends them inside that write's transaction
// (see Audit). Attach them to the write's call only, not to a context
// that reads first, since any write transaction with ctx takes them. A
// write that changes nothing (a lone statement that matched no row)
// stores none and leaves them pending.
func WithAudit(ctx context.Context, events ...AuditEvent) context.Context {
	parent, _ := ctx.Value(auditCtxKey{}).(*pendingAudit)
	return context.WithValue(ctx, auditCtxKey{}, &pendingAudit{events: slices.Clone(events), parent: parent})
}

// AuditClaim is the pending events of a context, taken by one transaction
// of a store. Done must be called once, with whether it committed.
type AuditClaim struct {
	Events  []AuditEvent
	holders []*pendingAudit
}

// ClaimAudit takes ctx's pending events for a transaction; nil if there
// are none (or another transaction holds them).
func ClaimAudit(ctx context.Context) *AuditClaim {
	var c AuditClaim
	for p, _ := ctx.Value(auditCtxKey{}).(*pendingAudit); p != nil; p = p.parent {
		p.mu.Lock()
		if p.state == pendingState && len(p.events) > 0 {
			p.state = claimedState
			c.holders = append(c.holders, p)
		}
		p.mu.Unlock()
	}
	if len(c.holders) == 0 {
		return nil
	}
	// Oldest attachment first, as they happened.
	slices.Reverse(c.holders)
	for _, p := range c.holders {
		c.Events = append(c.Events, p.events...)
	}
	return &c
}

// Done marks the events written when committed, else pending again.
func (c *AuditClaim) Done(committed bool) {
	for _, p := range c.holders {
		p.mu.Lock()
		if committed {
			p.state = writtenState
		} else {
			p.state = pendingState
		}
		p.mu.Unlock()
	}
}

// AuditPending reports whether ctx carries events no transaction has
// written yet: a store that would batch the write with other callers'
// (their contexts and transactions shared) writes it alone instead.
func AuditPending(ctx context.Context) bool {
	for p, _ := ctx.Value(auditCtxKey{}).(*pendingAudit); p != nil; p = p.parent {
		p.mu.Lock()
		pending := p.state == pendingState && len(p.events) > 0
		p.mu.Unlock()
		if pending {
			return true
		}
	}
	return false
}

// ParseAuditRuns reads the "deleted" detail of an AuditPruneAction event:
// id runs "first-last", comma separated.
func ParseAuditRuns(s string) ([][2]int64, error) {
	var out [][2]int64
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, "-")
		lo, err1 := strconv.ParseInt(a, 10, 64)
		hi, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("bad id run %q", part)
		}
		out = append(out, [2]int64{lo, hi})
	}
	return out, nil
}
