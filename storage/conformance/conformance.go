// Package conformance is the one test suite every storage backend runs, so
// that callers can swap SQLite for Postgres or the in-process store for
// Redis without finding out in production that "not found" or "already
// used" means something else there. A backend's test calls RunDurable or
// RunEphemeral with a function that opens a fresh, isolated store.
//
// Beyond what the interface comments in package storage say, the suite
// pins down these behaviours:
//
//   - getters, updaters, DeleteClient, AddSessionClient, SaveAuthCode (for
//     an unknown request) and TakeOnce return an error matching
//     storage.ErrNotFound for a missing record, never a zero value and nil;
//   - creating a record whose id (or username, email, client id, NIB, one-time
//     key) is taken returns storage.ErrAlreadyExists, and usernames and
//     emails are unique case-insensitively and come back lower case; users
//     without an email do not collide;
//   - the ephemeral deletes (DeleteAuthRequest, DeleteSession,
//     DeleteAccessToken and the bulk deletes) succeed when there is nothing
//     to delete, because revocation and logout must be idempotent;
//   - times come back as the same instant, to the microsecond, in UTC;
//   - empty and nil slices and maps are interchangeable; for the second
//     factor the suite is strict: an empty User.TOTPSecret or RecoveryCodes
//     (and Client.AllowedTraderTypes) comes back nil, because empty and
//     absent mean the same ("none left", "not enrolled" is MFAEnrolledAt),
//     and a non-empty secret comes back byte for byte;
//   - LinkApp replaces the username and time of an existing link, and is
//     ErrNotFound if the user or the client does not exist; AppLinksOf
//     orders by ClientID; UnlinkApp of nothing succeeds; deleting a client
//     deletes its links, so a client recreated under the same id starts
//     with none;
//   - an expired entry is gone from the moment its expiry is reached (now >=
//     expiry), whether or not the backend has swept it yet;
//   - CreateRegistration makes doc the current document (setting
//     r.DocumentID and doc.RegistrationID) and an empty status "submitted";
//     UpdateRegistration fills in the event's RegistrationID, its Status
//     (the new status) and Time (the new UpdatedAt) when empty;
//     ApproveRegistration fills in user.OrganizationID, token.UserID and the
//     event, and sets UpdatedAt to the event's time;
//   - a document larger than storage.MaxDocumentSize is a plain error and
//     stores nothing; every failed create, update or approval stores none of
//     its parts;
//   - registration emails come back lower case and OpenRegistrationFor
//     matches them case-insensitively; an empty NIB or email matches
//     nothing; of several open registrations it returns the newest;
//   - SearchUsers orders by lower-cased name, then ID; a name matches by
//     prefix, usernames and emails whole, all case-insensitively; NIB and
//     NPWP (dots and dashes ignored) select the members of the matching
//     organizations, each once; pages continue by Next and hold at most
//     storage.MaxUserSearchLimit users;
//   - ListRegistrations orders by SubmittedAt, then ID, both descending, and
//     returns everything when Limit <= 0; RegistrationEvents of an unknown
//     registration is ErrNotFound (every registration has its first event);
//   - ConsumeActionToken attempts that fail (wrong purpose, expired) do not
//     use the token up; a zero now is an error;
//   - the changes that take storage.TxHook run each hook once, inside
//     their transaction, with a non-nil driver transaction; a hook's error
//     undoes the change and comes back (errors.Is);
//   - a signing key has at most one successor: of racing CreateSigningKey
//     calls naming the same predecessor one wins and the others get
//     ErrConflict, and the winner's retire time is the one stored;
//   - a counter's window is fixed by its first Incr, not extended by later
//     ones; a draft lives ttl from its last save and reading it does not
//     consume it; non-positive windows and TTLs are errors.
package conformance

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"satupintu/storage"
)

// Clock is the time source RunEphemeral hands to the backend under test, so
// TTL expiry is tested by moving time instead of sleeping.
//
// A backend whose expiry happens elsewhere (Redis expires keys on the
// server) cannot follow it: its open function calls UseRealTime, and the
// suite then uses TTLs of seconds, sleeps in Advance, and judges each read
// by when it ran (expiry), polling for expiry with a long bounded wait.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	real bool
}

// NewClock returns a clock that stands at start until advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time; pass c.Now as the backend's time source.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.now
}

// Advance moves the clock forward by d, or sleeps for d on a real clock.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	real := c.real
	if !real {
		c.now = c.now.Add(d)
	}
	c.mu.Unlock()
	if real {
		time.Sleep(d)
	}
}

// UseRealTime declares that the backend keeps its own time and cannot be
// driven by this clock. Call it from the open function.
func (c *Clock) UseRealTime() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real = true
}

// Real reports whether UseRealTime was called.
func (c *Clock) Real() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.real
}

// shortTTL is the lifetime the suite gives entries it wants to see expire:
// long on a driven clock (so unit mistakes, seconds for milliseconds, show),
// seconds on a real one: long enough that a loaded machine still reads an
// entry before it expires, short enough that the suite stays fast (the
// tests that wait run in parallel).
func (c *Clock) shortTTL() time.Duration {
	if c.Real() {
		return 2 * time.Second
	}
	return 10 * time.Minute
}

// expiryWait bounds how long the suite polls a real-time backend for an
// entry to disappear after its TTL: far longer than it takes, so that only
// an entry that never expires fails, however loaded the machine.
const expiryWait = time.Minute

// expiryPrecision is how late after its latest expiry a real-time backend
// may still show an entry: Redis keeps expiries in whole milliseconds, and
// it and the test read the same machine's clock. Load only delays the
// test's reads, which makes a late entry surer, never a false alarm.
const expiryPrecision = 50 * time.Millisecond

// expiry is when an entry must expire. On a real clock a create takes time:
// a lifetime ttl given by a create that began at from and returned at to
// ends between from+ttl (earliest) and to+ttl (latest). An absolute
// expiry time, and every expiry on a driven clock, has the two equal.
type expiry struct{ earliest, latest time.Time }

// expiresIn is the expiry of entries stored for ttl by a create that began
// at from and has just returned.
func (c *Clock) expiresIn(from time.Time, ttl time.Duration) expiry {
	return expiry{from.Add(ttl), c.Now().Add(ttl)}
}

// expiresAt is the expiry of entries stored until at.
func expiresAt(at time.Time) expiry { return expiry{at, at} }

// before reports whether the clock, read after an operation returned, is
// still before t: then the operation certainly ran before t. On a real
// clock a loaded machine may only get there later, and then a read proves
// nothing about an entry expiring at t.
func (c *Clock) before(t time.Time) bool { return c.Now().Before(t) }

// advanceTo moves a driven clock forward to t (never back).
func (c *Clock) advanceTo(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// checkExpiry asserts that get succeeds until exp and reports
// storage.ErrNotFound from then on. On a real clock it polls: an entry
// found once the latest expiry has passed, or gone before the earliest, is
// an error; it gives up after expiryWait.
func checkExpiry(t *testing.T, c *Clock, exp expiry, what string, get func() error) {
	t.Helper()
	if !c.Real() {
		c.advanceTo(exp.earliest.Add(-time.Millisecond))
		if err := get(); err != nil {
			t.Fatalf("%s 1ms before expiry: %v", what, err)
		}
		c.advanceTo(exp.latest)
		if err := get(); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s at expiry: got %v, want ErrNotFound", what, err)
		}
		return
	}
	deadline := time.Now().Add(expiryWait)
	for {
		start := time.Now()
		err := get()
		switch {
		case err == nil:
			if late := start.Sub(exp.latest); late > expiryPrecision {
				t.Fatalf("%s still there %v after its expiry", what, late)
			}
		case errors.Is(err, storage.ErrNotFound):
			if early := exp.earliest.Sub(time.Now()); early > 0 {
				t.Fatalf("%s gone %v before its expiry", what, early)
			}
			return
		default:
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there %v after its expiry", what, time.Since(exp.latest))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// justBeforeExpiry moves a driven clock to 1ms before exp; on a real clock
// it does nothing (the entries were created a moment ago, and reads that
// follow assert only what c.before proves).
func justBeforeExpiry(c *Clock, exp expiry) {
	if !c.Real() {
		c.advanceTo(exp.earliest.Add(-time.Millisecond))
	}
}

// pastExpiry moves the clock to exp's latest expiry. Reads of codes and
// one-time values destroy them, so unlike checkExpiry it cannot poll; on a
// real clock it waits until the latest expiry (and the backend's
// precision) has passed, however long the machine took to get here.
func pastExpiry(c *Clock, exp expiry) {
	if !c.Real() {
		c.advanceTo(exp.latest)
		return
	}
	if d := time.Until(exp.latest.Add(expiryPrecision)); d > 0 {
		time.Sleep(d)
	}
}

// jakarta is Asia/Jakarta (UTC+7, the zone most users are in); a fixed zone
// with the same offset stands in if the system has no time zone database.
func jakarta() *time.Location {
	if loc, err := time.LoadLocation("Asia/Jakarta"); err == nil {
		return loc
	}
	return time.FixedZone("WIB", 7*60*60)
}

// instant returns a time in Jakarta with microsecond precision, the
// precision every backend must keep.
func instant(minutes int) time.Time {
	return time.Date(2026, 3, 14, 9, 30, 15, 123456000, jakarta()).Add(time.Duration(minutes) * time.Minute)
}

// checkEqual compares records as callers see them: times by instant (cmp
// uses time.Time.Equal), nil and empty collections alike.
func checkEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// checkUTC reports every time.Time field of v (a struct or a slice of
// structs) that is not in UTC.
func checkUTC(t *testing.T, what string, v any) {
	t.Helper()
	var walk func(path string, rv reflect.Value)
	walk = func(path string, rv reflect.Value) {
		switch rv.Kind() {
		case reflect.Slice:
			for i := range rv.Len() {
				walk(path, rv.Index(i))
			}
		case reflect.Struct:
			if tm, ok := rv.Interface().(time.Time); ok {
				if tm.Location() != time.UTC {
					t.Errorf("%s%s is in %v, want UTC", what, path, tm.Location())
				}
				return
			}
			for i := range rv.NumField() {
				if rv.Type().Field(i).IsExported() {
					walk(path+"."+rv.Type().Field(i).Name, rv.Field(i))
				}
			}
		}
	}
	walk("", reflect.ValueOf(v))
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

func isConflict(err error) bool { return errors.Is(err, storage.ErrConflict) }

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// runConcurrently runs fn(i) for i in [0, n) at once and returns the errors.
func runConcurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// errFn is what the suite's updater functions return to abort an update.
var errFn = errors.New("conformance: updater refused")
