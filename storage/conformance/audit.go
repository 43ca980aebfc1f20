package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"satupintu/audit"
	"satupintu/storage"
)

// testAuditPrune: retention deletes by time, whatever the order of ids,
// and says how many it deleted.
func testAuditPrune(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	n, err := s.PruneAudit(ctx, instant(0))
	mustOK(t, "PruneAudit of an empty log", err)
	if n != 0 {
		t.Errorf("PruneAudit of an empty log deleted %d", n)
	}
	// Appended out of time order (nodes' clocks differ): retention goes by
	// occurred_at, not by id.
	for _, m := range []int{5, -60, 10, -1, -120, 0} {
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{
			Time: instant(m), Action: "login.failure", Subject: fmt.Sprint(m), Detail: map[string]string{"reason": "bad_credentials"},
		}))
	}
	// The limit is an instant: another time zone, the same cut.
	n, err = s.PruneAudit(ctx, instant(0).In(time.UTC))
	mustOK(t, "PruneAudit", err)
	if n != 3 {
		t.Errorf("PruneAudit deleted %d events, want the 3 before the limit", n)
	}
	left, err := s.ListAudit(ctx, 0, 100)
	mustOK(t, "ListAudit", err)
	var subjects []string
	for _, e := range realEvents(left) {
		subjects = append(subjects, e.Subject)
	}
	checkEqual(t, "events kept, newest id first", []string{"0", "10", "5"}, subjects)
	n, err = s.PruneAudit(ctx, instant(0))
	mustOK(t, "PruneAudit again", err)
	if n != 0 {
		t.Errorf("a second PruneAudit deleted %d", n)
	}
}

// testAuditAnyBytes: whatever bytes a client sent (a login name with NUL or
// invalid UTF-8, a newline that would forge a log line, a bidi override,
// a pasted megabyte) the event is stored, escaped and cut as the
// storage.Audit comment says, and valid text comes back unchanged.
func testAuditAnyBytes(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	long := strings.Repeat("é", storage.MaxAuditField) // 2 bytes each
	e := storage.AuditEvent{
		Time:     instant(0),
		Action:   "login.failure",
		ActorID:  "\x00",
		Subject:  "budi\x00\xff\xfe\nlogin.success\u202e<b>\\x00 ✓",
		ClientID: "ebpom\x7f\u0085",
		IP:       "203.0.113.7\t",
		Detail:   map[string]string{"reason": "bad\x00credentials", "bad\xffkey": "v", "long": long},
	}
	many := map[string]string{}
	for i := range storage.MaxAuditDetail + 8 {
		many[fmt.Sprintf("k%02d", i)] = "x"
	}
	for _, ev := range []storage.AuditEvent{
		e,
		{Time: instant(1), Action: "login.failure", Subject: strings.Repeat("a", 1<<20)},
		{Time: instant(2), Action: "login.failure", Detail: many},
	} {
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, ev))
	}
	got, err := s.ListAudit(ctx, 0, 10)
	mustOK(t, "ListAudit", err)
	if r := verifyAudit(t, s); r.Broken != nil {
		t.Errorf("Verify of escaped events: %+v", r.Broken)
	}
	if len(got) != 3 {
		t.Fatalf("ListAudit returned %d events, want 3: an event was lost", len(got))
	}

	var wantMany []string
	for i := range storage.MaxAuditDetail {
		wantMany = append(wantMany, fmt.Sprintf("k%02d", i)) // the first by key
	}
	checkEqual(t, "Detail entries kept", wantMany, slices.Sorted(maps.Keys(got[0].Detail)))

	if sub := got[1].Subject; len(sub) != storage.MaxAuditField || !strings.HasSuffix(sub, "…") || !strings.HasPrefix(sub, "aaa") {
		t.Errorf("a megabyte subject came back as %d bytes ending %q", len(sub), sub[max(0, len(sub)-8):])
	}

	ev := got[2]
	checkEqual(t, "escaped fields",
		[]string{"login.failure", `\u0000`, `budi\u0000\xff\xfe\u000alogin.success\u202e<b>\x00 ✓`, `ebpom\u007f\u0085`, `203.0.113.7\u0009`},
		[]string{ev.Action, ev.ActorID, ev.Subject, ev.ClientID, ev.IP})
	cut := ev.Detail["long"]
	if len(cut) > storage.MaxAuditField || !strings.HasSuffix(cut, "é…") || !utf8.ValidString(cut) {
		t.Errorf("a long Detail value came back as %d bytes, ending %q", len(cut), cut[max(0, len(cut)-8):])
	}
	delete(ev.Detail, "long")
	checkEqual(t, "escaped Detail", map[string]string{"reason": `bad\u0000credentials`, `bad\xffkey`: "v"}, ev.Detail)
}

// testAuditObserver: a backend that lets metrics observe the audit log
// reports each stored event's action once.
func testAuditObserver(t *testing.T, s storage.Durable) {
	o, ok := s.(interface{ ObserveAudit(func(string)) })
	if !ok {
		t.Skip("the backend has no audit observer")
	}
	var mu sync.Mutex
	var seen []string
	o.ObserveAudit(func(action string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, action)
	})
	defer o.ObserveAudit(func(string) {})
	for _, a := range []string{"login.success", "login.failure", "login.success"} {
		mustOK(t, "AppendAudit", s.AppendAudit(t.Context(), storage.AuditEvent{Time: instant(1), Action: a}))
	}
	mu.Lock()
	defer mu.Unlock()
	checkEqual(t, "observed actions", []string{"login.success", "login.failure", "login.success"}, seen)
}

// auditVerifier is what the chain tests need besides storage.Durable.
func verifyAudit(t *testing.T, s storage.Durable) audit.Report {
	t.Helper()
	r, err := audit.Verify(t.Context(), s)
	mustOK(t, "audit.Verify", err)
	return r
}

// realEvents drops retention's own records.
func realEvents(es []storage.AuditEvent) []storage.AuditEvent {
	return slices.DeleteFunc(es, func(e storage.AuditEvent) bool { return e.Action == storage.AuditPruneAction })
}

// testAuditChain: every event carries the hash of the one before it, the
// outcome follows the action unless given, and Verify finds the chain whole.
func testAuditChain(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	if r := verifyAudit(t, s); r.Broken != nil || r.Events != 0 || r.HeadID != 0 {
		t.Fatalf("Verify of an empty log: %+v", r)
	}
	for i, a := range []string{"login.success", "login.failure", "client.assertion_replay", "password.change_failure", "user.unlock"} {
		e := storage.AuditEvent{Time: instant(i), Action: a, ActorID: "u1", Detail: map[string]string{"n": fmt.Sprint(i)}}
		if i == 4 {
			e.Outcome = storage.OutcomeFailure
		}
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, e))
	}
	es, err := s.AuditAscending(ctx, 0, 100)
	mustOK(t, "AuditAscending", err)
	if len(es) != 5 {
		t.Fatalf("AuditAscending returned %d events, want 5", len(es))
	}
	var outcomes []string
	for i, e := range es {
		outcomes = append(outcomes, e.Outcome)
		if !bytes.Equal(e.Hash, storage.AuditHash(e.PrevHash, e)) {
			t.Errorf("event %d: hash is not AuditHash of the event", e.ID)
		}
		if i == 0 && len(e.PrevHash) != 0 {
			t.Errorf("first event has a previous hash %x", e.PrevHash)
		}
		if i > 0 && (!bytes.Equal(e.PrevHash, es[i-1].Hash) || e.ID <= es[i-1].ID) {
			t.Errorf("event %d does not follow event %d", e.ID, es[i-1].ID)
		}
	}
	checkEqual(t, "outcomes", []string{"success", "failure", "failure", "failure", "failure"}, outcomes)
	id, hash, err := s.AuditHead(ctx)
	mustOK(t, "AuditHead", err)
	if last := es[len(es)-1]; id != last.ID || !bytes.Equal(hash, last.Hash) {
		t.Errorf("AuditHead = %d %x, want the newest event %d %x", id, hash, last.ID, last.Hash)
	}
	after, err := s.AuditAscending(ctx, es[1].ID, 2)
	mustOK(t, "AuditAscending after", err)
	if len(after) != 2 || after[0].ID != es[2].ID || after[1].ID != es[3].ID {
		t.Errorf("AuditAscending(after %d, 2) = %+v", es[1].ID, after)
	}
	if r := verifyAudit(t, s); r.Broken != nil || r.Events != 5 || r.FirstID != es[0].ID || r.LastID != id || len(r.Anchor) != 0 {
		t.Errorf("Verify: %+v", r)
	}
}

// testAuditWithAudit: an event attached with WithAudit commits with the
// write, exactly once; a write that fails stores none and leaves it for
// the next write with the context.
func testAuditWithAudit(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@example.com", CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	ev := storage.AuditEvent{Time: instant(1), Action: "user.set_password", ActorID: "cli", Subject: u.ID, IP: "192.0.2.1"}
	actx := storage.WithAudit(ctx, ev)
	boom := errors.New("refused")
	err := s.UpdateUser(actx, u.ID, func(*storage.User) error { return boom })
	checkErr(t, "UpdateUser whose fn fails", err, boom)
	if es, _ := s.ListAudit(ctx, 0, 10); len(es) != 0 {
		t.Fatalf("a failed transaction wrote %d events", len(es))
	}
	if !storage.AuditPending(actx) {
		t.Error("after a rollback the event is no longer pending")
	}
	for i := range 2 {
		mustOK(t, "UpdateUser", s.UpdateUser(actx, u.ID, func(u *storage.User) error {
			u.Name = fmt.Sprint("Budi ", i)
			return nil
		}))
	}
	// A lone statement outside a transaction takes the events too.
	cctx := storage.WithAudit(ctx, storage.AuditEvent{Time: instant(2), Action: "client.create", ActorID: "cli", Subject: "ebpom", ClientID: "ebpom"})
	mustOK(t, "CreateClient", s.CreateClient(cctx, storage.Client{ID: "ebpom", Name: "e-BPOM"}))
	mustOK(t, "UpdateClient", s.UpdateClient(cctx, "ebpom", func(c *storage.Client) error { c.Name = "BPOM"; return nil }))
	// A write that changes nothing records nothing.
	mustOK(t, "UnlinkApp of no link", s.UnlinkApp(storage.WithAudit(ctx, storage.AuditEvent{Action: "app.unlink"}), u.ID, "nothing"))
	checkErr(t, "CreateClient again", s.CreateClient(storage.WithAudit(ctx, storage.AuditEvent{Action: "client.create"}),
		storage.Client{ID: "ebpom"}), storage.ErrAlreadyExists)

	es, err := s.ListAudit(ctx, 0, 10)
	mustOK(t, "ListAudit", err)
	if len(es) != 2 {
		t.Fatalf("ListAudit after two audited writes per context returned %d events, want 2: %+v", len(es), es)
	}
	want := ev
	want.ID, want.Outcome, want.PrevHash, want.Hash = es[1].ID, storage.OutcomeSuccess, es[1].PrevHash, es[1].Hash
	checkEqual(t, "event of the user update", want, es[1])
	if es[0].Action != "client.create" || es[0].ClientID != "ebpom" {
		t.Errorf("event of the client write: %+v", es[0])
	}
	if storage.AuditPending(actx) || storage.AuditPending(cctx) {
		t.Error("events still pending after their write committed")
	}
	// A refresh token, written in batches with other callers' otherwise,
	// commits with its event too.
	rctx := storage.WithAudit(ctx, storage.AuditEvent{Action: "token.issue"})
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(rctx, refreshToken("rt-1", "fam-1", "ebpom", u.ID, 0)))
	if es, _ := s.ListAudit(ctx, 0, 1); len(es) != 1 || es[0].Action != "token.issue" || storage.AuditPending(rctx) {
		t.Errorf("event of the refresh token: %+v", es)
	}
	// Nested attachments commit together, the outer first.
	nctx := storage.WithAudit(storage.WithAudit(ctx, storage.AuditEvent{Action: "a.outer"}), storage.AuditEvent{Action: "a.inner"})
	mustOK(t, "UpdateUser", s.UpdateUser(nctx, u.ID, func(*storage.User) error { return nil }))
	es, err = s.ListAudit(ctx, 0, 2)
	mustOK(t, "ListAudit", err)
	if len(es) != 2 || es[1].Action != "a.outer" || es[0].Action != "a.inner" {
		t.Errorf("nested events: %+v", es)
	}
	if r := verifyAudit(t, s); r.Broken != nil || r.Events != 5 {
		t.Errorf("Verify: %+v", r)
	}
}

// testAuditConcurrent: appenders racing on several connections, alone or
// with a write, leave one unbroken chain.
func testAuditConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := storage.User{ID: storage.NewID(), Username: "siti", CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := storage.AuditEvent{Time: instant(i), Action: "login.success", ActorID: fmt.Sprint("w", w), Subject: fmt.Sprint(i)}
				errs <- s.AppendAudit(ctx, e)
				e.Action = "profile.update"
				errs <- s.UpdateUser(storage.WithAudit(ctx, e), u.ID, func(u *storage.User) error { u.Name = e.ActorID; return nil })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustOK(t, "concurrent append", err)
	}
	if r := verifyAudit(t, s); r.Broken != nil || r.Events != workers*each*2 {
		t.Errorf("Verify after concurrent appends: %+v", r)
	}
}

// testAuditFilter: each filter alone and together, newest first, paged
// by the keyset cursor.
func testAuditFilter(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	type ev struct {
		action, actor, subject, client string
	}
	evs := []ev{
		{"login.success", "u1", "u1", "ebpom"},
		{"login.failure", "", "budi", "ebpom"},
		{"client.create", "cli", "insw", ""},
		{"login.success", "u2", "u2", "insw"},
		{"login.locked", "", "u1", "ebpom"},
		{"logout", "u1", "u1", "insw"},
		{"password.change", "u1", "u1", ""},
	}
	for i, e := range evs {
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Time: instant(i * 10), Action: e.action,
			ActorID: e.actor, Subject: e.subject, ClientID: e.client}))
	}
	all, err := s.ListAudit(ctx, 0, 100)
	mustOK(t, "ListAudit", err)
	idx := func(es []storage.AuditEvent) []int { // positions in evs
		var out []int
		for _, e := range es {
			for j := range all {
				if all[j].ID == e.ID {
					out = append(out, len(all)-1-j)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    storage.AuditFilter
		want []int
	}{
		{"actor", storage.AuditFilter{ActorID: "u1"}, []int{6, 5, 0}},
		{"exact action", storage.AuditFilter{Action: "login.success"}, []int{3, 0}},
		{"action prefix with *", storage.AuditFilter{Action: "login.*"}, []int{4, 3, 1, 0}},
		{"action prefix with .", storage.AuditFilter{Action: "login."}, []int{4, 3, 1, 0}},
		{"prefix matching none", storage.AuditFilter{Action: "nothing.*"}, nil},
		{"subject", storage.AuditFilter{Subject: "u1"}, []int{6, 5, 4, 0}},
		{"client", storage.AuditFilter{ClientID: "insw"}, []int{5, 3}},
		{"from", storage.AuditFilter{From: instant(40)}, []int{6, 5, 4}},
		{"to (exclusive)", storage.AuditFilter{To: instant(20)}, []int{1, 0}},
		{"from and to in another zone", storage.AuditFilter{From: instant(10).UTC(), To: instant(31)}, []int{3, 2, 1}},
		{"together", storage.AuditFilter{Action: "login.*", Subject: "u1", ClientID: "ebpom"}, []int{4, 0}},
		{"before", storage.AuditFilter{Before: all[2].ID}, []int{3, 2, 1, 0}},
	} {
		c.f.Limit = 100
		got, err := s.ListAuditFiltered(ctx, c.f)
		mustOK(t, "ListAuditFiltered "+c.name, err)
		checkEqual(t, "ListAuditFiltered "+c.name, c.want, idx(got))
	}
	// Paging a filter two at a time visits each match once, in order.
	var paged []storage.AuditEvent
	f := storage.AuditFilter{Action: "login.*", Limit: 2}
	for range 10 {
		page, err := s.ListAuditFiltered(ctx, f)
		mustOK(t, "ListAuditFiltered page", err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		f.Before = page[len(page)-1].ID
	}
	checkEqual(t, "paged login.* events", []int{4, 3, 1, 0}, idx(paged))
	if got, _ := s.ListAuditFiltered(ctx, storage.AuditFilter{}); len(got) != 0 {
		t.Errorf("ListAuditFiltered without a limit returned %d events", len(got))
	}
}

// testAuditPruneRecorded: retention records in the chain what it deleted,
// and Verify accepts the removed events before and between the kept ones.
func testAuditPruneRecorded(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	for _, m := range []int{-60, -50, 5, -1, 10, 20} {
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Time: instant(m), Action: "login.success", Subject: fmt.Sprint(m)}))
	}
	before, err := s.AuditAscending(ctx, 0, 10)
	mustOK(t, "AuditAscending", err)
	n, err := s.PruneAudit(ctx, instant(0))
	mustOK(t, "PruneAudit", err)
	if n != 3 {
		t.Fatalf("PruneAudit deleted %d, want 3", n)
	}
	recs, err := s.ListAuditFiltered(ctx, storage.AuditFilter{Action: storage.AuditPruneAction, Limit: 10})
	mustOK(t, "ListAuditFiltered audit.prune", err)
	if len(recs) != 1 {
		t.Fatalf("retention wrote %d records, want 1", len(recs))
	}
	id := func(i int) int64 { return before[i].ID }
	checkEqual(t, "retention record", map[string]string{
		"count":   "3",
		"cutoff":  instant(0).UTC().Format(time.RFC3339Nano),
		"deleted": fmt.Sprintf("%d-%d,%d-%d", id(0), id(1), id(3), id(3)),
	}, recs[0].Detail)
	r := verifyAudit(t, s)
	if r.Broken != nil || r.Events != 4 || r.FirstID != id(2) || !bytes.Equal(r.Anchor, before[1].Hash) {
		t.Errorf("Verify after pruning: %+v", r)
	}
	if n, _ := s.PruneAudit(ctx, instant(0)); n != 0 {
		t.Errorf("a second PruneAudit deleted %d", n)
	}
	if recs, _ := s.ListAuditFiltered(ctx, storage.AuditFilter{Action: storage.AuditPruneAction, Limit: 10}); len(recs) != 1 {
		t.Errorf("a PruneAudit that deleted nothing recorded it: %d records", len(recs))
	}
}
