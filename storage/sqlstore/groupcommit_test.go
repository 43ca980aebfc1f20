package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"satupintu/storage"
)

var (
	errFakeUnique = errors.New("fake: unique violation")
	errFakeDown   = errors.New("fake: database down")
)

// gatedDB is a DB whose Exec reports each statement's row count on entered
// and then waits for gate to close, so a test can hold a batch in flight
// while others queue. It stores refresh token ids only; a statement with a
// taken id fails whole, as a multi-row INSERT does.
type gatedDB struct {
	DB      // unused methods
	entered chan int
	gate    chan struct{}
	down    bool

	mu  sync.Mutex
	ids map[string]bool
}

func newGatedDB() *gatedDB {
	return &gatedDB{entered: make(chan int, 1000), gate: make(chan struct{}), ids: map[string]bool{}}
}

func (f *gatedDB) Exec(_ context.Context, sql string, args ...any) (int64, error) {
	if !strings.HasPrefix(sql, "INSERT INTO refresh_tokens") || len(args)%refreshParams != 0 {
		return 0, fmt.Errorf("fake: unexpected statement %q with %d args", sql, len(args))
	}
	rows := len(args) / refreshParams
	f.entered <- rows
	<-f.gate
	if f.down {
		return 0, errFakeDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for r := range rows {
		id := args[r*refreshParams].(string)
		if f.ids[id] || slices.Contains(ids, id) {
			return 0, errFakeUnique
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		f.ids[id] = true
	}
	return int64(rows), nil
}

func gatedStore(f *gatedDB) *Store {
	return New(f, Dialect{
		Name:              "fake",
		IsNoRows:          func(error) bool { return false },
		IsUniqueViolation: func(err error) bool { return errors.Is(err, errFakeUnique) },
		IsUnavailable:     func(err error) bool { return errors.Is(err, errFakeDown) },
	})
}

// waitQueued waits until n rows wait behind the batch in flight.
func waitQueued(s *Store, n int) {
	for {
		s.refresh.mu.Lock()
		queued := len(s.refresh.pending)
		s.refresh.mu.Unlock()
		if queued == n {
			return
		}
		runtime.Gosched()
	}
}

// startBatch starts one call that enters Exec and stays there, and the
// calls of ids behind it; it returns the errors of all, in that order,
// once gate is closed and every call has returned.
func startBatch(t *testing.T, f *gatedDB, s *Store, ids []string) func() []error {
	t.Helper()
	errs := make([]error, 1+len(ids))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.CreateRefreshToken(t.Context(), storage.RefreshToken{ID: "first"}) })
	if rows := <-f.entered; rows != 1 {
		t.Fatalf("a lone call wrote %d rows, want 1", rows)
	}
	for i, id := range ids {
		wg.Go(func() { errs[1+i] = s.CreateRefreshToken(t.Context(), storage.RefreshToken{ID: id}) })
	}
	waitQueued(s, len(ids))
	return func() []error {
		close(f.gate)
		wg.Wait()
		return errs
	}
}

// drain returns the row counts of the statements run so far.
func (f *gatedDB) drain() []int {
	var got []int
	for {
		select {
		case n := <-f.entered:
			got = append(got, n)
		default:
			return got
		}
	}
}

func TestRefreshCallsQueuedBehindABatchShareOneStatement(t *testing.T) {
	f := newGatedDB()
	s := gatedStore(f)
	var ids []string
	for i := range 100 {
		ids = append(ids, fmt.Sprintf("rt-%d", i))
	}
	errs := startBatch(t, f, s, ids)()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if got, want := f.drain(), []int{maxRefreshBatch, 100 - maxRefreshBatch}; !slices.Equal(got, want) {
		t.Errorf("statements after the first wrote %v rows, want %v", got, want)
	}
	if len(f.ids) != 101 {
		t.Errorf("%d tokens stored, want 101", len(f.ids))
	}
	if s.refresh.writing || len(s.refresh.pending) != 0 {
		t.Errorf("batcher not idle afterwards: writing %v, %d pending", s.refresh.writing, len(s.refresh.pending))
	}
}

// One taken id fails the multi-row statement; every row is then retried
// alone, so only its caller sees ErrAlreadyExists.
func TestRefreshBatchWithATakenIDFallsBackRowByRow(t *testing.T) {
	f := newGatedDB()
	f.ids["taken"] = true
	s := gatedStore(f)
	errs := startBatch(t, f, s, []string{"a", "taken", "b"})()
	for i, err := range errs {
		if want := i == 2; errors.Is(err, storage.ErrAlreadyExists) != want || (!want && err != nil) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if got, want := f.drain(), []int{3, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("statements after the first wrote %v rows, want %v", got, want)
	}
	if !f.ids["a"] || !f.ids["b"] {
		t.Errorf("rows beside the taken id were not stored: %v", f.ids)
	}
}

// An unavailable database fails every row of the batch at once, without a
// statement per row.
func TestRefreshBatchOnAnUnavailableDatabase(t *testing.T) {
	f := newGatedDB()
	f.down = true
	s := gatedStore(f)
	errs := startBatch(t, f, s, []string{"a", "b"})()
	for i, err := range errs {
		if !errors.Is(err, storage.ErrUnavailable) || !strings.HasPrefix(err.Error(), "fake: create refresh token: ") {
			t.Errorf("call %d: got %v, want a wrapped ErrUnavailable", i, err)
		}
	}
	if got, want := f.drain(), []int{2}; !slices.Equal(got, want) {
		t.Errorf("statements after the first wrote %v rows, want %v", got, want)
	}
}

// A caller that gives up returns at once; the rows queued with and behind
// its own are still written although it was the next batch's writer.
func TestRefreshCallerGivingUpDoesNotStallTheQueue(t *testing.T) {
	f := newGatedDB()
	s := gatedStore(f)
	finish := startBatch(t, f, s, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateRefreshToken(ctx, storage.RefreshToken{ID: "abandoned"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: got %v, want context.Canceled", err)
	}
	var wg sync.WaitGroup
	var errBehind error
	wg.Go(func() { errBehind = s.CreateRefreshToken(t.Context(), storage.RefreshToken{ID: "behind"}) })
	waitQueued(s, 2)
	if errs := finish(); errs[0] != nil {
		t.Fatalf("first call: %v", errs[0])
	}
	wg.Wait()
	if errBehind != nil {
		t.Fatalf("call behind the abandoned one: %v", errBehind)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ids["abandoned"] || !f.ids["behind"] {
		t.Errorf("stored %v, want the abandoned row and the one behind it", f.ids)
	}
}

func TestInsertRefreshRows(t *testing.T) {
	if got := len(refreshArgs(storage.RefreshToken{})); got != refreshParams {
		t.Fatalf("refreshArgs gives %d values, refreshParams is %d", got, refreshParams)
	}
	if got, want := insertRefreshRows(1), insertRefresh; strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(want), " ") {
		t.Errorf("insertRefreshRows(1) = %q, want insertRefresh %q", got, want)
	}
	got := insertRefreshRows(maxRefreshBatch)
	if n := strings.Count(got, "$"); n != maxRefreshBatch*refreshParams {
		t.Errorf("insertRefreshRows(%d) has %d placeholders", maxRefreshBatch, n)
	}
	if !strings.HasSuffix(got, fmt.Sprintf("$%d)", maxRefreshBatch*refreshParams)) {
		t.Errorf("insertRefreshRows(%d) ends %q", maxRefreshBatch, got[len(got)-20:])
	}
}
