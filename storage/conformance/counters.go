package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"satupintu/storage"
)

func mustCount(t *testing.T, s storage.Ephemeral, key string) int64 {
	t.Helper()
	n, err := s.Count(t.Context(), key)
	mustOK(t, "Count("+key+")", err)
	return n
}

func testCounters(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	if n := mustCount(t, s, "login:budi"); n != 0 {
		t.Errorf("Count of a new key = %d, want 0", n)
	}
	for want := int64(1); want <= 3; want++ {
		n, err := s.Incr(ctx, "login:budi", time.Hour)
		mustOK(t, "Incr", err)
		if n != want {
			t.Errorf("Incr #%d = %d", want, n)
		}
	}
	if n := mustCount(t, s, "login:budi"); n != 3 {
		t.Errorf("Count after 3 Incr = %d, want 3", n)
	}
	// Keys are independent, and of the other kinds of entry too.
	if n, err := s.Incr(ctx, "login:siti", time.Hour); err != nil || n != 1 {
		t.Errorf("Incr of another key = (%d, %v), want 1", n, err)
	}
	mustOK(t, "PutOnce", s.PutOnce(ctx, "login:budi", []byte("x"), time.Hour))
	mustOK(t, "SaveDraft", s.SaveDraft(ctx, "login:budi", []byte("x"), time.Hour))
	if n := mustCount(t, s, "login:budi"); n != 3 {
		t.Errorf("Count after a one-time value and a draft with the same key = %d, want 3", n)
	}

	// A successful sign-in resets the count; resetting nothing succeeds.
	mustOK(t, "ResetCounter", s.ResetCounter(ctx, "login:budi"))
	if n := mustCount(t, s, "login:budi"); n != 0 {
		t.Errorf("Count after reset = %d, want 0", n)
	}
	if n := mustCount(t, s, "login:siti"); n != 1 {
		t.Errorf("reset of one key changed another: Count = %d, want 1", n)
	}
	mustOK(t, "ResetCounter of a missing key", s.ResetCounter(ctx, "missing"))
	if n, err := s.Incr(ctx, "login:budi", time.Hour); err != nil || n != 1 {
		t.Errorf("Incr after reset = (%d, %v), want 1", n, err)
	}

	for _, w := range []time.Duration{0, -time.Second} {
		if _, err := s.Incr(ctx, "bad-window", w); err == nil {
			t.Errorf("Incr with window %v succeeded, want an error", w)
		}
	}
}

// Every attempt counts, however many nodes or goroutines make them: a
// lockout that lost increments could be beaten by guessing in parallel.
func testCountersConcurrent(t *testing.T, s storage.Ephemeral, _ *Clock) {
	const n = 20
	got := make([]int64, n)
	errs := runConcurrently(n, func(i int) error {
		var err error
		got[i], err = s.Incr(t.Context(), "k", time.Hour)
		return err
	})
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("Incr %d", i), err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("concurrent Incr results %v, want each of 1…%d once", got, n)
		}
	}
	if c := mustCount(t, s, "k"); c != n {
		t.Errorf("Count after %d concurrent Incr = %d", n, c)
	}
}

// The window is fixed at the first Incr: later ones do not extend it, so
// a steady trickle of attempts cannot keep a counter alive forever, and
// after it ends counting starts over. Unlike checkExpiry this does not poll
// on a real clock: a window that slid would still be there when the fixed
// one has ended.
func testCounterWindow(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	w := c.shortTTL()
	from := c.Now()
	if _, err := s.Incr(ctx, "k", w); err != nil {
		t.Fatal(err)
	}
	exp := c.expiresIn(from, w)
	c.Advance(w / 2)
	from = c.Now()
	n, err := s.Incr(ctx, "k", w)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case n == 2:
	case c.before(exp.earliest):
		t.Fatalf("second Incr = %d, want 2", n)
	case n == 1:
		// A real clock on a machine too loaded to get here within the
		// window: this Incr began a new one, which the rest checks.
		exp = c.expiresIn(from, w)
	}
	justBeforeExpiry(c, exp)
	if got := mustCount(t, s, "k"); got != n && c.before(exp.earliest) {
		t.Errorf("Count before the window ends = %d, want %d", got, n)
	}
	pastExpiry(c, exp)
	if n := mustCount(t, s, "k"); n != 0 {
		t.Errorf("Count once the window from the first Incr has ended = %d, want 0", n)
	}
	if n, err := s.Incr(ctx, "k", w); err != nil || n != 1 {
		t.Errorf("Incr after the window = (%d, %v), want 1", n, err)
	}
}

func testDrafts(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	if got, err := s.Draft(ctx, "reg:sess-1"); !isNotFound(err) {
		t.Errorf("Draft of a missing key: got (%q, %v), want ErrNotFound", got, err)
	}
	value := []byte(`{"step":2,"nib":"9120001234567"}` + "\x00\xff")
	mustOK(t, "SaveDraft", s.SaveDraft(ctx, "reg:sess-1", value, time.Hour))
	value[0] = 'X' // the store must have kept its own copy
	got, err := s.Draft(ctx, "reg:sess-1")
	mustOK(t, "Draft", err)
	want := []byte(`{"step":2,"nib":"9120001234567"}` + "\x00\xff")
	if !bytes.Equal(got, want) {
		t.Errorf("Draft = %q, want %q", got, want)
	}
	got[0] = 'Y' // nor may the caller's copy be the stored one
	// Reading does not consume, unlike TakeOnce.
	again, err := s.Draft(ctx, "reg:sess-1")
	mustOK(t, "Draft again", err)
	if !bytes.Equal(again, want) {
		t.Errorf("second Draft = %q, want %q", again, want)
	}

	// Saving again replaces the draft.
	mustOK(t, "SaveDraft over a draft", s.SaveDraft(ctx, "reg:sess-1", []byte("step 3"), time.Hour))
	if got, err := s.Draft(ctx, "reg:sess-1"); err != nil || string(got) != "step 3" {
		t.Errorf("Draft after a second save = (%q, %v), want %q", got, err, "step 3")
	}
	mustOK(t, "SaveDraft", s.SaveDraft(ctx, "reg:sess-2", []byte("other"), time.Hour))
	mustOK(t, "DeleteDraft", s.DeleteDraft(ctx, "reg:sess-1"))
	if got, err := s.Draft(ctx, "reg:sess-1"); !isNotFound(err) {
		t.Errorf("Draft after delete: got (%q, %v), want ErrNotFound", got, err)
	}
	if got, err := s.Draft(ctx, "reg:sess-2"); err != nil || string(got) != "other" {
		t.Errorf("deleting one draft changed another: (%q, %v)", got, err)
	}
	mustOK(t, "DeleteDraft of a missing key", s.DeleteDraft(ctx, "reg:sess-1"))

	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.SaveDraft(ctx, "bad-ttl", []byte("v"), ttl); err == nil {
			t.Errorf("SaveDraft with ttl %v succeeded, want an error", ttl)
		}
	}

	// Drafts hold form fields, never files: a value over MaxDraftSize is
	// refused and replaces nothing.
	mustOK(t, "SaveDraft of exactly MaxDraftSize", s.SaveDraft(ctx, "reg:big", make([]byte, storage.MaxDraftSize), time.Hour))
	if err := s.SaveDraft(ctx, "reg:big", make([]byte, storage.MaxDraftSize+1), time.Hour); err == nil || isNotFound(err) {
		t.Errorf("SaveDraft of %d bytes: %v, want an error", storage.MaxDraftSize+1, err)
	}
	if got, err := s.Draft(ctx, "reg:big"); err != nil || len(got) != storage.MaxDraftSize {
		t.Errorf("a refused save changed the draft: %d bytes, %v", len(got), err)
	}
}

func testDraftExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	mustOK(t, "SaveDraft", s.SaveDraft(ctx, "reg", []byte("v1"), ttl))
	// The lifetime runs from the last save: a registrant still typing keeps
	// the draft.
	c.Advance(ttl / 2)
	from := c.Now()
	mustOK(t, "SaveDraft", s.SaveDraft(ctx, "reg", []byte("v2"), ttl))
	checkExpiry(t, c, c.expiresIn(from, ttl), "Draft", func() error {
		v, err := s.Draft(ctx, "reg")
		if err == nil && string(v) != "v2" {
			return fmt.Errorf("draft is %q, want v2", v)
		}
		return err
	})
	mustOK(t, "SaveDraft over an expired draft", s.SaveDraft(ctx, "reg", []byte("v3"), ttl))
}
