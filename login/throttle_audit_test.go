package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/storagetest"
)

// newFailureAudit is a failureAudit on the embedded stores, on a clock the
// test moves, standing at the start of a window.
func newFailureAudit(t *testing.T) (*failureAudit, *conformance.Clock, func() []storage.AuditEvent) {
	t.Helper()
	clk := conformance.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	eph, dur := storagetest.Embedded(t, clk.Now)
	list := func() []storage.AuditEvent {
		t.Helper()
		events, err := dur.ListAudit(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	return &failureAudit{Counters: eph, Marks: eph, Audit: dur}, clk, list
}

func failureEvent(clk *conformance.Clock, ip, reason, login string) storage.AuditEvent {
	return storage.AuditEvent{Time: clk.Now(), Action: "login.failure", Subject: login, IP: ip, Detail: map[string]string{"reason": reason}}
}

// summary is an event list as "action reason count ip" lines, oldest first.
func summary(events []storage.AuditEvent) []string {
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		line := e.Action + " " + e.Detail["reason"] + " " + e.IP
		if c, ok := e.Detail["count"]; ok {
			line += " count=" + c + " " + e.Detail["from"] + "–" + e.Detail["to"]
		}
		out = append(out, line)
	}
	return out
}

func TestAuditAggregatesFailureFloods(t *testing.T) {
	a, clk, list := newFailureAudit(t)
	ctx := t.Context()
	record := func(ip, reason string, n int) {
		t.Helper()
		for i := range n {
			if err := a.record(ctx, failureEvent(clk, ip, reason, fmt.Sprint("user", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 09:00: a flood of 1,000 from one address, a few from others. Two
	// addresses of one IPv6 /64 are one client.
	record("203.0.113.9", "bad_credentials", 1000)
	record("203.0.113.9", "throttled", 2)
	record("2001:db8:1:2::1", "bad_credentials", 4)
	clk.Advance(30 * time.Second)
	record("2001:db8:1:2::ffff", "bad_credentials", 4)
	if n := len(list()); n != 5+2+5 {
		t.Fatalf("%d rows for 1,010 failures in a minute, want 12", n)
	}
	// 09:03: the flood's address fails again: its first failure is
	// written with the count of the 995 not written at 09:00.
	clk.Advance(150 * time.Second)
	record("203.0.113.9", "bad_credentials", 1)
	// 09:04, 09:05: the /64 fails again; its surplus (3 of 8) is written
	// once.
	clk.Advance(time.Minute)
	record("2001:db8:1:2::7", "bad_credentials", 1)
	clk.Advance(time.Minute)
	record("2001:db8:1:2::7", "bad_credentials", 1)

	got := summary(list())
	want := []string{}
	for range 5 {
		want = append(want, "login.failure bad_credentials 203.0.113.9")
	}
	want = append(want, "login.failure throttled 203.0.113.9", "login.failure throttled 203.0.113.9")
	for range 4 {
		want = append(want, "login.failure bad_credentials 2001:db8:1:2::1")
	}
	want = append(want, "login.failure bad_credentials 2001:db8:1:2::ffff",
		"login.failures bad_credentials 203.0.113.9 count=995 2025-03-01T09:00:00Z–2025-03-01T09:01:00Z",
		"login.failure bad_credentials 203.0.113.9",
		"login.failures bad_credentials 2001:db8:1:2::/64 count=3 2025-03-01T09:00:00Z–2025-03-01T09:01:00Z",
		"login.failure bad_credentials 2001:db8:1:2::7",
		"login.failure bad_credentials 2001:db8:1:2::7",
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit rows (-want +got):\n%s", diff)
	}
	// Written rows keep what the event carried.
	if e := list()[len(list())-1]; e.Subject != "user0" || e.Time.IsZero() {
		t.Errorf("first row: %+v", e)
	}
}

// A window's surplus waits for the next written failure of its address and
// reason for up to a day, across quiet windows; after that it is gone, and
// no later window reports it.
func TestAuditFailureSurplusWaitsForTheNextWindowThatWrites(t *testing.T) {
	a, clk, list := newFailureAudit(t)
	ctx := t.Context()
	for range 8 {
		if err := a.record(ctx, failureEvent(clk, "192.0.2.1", "locked", "budi")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(5 * time.Hour)
	if err := a.record(ctx, failureEvent(clk, "192.0.2.1", "locked", "budi")); err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, e := range list() {
		if e.Action == "login.failures" {
			counts = append(counts, e.Detail["count"])
		}
	}
	if diff := cmp.Diff([]string{"3"}, counts); diff != "" {
		t.Errorf("surplus rows (-want +got):\n%s", diff)
	}
	// Nothing left to report at the next window.
	clk.Advance(time.Minute)
	if err := a.record(ctx, failureEvent(clk, "192.0.2.1", "locked", "budi")); err != nil {
		t.Fatal(err)
	}
	if n := len(list()); n != 5+1+1+1 {
		t.Errorf("%d rows, want 8", n)
	}
}

// brokenCounters is an ephemeral store that cannot count (Redis down).
type brokenCounters struct{}

var errBroken = errors.New("counters down")

func (brokenCounters) Incr(context.Context, string, time.Duration) (int64, error) {
	return 0, errBroken
}
func (brokenCounters) IncrChain(context.Context, []storage.CountStep) ([]int64, error) {
	return nil, errBroken
}
func (brokenCounters) Count(context.Context, string) (int64, error) { return 0, errBroken }
func (brokenCounters) ResetCounter(context.Context, string) error   { return errBroken }

func TestAuditFailureIsWrittenWhenCountingFails(t *testing.T) {
	a, clk, list := newFailureAudit(t)
	a.Counters = brokenCounters{}
	err := a.record(t.Context(), failureEvent(clk, "192.0.2.1", "bad_credentials", "budi"))
	if !errors.Is(err, errBroken) {
		t.Errorf("error %v, want the counters' error reported", err)
	}
	if got := summary(list()); len(got) != 1 {
		t.Errorf("rows %v, want the event written anyway", got)
	}
}

// Through the sign-in form: a scripted flood of wrong passwords and
// refused attempts from one address (here: 5 wrong passwords, then 145
// attempts without the challenge the address then needs) writes at most
// AuditFailuresPerWindow rows a minute per reason, and the next minute's
// first failure of a reason writes the rest as a count: every attempt is
// accounted for.
func TestSignInFloodKeepsTheAuditLogBounded(t *testing.T) {
	e := newEnv(t, false)
	const attempts = 150
	start := e.clock.Now() // the start of a window
	f := e.open(e.client, "")
	for i := range attempts {
		f.post(url.Values{"username": {"user" + strconv.Itoa(i)}, "password": {"salah"}})
	}
	rows := e.audits()
	reasons := map[string]int{}
	for _, ev := range rows {
		reasons[ev.Detail["reason"]]++
	}
	if diff := cmp.Diff(map[string]int{"bad_credentials": 5, "captcha_missing": 5}, reasons); diff != "" {
		t.Errorf("rows per reason in the flood's minute (-want +got):\n%s", diff)
	}

	e.clock.Advance(AuditFailureWindow)
	f.post(url.Values{"username": {"user0"}, "password": {"salah"}})
	if total := e.auditedFailures(start); total != attempts {
		t.Errorf("the flood's rows account for %d attempts, want %d", total, attempts)
	}
}

// auditedFailures is how many failures the audit rows of the window from
// start account for: login.failure rows written in it, and the counts of
// login.failures rows.
func (e *env) auditedFailures(start time.Time) int {
	e.t.Helper()
	total := 0
	for _, ev := range e.audits() {
		switch {
		case ev.Action == "login.failures":
			n, err := strconv.Atoi(ev.Detail["count"])
			if err != nil {
				e.t.Fatal(err)
			}
			total += n
		case ev.Action == "login.failure" && ev.Time.Before(start.Add(AuditFailureWindow)):
			total++
		}
	}
	return total
}

// A passkey answer without a challenge costs the sender nothing (no
// allowance is taken): a flood of them writes at most
// AuditFailuresPerWindow rows a minute, and the rest as a count.
func TestPasskeyFloodKeepsTheAuditLogBounded(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	const attempts = 150
	start := e.clock.Now() // the start of a window
	token := csrfToken(t, e.get(e.client, "/login").Body)
	post := func() {
		t.Helper()
		res := e.post(e.client, "/login/passkey", url.Values{"csrf_token": {token}, "credential": {"{}"}})
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, e.tr("passkey.expired")) {
			t.Fatalf("answer without a challenge: %d, want the sign-in page saying it expired", res.StatusCode)
		}
	}
	for range attempts {
		post()
	}
	if got := e.countAudit("login.failure", "passkey_no_challenge"); got != AuditFailuresPerWindow {
		t.Errorf("%d rows in the flood's minute, want %d", got, AuditFailuresPerWindow)
	}
	e.clock.Advance(AuditFailureWindow)
	post()
	if total := e.auditedFailures(start); total != attempts {
		t.Errorf("the flood's rows account for %d attempts, want %d", total, attempts)
	}
}
