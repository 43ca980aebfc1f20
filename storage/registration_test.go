package storage_test

import (
	"testing"

	"satupintu/storage"
)

// The transition table is DESIGN.md's: submitted → in review → approved |
// rejected | revision requested → resubmitted → in review. Every other
// change, including from the final states and to or from an unknown
// status, is refused.
func TestRegistrationTransitions(t *testing.T) {
	all := []storage.RegistrationStatus{storage.StatusSubmitted, storage.StatusInReview, storage.StatusRevisionRequested,
		storage.StatusResubmitted, storage.StatusApproved, storage.StatusRejected, "", "archived"}
	legal := map[[2]storage.RegistrationStatus]bool{
		{storage.StatusSubmitted, storage.StatusInReview}:            true,
		{storage.StatusResubmitted, storage.StatusInReview}:          true,
		{storage.StatusInReview, storage.StatusApproved}:             true,
		{storage.StatusInReview, storage.StatusRejected}:             true,
		{storage.StatusInReview, storage.StatusRevisionRequested}:    true,
		{storage.StatusRevisionRequested, storage.StatusResubmitted}: true,
	}
	refused := 0
	for _, from := range all {
		for _, to := range all {
			want := legal[[2]storage.RegistrationStatus{from, to}]
			if got := from.CanBecome(to); got != want {
				t.Errorf("%q → %q: CanBecome %v, want %v", from, to, got, want)
			}
			if !want {
				refused++
			}
		}
		for _, next := range from.Next() {
			if !legal[[2]storage.RegistrationStatus{from, next}] {
				t.Errorf("%q lists %q as next, which is not a legal transition", from, next)
			}
		}
	}
	if refused != len(all)*len(all)-len(legal) {
		t.Fatalf("checked %d refusals", refused)
	}
	for _, final := range []storage.RegistrationStatus{storage.StatusApproved, storage.StatusRejected} {
		if len(final.Next()) != 0 || final.Open() {
			t.Errorf("%s is not final", final)
		}
	}
}
