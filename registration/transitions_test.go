package registration

import (
	"net/http"
	"net/url"
	"testing"

	"satupintu/storage"
)

// Every officer decision from a status the transition table
// (storage.RegistrationStatus.Next) does not allow is refused with the
// conflict page, and the registration stays as it was.
func TestIllegalDecisionsAreRefused(t *testing.T) {
	e := newReviewEnv(t, false)
	officer, oc := e.officer("andi.pratama")
	actions := map[string]storage.RegistrationStatus{
		"review": storage.StatusInReview, "approve": storage.StatusApproved,
		"reject": storage.StatusRejected, "revision": storage.StatusRevisionRequested,
	}
	statuses := []storage.RegistrationStatus{storage.StatusSubmitted, storage.StatusInReview, storage.StatusRevisionRequested,
		storage.StatusResubmitted, storage.StatusApproved, storage.StatusRejected}
	refused := 0
	for _, from := range statuses {
		for action, to := range actions {
			if from.CanBecome(to) {
				continue
			}
			g := e.seed(nil)
			if from != storage.StatusSubmitted {
				e.setStatus(g.ID, from, officer.ID, "")
			}
			res := e.decide(oc, g.ID, action, url.Values{"note": {"catatan"}})
			if res.StatusCode != http.StatusConflict {
				t.Errorf("%s from %s: %d, want 409", action, from, res.StatusCode)
			}
			if got := e.registration(g.ID).Status; got != from {
				t.Errorf("%s from %s: status became %s", action, from, got)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no illegal decision tried")
	}
}
