package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// log is a chained log in memory, as a store keeps it.
// Ids go up by ten: room for a forged row in between.
type log struct {
	events []storage.AuditEvent
	headID int64
	head   []byte
	nextID int64
}

func (l *log) append(e storage.AuditEvent) {
	l.nextID += 10
	e.ID = l.nextID
	if e.Outcome == "" {
		e.Outcome = storage.AuditOutcome(e.Action)
	}
	e.PrevHash = l.head
	e.Hash = storage.AuditHash(l.head, e)
	l.events = append(l.events, e)
	l.headID, l.head = e.ID, e.Hash
}

func (l *log) AuditAscending(_ context.Context, after int64, limit int) ([]storage.AuditEvent, error) {
	var out []storage.AuditEvent
	for _, e := range l.events {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *log) AuditHead(context.Context) (int64, []byte, error) { return l.headID, l.head, nil }

func (l *log) ListAuditFiltered(_ context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	var out []storage.AuditEvent
	for _, e := range slices.Backward(l.events) {
		if (f.Before == 0 || e.ID < f.Before) && (f.Action == "" || e.Action == f.Action) && len(out) < f.Limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func newLog(n int) *log {
	l := &log{}
	for i := range n {
		l.append(storage.AuditEvent{Time: time.Date(2026, 12, 1, 0, i, 0, 0, time.UTC), Action: "login.success",
			ActorID: fmt.Sprint("u", i), Detail: map[string]string{"i": fmt.Sprint(i)}})
	}
	return l
}

func verify(t *testing.T, l *log) Report {
	t.Helper()
	r, err := Verify(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerify(t *testing.T) {
	if r := verify(t, newLog(0)); r.Broken != nil || r.Events != 0 {
		t.Errorf("empty log: %+v", r)
	}
	// More than a page, so the walk crosses pages.
	if r := verify(t, newLog(pageSize+5)); r.Broken != nil || r.Events != pageSize+5 || r.FirstID != 10 || r.LastID != 10*(pageSize+5) {
		t.Errorf("whole log: %+v", r)
	}
	for _, c := range []struct {
		name   string
		tamper func(l *log)
		want   int64
		reason string
	}{
		{"edited field", func(l *log) { l.events[3].Subject = "x" }, 40, "edited"},
		{"edited detail", func(l *log) { l.events[3].Detail = map[string]string{"i": "9"} }, 40, "edited"},
		{"edited outcome", func(l *log) { l.events[2].Outcome = storage.OutcomeFailure }, 30, "edited"},
		{"edited and rehashed", func(l *log) {
			l.events[3].ActorID = "x"
			l.events[3].Hash = storage.AuditHash(l.events[3].PrevHash, l.events[3])
		}, 50, "does not follow event 40"},
		{"deleted", func(l *log) { l.events = slices.Delete(l.events, 3, 4) }, 50, "removed or inserted"},
		{"deleted first", func(l *log) { l.events = l.events[1:] }, 20, "no retention record"},
		{"inserted", func(l *log) {
			e := storage.AuditEvent{ID: 35, Action: "login.success", ActorID: "mallory", Outcome: "success", PrevHash: l.events[2].Hash}
			e.Hash = storage.AuditHash(e.PrevHash, e)
			l.events = slices.Insert(l.events, 3, e)
		}, 40, "does not follow event 35"},
		{"tail cut", func(l *log) { l.events = l.events[:8] }, 100, "removed from its end"},
		{"renumbered", func(l *log) { l.events[5].ID = 55 }, 55, "edited"},
		{"appended without the store", func(l *log) {
			e := storage.AuditEvent{ID: 110, Action: "login.success", Outcome: "success", PrevHash: l.head}
			e.Hash = storage.AuditHash(e.PrevHash, e)
			l.events = append(l.events, e)
		}, 110, "did not chain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLog(10)
			c.tamper(l)
			r := verify(t, l)
			if r.Broken == nil || r.Broken.ID != c.want || !strings.Contains(r.Broken.Reason, c.reason) {
				t.Errorf("Verify: %+v, want broken at %d (%s)", r.Broken, c.want, c.reason)
			}
		})
	}
}

// TestVerifyAcceptsRetention: events retention removed, before and between
// the kept ones, are not a break when its record names them; others are.
func TestVerifyAcceptsRetention(t *testing.T) {
	l := newLog(10)
	anchor := l.events[2].Hash
	l.events = slices.Delete(l.events, 5, 6) // id 60
	l.events = l.events[3:]                  // ids 10-30
	l.append(storage.AuditEvent{Action: storage.AuditPruneAction, Detail: map[string]string{"count": "4", "deleted": "10-30,60-60"}})
	r := verify(t, l)
	if r.Broken != nil || r.Events != 7 || r.FirstID != 40 || !bytes.Equal(r.Anchor, anchor) {
		t.Errorf("after retention: %+v", r)
	}
	l.events = slices.Delete(l.events, 3, 4) // id 80: not pruned
	if r := verify(t, l); r.Broken == nil || r.Broken.ID != 90 {
		t.Errorf("a removal retention did not record: %+v", r.Broken)
	}
}

func TestWriteCSV(t *testing.T) {
	es := []storage.AuditEvent{
		{ID: 2, Time: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), Action: "login.failure", Outcome: "failure",
			Subject: "=HYPERLINK(\"http://evil\")", ActorID: "+1", ClientID: "-2", IP: "@sum", Detail: map[string]string{"reason": "bad"},
			Hash: []byte{0xab}},
		{ID: 1, Action: "x", Subject: "\tcmd", ActorID: "\rcr", ClientID: "ok=fine"},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, es); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("rows %q", rows)
	}
	want := []string{"2", "2026-12-01T08:00:00Z", "login.failure", "failure", "'+1", `'=HYPERLINK("http://evil")`, "'-2", "'@sum", `{"reason":"bad"}`, "", "ab"}
	if strings.Join(rows[1], "|") != strings.Join(want, "|") {
		t.Errorf("row 1 = %q\nwant    %q", rows[1], want)
	}
	if rows[2][5] != "'\tcmd" || rows[2][4] != "'\rcr" || rows[2][6] != "ok=fine" {
		t.Errorf("row 2 = %q", rows[2])
	}
	b.Reset()
	if err := WriteCSV(&b, nil); err != nil || b.String() != strings.Join(csvHeader, ",")+"\n" {
		t.Errorf("no events: %q, %v", b.String(), err)
	}
}

func TestWriteJSONLines(t *testing.T) {
	l := newLog(3)
	var b bytes.Buffer
	if err := WriteJSONLines(&b, l.events); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var e jsonEvent
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != 20 || e.Action != "login.success" || e.Outcome != "success" || e.ActorID != "u1" || e.Detail["i"] != "1" ||
		e.Time != "2026-12-01T00:01:00Z" || len(e.Hash) != 64 || len(e.PrevHash) != 64 {
		t.Errorf("line 2 = %+v", e)
	}
}

func TestExportPages(t *testing.T) {
	l := newLog(7)
	var b bytes.Buffer
	n, err := Export(t.Context(), l, storage.AuditFilter{Limit: 3}, NewJSONLinesWriter(&b))
	if err != nil || n != 7 || strings.Count(b.String(), "\n") != 7 || !strings.HasPrefix(b.String(), `{"id":70,`) {
		t.Errorf("Export: %d, %v\n%s", n, err, b.String())
	}
}

func TestAuditHashIsUnambiguous(t *testing.T) {
	base := storage.AuditEvent{ID: 1, Action: "a.b", ActorID: "c", Detail: map[string]string{"k": "v"}}
	h := storage.AuditHash(nil, base)
	for name, e := range map[string]storage.AuditEvent{
		"field boundary moved": {ID: 1, Action: "a.bc", Detail: map[string]string{"k": "v"}},
		"detail boundary":      {ID: 1, Action: "a.b", ActorID: "c", Detail: map[string]string{"kv": ""}},
		"id":                   {ID: 2, Action: "a.b", ActorID: "c", Detail: map[string]string{"k": "v"}},
	} {
		if bytes.Equal(h, storage.AuditHash(nil, e)) {
			t.Errorf("%s: same hash", name)
		}
	}
	if bytes.Equal(h, storage.AuditHash([]byte{1}, base)) {
		t.Error("prev not hashed")
	}
	if !bytes.Equal(h, storage.AuditHash([]byte{}, base)) {
		t.Error("nil and empty prev differ")
	}
}

func TestAuditOutcome(t *testing.T) {
	for action, want := range map[string]string{
		"login.success": "success", "login.failure": "failure", "login.failures": "failure", "login.locked": "failure",
		"client.assertion_replay": "failure", "code.replay": "failure", "dpop.key_mismatch": "failure",
		"password.change_failure": "failure", "registration.submit_refused": "failure", "registration.refusals": "failure",
		"device.code_failure": "failure", "user.unlock": "success", "client.create": "success", "logout": "success",
		"registration.reject": "success", "audit.prune": "success",
	} {
		if got := storage.AuditOutcome(action); got != want {
			t.Errorf("AuditOutcome(%q) = %q, want %q", action, got, want)
		}
	}
}
