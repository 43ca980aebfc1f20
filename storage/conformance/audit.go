package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

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
	for _, e := range left {
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
