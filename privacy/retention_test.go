package privacy

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/storagetest"
)

// TestRetentionDeletesWhenThePeriodPasses: nothing goes before its period
// (on the injected clock); once it has passed, a rejected registration goes
// whole and an approved one loses its letter, each deletion on the audit
// log.
func TestRetentionDeletesWhenThePeriodPasses(t *testing.T) {
	ctx := t.Context()
	clk := conformance.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	_, dur := storagetest.Embedded(t, clk.Now)
	mk := func(number string, status storage.RegistrationStatus) storage.Registration {
		g := storage.Registration{ID: storage.NewID(), ServiceNumber: number, Status: storage.StatusInReview,
			NIB: "91200000000" + number[len(number)-2:], Email: number + "@contoh.co.id", SubmittedAt: clk.Now(), UpdatedAt: clk.Now()}
		doc := storage.Document{ID: storage.NewID(), RegistrationID: g.ID, FileName: "s.pdf", ContentType: "application/pdf", Data: []byte("%PDF"), CreatedAt: clk.Now()}
		g.DocumentID = doc.ID
		if err := dur.CreateRegistration(ctx, g, doc); err != nil {
			t.Fatal(err)
		}
		if err := dur.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			r.Status, r.UpdatedAt = status, clk.Now()
			return storage.RegistrationEvent{Status: status, ActorID: "officer"}, nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	rejected := mk("SP-01", storage.StatusRejected)
	approved := mk("SP-02", storage.StatusApproved)
	r := &Retainer{Store: dur, Retention: Retention{Closed: 30 * 24 * time.Hour, Documents: 365 * 24 * time.Hour},
		Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	clk.Advance(29 * 24 * time.Hour)
	r.RunOnce(ctx)
	if _, err := dur.RegistrationByID(ctx, rejected.ID); err != nil {
		t.Fatalf("deleted before its period: %v", err)
	}
	clk.Advance(2 * 24 * time.Hour)
	r.RunOnce(ctx)
	if _, err := dur.RegistrationByID(ctx, rejected.ID); err == nil {
		t.Fatal("the rejected registration outlived its period")
	}
	if _, err := dur.DocumentByID(ctx, approved.DocumentID); err != nil {
		t.Fatalf("the approved registration's letter went early: %v", err)
	}
	clk.Advance(365 * 24 * time.Hour)
	r.RunOnce(ctx)
	if _, err := dur.DocumentByID(ctx, approved.DocumentID); err == nil {
		t.Fatal("the approved registration's letter outlived its period")
	}
	if g, err := dur.RegistrationByID(ctx, approved.ID); err != nil || g.Status != storage.StatusApproved {
		t.Fatalf("the approved registration itself went: %v", err)
	}
	events, err := dur.ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var whole, letters int
	for _, e := range events {
		if e.Action == "registration.retention_delete" && e.Subject == "SP-01" && e.ActorID == "retention" {
			whole++
		}
		if e.Action == "registration.documents_retention_delete" && e.Detail["documents"] == "1" {
			letters++
		}
	}
	if whole != 1 || letters != 1 {
		t.Fatalf("audit: %d registration deletions, %d letter deletions; want 1 each", whole, letters)
	}
}
