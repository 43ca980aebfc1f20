package memory_test

import (
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/memory"
)

func TestStatsCountLiveEntriesAndValueBytes(t *testing.T) {
	clock := conformance.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	s := memory.New(clock.Now)
	ctx := t.Context()
	if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r1", ClientID: "app", State: "0123456789"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOnce(ctx, "k", make([]byte, 100), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDraft(ctx, "d", make([]byte, 1000), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.AuthRequests != 1 || st.OneTime != 1 || st.Drafts != 1 || st.Counters != 1 {
		t.Fatalf("Stats = %+v, want one request, one-time value, draft and counter", st)
	}
	if want := int64(len("r1") + len("app") + 10 + 100 + 1000); st.ValueBytes != want {
		t.Errorf("ValueBytes = %d, want %d", st.ValueBytes, want)
	}
	clock.Advance(time.Minute)
	if st := s.Stats(); st.AuthRequests != 0 || st.Counters != 0 || st.Drafts != 1 || st.ValueBytes != 1100 {
		t.Errorf("after a minute Stats = %+v, want only the draft and the one-time value", st)
	}
}
