package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"satupintu/storage"
)

// errHook is what a failing hook returns; the change must roll back and
// report it.
var errHook = errors.New("conformance: hook refused")

// hookProbe is a storage.TxHook that records its calls and can fail.
type hookProbe struct {
	calls int
	fail  bool
	t     *testing.T
}

func (p *hookProbe) hook(_ context.Context, tx storage.Tx) error {
	p.calls++
	if tx == nil || tx.Driver() == nil {
		p.t.Errorf("a hook got no driver transaction (%v)", tx)
	}
	if p.fail {
		return errHook
	}
	return nil
}

// Every change that takes hooks runs each of them once inside its
// transaction: a hook that fails undoes the change and its error comes
// back, so a mail about a change is queued exactly when the change commits.
func testTxHooks(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	dd := draftDocuments(t, s)
	run := func(what string, change func(h ...storage.TxHook) error, changed func() bool) {
		t.Helper()
		failing := &hookProbe{fail: true, t: t}
		if err := change(failing.hook); !errors.Is(err, errHook) {
			t.Errorf("%s with a failing hook: got %v, want the hook's error", what, err)
		}
		if changed() {
			t.Errorf("%s with a failing hook kept the change", what)
		}
		ok, second := &hookProbe{t: t}, &hookProbe{t: t}
		if err := change(ok.hook, second.hook); err != nil {
			t.Errorf("%s with hooks: %v", what, err)
		}
		if !changed() {
			t.Errorf("%s with passing hooks did not change anything", what)
		}
		if failing.calls != 1 || ok.calls != 1 || second.calls != 1 {
			t.Errorf("%s: hooks ran %d, %d and %d times, want once each", what, failing.calls, ok.calls, second.calls)
		}
	}

	g, doc := newRegistration("SP-H1", "9120001230001", "hook@example.co.id", 0)
	run("CreateRegistration", func(h ...storage.TxHook) error {
		return s.CreateRegistration(ctx, g, doc, h...)
	}, func() bool { _, err := s.RegistrationByID(ctx, g.ID); return err == nil })

	run("UpdateRegistration", func(h ...storage.TxHook) error {
		return s.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			r.Status, r.UpdatedAt = storage.StatusInReview, instant(5)
			return storage.RegistrationEvent{ActorID: "officer-1"}, nil, nil
		}, h...)
	}, func() bool {
		r, err := s.RegistrationByID(ctx, g.ID)
		return err == nil && r.Status == storage.StatusInReview
	})

	org, user, token, ev := approval("H", g.NIB, "hook.user")
	run("ApproveRegistration", func(h ...storage.TxHook) error {
		return s.ApproveRegistration(ctx, g.ID, org, user, token, ev, h...)
	}, func() bool { _, err := s.UserByID(ctx, user.ID); return err == nil })

	reset := storage.ActionToken{ID: "sha256-" + storage.NewID(), UserID: user.ID, Purpose: storage.TokenPasswordReset,
		CreatedAt: instant(40), ExpiresAt: instant(100)}
	used := false
	run("CreateActionToken", func(h ...storage.TxHook) error {
		return s.CreateActionToken(ctx, reset, h...)
	}, func() bool {
		if used {
			return true
		}
		_, err := s.ConsumeActionToken(ctx, reset.ID, storage.TokenPasswordReset, instant(41))
		used = err == nil
		return used
	})

	letter := newDraftDocument("draft-h", 0, time.Hour)
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, letter, instant(0), storage.DraftDocumentCap{}))
	g2, doc2 := newRegistration("SP-H2", "9120001230002", "hook2@example.co.id", 5)
	doc2.Data, doc2.SHA256 = nil, letter.SHA256
	run("CreateRegistrationFromDraft", func(h ...storage.TxHook) error {
		return dd.CreateRegistrationFromDraft(ctx, g2, doc2, "draft-h", instant(5), h...)
	}, func() bool { _, err := s.RegistrationByID(ctx, g2.ID); return err == nil })
}
