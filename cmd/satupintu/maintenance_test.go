package main

import (
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"satupintu/audit"
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
	// The recent event stays, and retention recorded what it removed, in
	// the chain, which still verifies.
	if len(events) != 2 || events[1].Action != "login.success" || events[0].Action != storage.AuditPruneAction ||
		events[0].Detail["count"] != "1" || events[0].Detail["cutoff"] != now.Add(-defaultAuditRetention).Format(time.RFC3339Nano) {
		t.Errorf("audit after pruning = %+v, want the recent event and the retention record", events)
	}
	if r, err := audit.Verify(ctx, dur); err != nil || r.Broken != nil {
		t.Errorf("audit.Verify after pruning: %+v, %v", r.Broken, err)
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
