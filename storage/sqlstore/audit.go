package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
)

// The audit log is a hash chain (storage.AuditHash). Every append takes
// the one row of audit_head with a row lock (Postgres; SQLite's write
// transaction holds the whole database), inserts its events, chains every
// row after the head in id order and moves the head. Appenders are thus
// serialized, and ids, assigned while the lock is held, follow the chain.

// auditDB is the Store's DB: it appends the events storage.WithAudit
// attached to a write's context inside that write's transaction. Every
// write goes through Exec or InTx here, so no write method has to know.
type auditDB struct {
	DB
	s *Store
}

// errNoChange rolls back a lone statement that changed no row.
var errNoChange = errors.New("no row changed")

// Exec runs a lone statement; with pending events, in a transaction of
// its own together with them. A statement that changes no row (deleting
// what is not there, ON CONFLICT DO NOTHING) changed nothing to record:
// it is rolled back and the events stay pending.
func (a auditDB) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	c := storage.ClaimAudit(ctx)
	if c == nil {
		return a.DB.Exec(ctx, sql, args...)
	}
	var n int64
	err := a.withEvents(ctx, c, func(q Querier) error {
		var err error
		if n, err = q.Exec(ctx, sql, args...); err == nil && n == 0 {
			err = errNoChange
		}
		return err
	})
	if errors.Is(err, errNoChange) {
		return 0, nil
	}
	return n, err
}

func (a auditDB) InTx(ctx context.Context, fn func(Querier) error) error {
	c := storage.ClaimAudit(ctx)
	if c == nil {
		return a.DB.InTx(ctx, fn)
	}
	return a.withEvents(ctx, c, fn)
}

// withEvents runs fn and appends c's events in one transaction. A
// rollback leaves the events pending for the next write with ctx.
func (a auditDB) withEvents(ctx context.Context, c *storage.AuditClaim, fn func(Querier) error) error {
	committed := false
	defer func() { c.Done(committed) }()
	err := a.DB.InTx(ctx, func(q Querier) error {
		if err := fn(q); err != nil {
			return err
		}
		if err := a.s.appendAudit(ctx, q, c.Events); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		return nil
	})
	committed = err == nil
	if committed {
		a.s.observeAudit(c.Events)
	}
	return err
}

func (s *Store) observeAudit(es []storage.AuditEvent) {
	if fn := s.onAudit.Load(); fn != nil {
		for _, e := range es {
			(*fn)(e.Action)
		}
	}
}

// AppendAudit appends e, chained, in a transaction of its own (with any
// events attached to ctx); the store assigns e.ID. Every field is made
// storable first (auditText): Postgres refuses NUL and invalid UTF-8 in
// TEXT, and an event lost to that would be the one an attacker chose.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	err := s.db.InTx(ctx, func(q Querier) error { return s.appendAudit(ctx, q, []storage.AuditEvent{e}) })
	if err == nil {
		s.observeAudit([]storage.AuditEvent{e})
	}
	return s.wrap("append audit event", err)
}

// auditHead is the newest chained event.
type auditHead struct {
	id   int64
	hash []byte
}

// lockAuditHead reads the head, locking it until q's transaction ends.
func (s *Store) lockAuditHead(ctx context.Context, q Querier) (auditHead, error) {
	var h auditHead
	err := q.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+s.d.ForUpdate).Scan(&h.id, &h.hash)
	if err != nil {
		return h, fmt.Errorf("lock audit head: %w", err)
	}
	return h, nil
}

// appendAudit inserts es inside q's transaction and chains them.
func (s *Store) appendAudit(ctx context.Context, q Querier, es []storage.AuditEvent) error {
	head, err := s.lockAuditHead(ctx, q)
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := s.insertAudit(ctx, q, e); err != nil {
			return err
		}
	}
	return s.chainAudit(ctx, q, head)
}

// insertAudit inserts e unchained; chainAudit hashes it.
func (s *Store) insertAudit(ctx context.Context, q Querier, e storage.AuditEvent) error {
	detail := "{}"
	if len(e.Detail) > 0 {
		b, err := json.Marshal(auditDetail(e.Detail))
		if err != nil {
			return err
		}
		detail = string(b)
	}
	outcome := e.Outcome
	if outcome == "" {
		outcome = storage.AuditOutcome(e.Action)
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_events (occurred_at, action, actor_id, subject, client_id, ip, detail, outcome, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		micros(e.Time), auditText(e.Action), auditText(e.ActorID), auditText(e.Subject),
		auditText(e.ClientID), auditText(e.IP), detail, auditText(outcome), []byte{}, []byte{})
	return err
}

// auditChainBatch bounds the rows chainAudit holds at once (the migration
// chains every row stored before it).
const auditChainBatch = 500

// chainAudit hashes, in id order, every event after head (those just
// inserted; at the migration, all rows stored before it; during a rolling
// upgrade, rows an older node wrote without a hash) and moves the head.
// It hashes the row as read back, so the hash covers what is stored.
func (s *Store) chainAudit(ctx context.Context, q Querier, head auditHead) error {
	for {
		rows, err := q.Query(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`,
			head.id, int64(auditChainBatch))
		es, err := collect(rows, err, scanAudit)
		if err != nil {
			return fmt.Errorf("read events to chain: %w", err)
		}
		for _, e := range es {
			if e.Outcome == "" { // written before outcomes were stored
				e.Outcome = storage.AuditOutcome(e.Action)
			}
			e.Hash = storage.AuditHash(head.hash, e)
			if _, err := q.Exec(ctx, `UPDATE audit_events SET outcome = $1, prev_hash = $2, hash = $3 WHERE id = $4`,
				e.Outcome, blob(head.hash), e.Hash, e.ID); err != nil {
				return fmt.Errorf("chain event %d: %w", e.ID, err)
			}
			head = auditHead{id: e.ID, hash: e.Hash}
		}
		if len(es) < auditChainBatch {
			break
		}
	}
	_, err := q.Exec(ctx, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`, head.id, blob(head.hash))
	return err
}

// AuditHead returns the newest chained event's id and hash.
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var h auditHead
	err := s.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&h.id, &h.hash)
	if err != nil {
		return 0, nil, s.wrap("read audit head", err)
	}
	return h.id, parseBlob(h.hash), nil
}

const auditColumns = `id, occurred_at, action, actor_id, subject, client_id, ip, detail, outcome, prev_hash, hash`

func scanAudit(r scanner) (storage.AuditEvent, error) {
	var (
		e      storage.AuditEvent
		at     int64
		detail string
	)
	if err := r.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.Subject, &e.ClientID, &e.IP, &detail,
		&e.Outcome, &e.PrevHash, &e.Hash); err != nil {
		return storage.AuditEvent{}, err
	}
	e.Time = fromMicros(at)
	e.PrevHash, e.Hash = parseBlob(e.PrevHash), parseBlob(e.Hash)
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		return storage.AuditEvent{}, fmt.Errorf("decode detail: %w", err)
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	return e, nil
}

// ListAudit returns up to limit events with ID < before (0: from the
// newest), newest first.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]storage.AuditEvent, error) {
	return s.ListAuditFiltered(ctx, storage.AuditFilter{Before: before, Limit: limit})
}

// ListAuditFiltered returns up to f.Limit events matching f, newest first.
// Each filter has its index: (actor_id, id), (subject, id) of migration
// 0010, (action, id) and (client_id, id) of 0018, occurred_at of 0005,
// and the primary key for the cursor.
func (s *Store) ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	const op = "list audit events"
	if f.Limit <= 0 {
		return nil, nil
	}
	before := f.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	where := []string{"id < $1"}
	args := []any{before}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.ActorID != "" {
		add("actor_id = $?", auditText(f.ActorID))
	}
	if f.Subject != "" {
		add("subject = $?", auditText(f.Subject))
	}
	if f.ClientID != "" {
		add("client_id = $?", auditText(f.ClientID))
	}
	if prefix, ok := f.ActionPrefix(); ok {
		actions, err := s.auditActions(ctx, prefix)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		if len(actions) == 0 {
			return nil, nil
		}
		var in []string
		for _, a := range actions {
			args = append(args, a)
			in = append(in, "$"+strconv.Itoa(len(args)))
		}
		where = append(where, "action IN ("+strings.Join(in, ", ")+")")
	} else if f.Action != "" {
		add("action = $?", auditText(f.Action))
	}
	if !f.From.IsZero() {
		add("occurred_at >= $?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("occurred_at < $?", f.To.UnixMicro())
	}
	args = append(args, int64(f.Limit))
	rows, err := s.db.Query(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	es, err := collect(rows, err, scanAudit)
	return es, s.wrap(op, err)
}

// maxAuditActions bounds the distinct actions auditActions walks.
const maxAuditActions = 10000

// auditActions returns the stored actions starting with prefix. It walks
// the distinct actions on the (action, id) index, one seek each (they are
// a few hundred at most), and compares in Go: a range "action >= prefix"
// would follow the database's collation, which on Postgres need not sort
// "login.x" between "login." and "login/".
func (s *Store) auditActions(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	var cur string
	err := s.db.QueryRow(ctx, `SELECT action FROM audit_events ORDER BY action LIMIT 1`).Scan(&cur)
	for range maxAuditActions {
		if s.d.IsNoRows(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("distinct actions: %w", err)
		}
		if strings.HasPrefix(cur, prefix) {
			out = append(out, cur)
		}
		err = s.db.QueryRow(ctx, `SELECT action FROM audit_events WHERE action > $1 ORDER BY action LIMIT 1`, cur).Scan(&cur)
	}
	return out, nil
}

// AuditAscending returns up to limit events with ID > afterID, oldest first.
func (s *Store) AuditAscending(ctx context.Context, afterID int64, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`,
		afterID, int64(limit))
	es, err := collect(rows, err, scanAudit)
	return es, s.wrap("list audit events ascending", err)
}

// auditPruneBatch bounds the rows one pruning transaction reads, so a
// large backlog never holds SQLite's single write lock (or the chain's
// head on Postgres) for long: other writers get in between batches.
const auditPruneBatch = 5000

// auditPruneRuns bounds the id runs one pruning transaction deletes, so
// its record's "deleted" detail stays far below storage.MaxAuditField.
const auditPruneRuns = 10

// PruneAudit deletes the events that occurred before before, whatever
// their ids (nodes' clocks differ), in batches. It walks the log in id
// order from the oldest and stops at a batch with nothing to delete: an
// event that expired among newer ones goes once they do. Each batch's
// transaction records what it deleted (storage.AuditPruneAction) in the
// chain, after the deletion.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	after := int64(0)
	cutoff := micros(before)
	for {
		var n int64
		more := false
		err := s.db.InTx(ctx, func(q Querier) error {
			n, more = 0, false
			head, err := s.lockAuditHead(ctx, q)
			if err != nil {
				return err
			}
			type row struct{ id, at int64 }
			rows, err := q.Query(ctx, `SELECT id, occurred_at FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`,
				after, int64(auditPruneBatch))
			scanned, err := collect(rows, err, func(r scanner) (row, error) {
				var v row
				return v, r.Scan(&v.id, &v.at)
			})
			if err != nil {
				return err
			}
			var runs [][2]int64 // [first, last] ids, every row between expired
			open := false
			last := after
			for _, r := range scanned {
				switch {
				case r.at >= cutoff:
					open = false
				case open:
					runs[len(runs)-1][1] = r.id
				case len(runs) == auditPruneRuns:
					more = true
				default:
					runs = append(runs, [2]int64{r.id, r.id})
					open = true
				}
				if more {
					break
				}
				last = r.id
			}
			after = last
			if len(scanned) == auditPruneBatch && len(runs) > 0 {
				more = true
			}
			var text []string
			for _, r := range runs {
				d, err := q.Exec(ctx, `DELETE FROM audit_events WHERE id >= $1 AND id <= $2`, r[0], r[1])
				if err != nil {
					return err
				}
				n += d
				text = append(text, fmt.Sprintf("%d-%d", r[0], r[1]))
			}
			if n == 0 {
				return nil
			}
			err = s.insertAudit(ctx, q, storage.AuditEvent{
				Time: time.Now().UTC(), Action: storage.AuditPruneAction, ActorID: "retention",
				Detail: map[string]string{
					"count":   strconv.FormatInt(n, 10),
					"cutoff":  before.UTC().Format(time.RFC3339Nano),
					"deleted": strings.Join(text, ","),
				},
			})
			if err != nil {
				return err
			}
			return s.chainAudit(ctx, q, head)
		})
		if err != nil {
			return total, s.wrap("prune audit events", err)
		}
		if n > 0 {
			s.observeAudit([]storage.AuditEvent{{Action: storage.AuditPruneAction}})
		}
		total += n
		if !more {
			return total, nil
		}
	}
}
