package main

import (
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/storagetest"
)

func TestMaintenancePrunesOldAuditEventsAndExpiredLetters(t *testing.T) {
	clock := conformance.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	_, dur := storagetest.Embedded(t, clock.Now)
	ctx := t.Context()
	now := clock.Now()
	for _, e := range []storage.AuditEvent{
		{Time: now.Add(-400 * 24 * time.Hour), Action: "login.failure"},
		{Time: now.Add(-2 * time.Hour), Action: "login.success"},
	} {
		if err := dur.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []storage.DraftDocument{
		{DraftID: "abandoned", FileName: "a.pdf", ContentType: "application/pdf", SHA256: "aa", Data: []byte("%PDF-1.4"), CreatedAt: now.Add(-4 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{DraftID: "active", FileName: "b.pdf", ContentType: "application/pdf", SHA256: "bb", Data: []byte("%PDF-1.4"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := dur.PutDraftDocument(ctx, d, d.CreatedAt, storage.DraftDocumentCap{}); err != nil {
			t.Fatal(err)
		}
	}

	m := &maintenance{store: dur, retention: defaultAuditRetention, now: clock.Now, logger: slog.New(slog.DiscardHandler)}
	m.runOnce(ctx)

	events, err := dur.ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "login.success" {
		t.Errorf("audit after pruning = %+v, want only the recent event", events)
	}
	// The expired letter is gone from the table, not only hidden: ask for it
	// at a time before its expiry.
	if _, err := dur.DraftDocument(ctx, "abandoned", now.Add(-2*time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("abandoned letter after pruning: %v, want ErrNotFound", err)
	}
	if _, err := dur.DraftDocument(ctx, "active", now); err != nil {
		t.Errorf("active letter after pruning: %v", err)
	}
}

func TestAuditRetentionSetting(t *testing.T) {
	cfg, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{"SATUPINTU_AUDIT_RETENTION": "2160h"}))
	if err != nil || cfg.AuditRetention != 90*24*time.Hour {
		t.Fatalf("AUDIT_RETENTION=2160h: %v, %v", cfg.AuditRetention, err)
	}
	if _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{"SATUPINTU_AUDIT_RETENTION": "1h"})); err == nil || !strings.Contains(err.Error(), "AUDIT_RETENTION") {
		t.Fatalf("AUDIT_RETENTION=1h: err = %v, want a refusal", err)
	}
}
