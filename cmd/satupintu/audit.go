package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"satupintu/audit"
	"satupintu/storage"
)

// errAuditBroken makes `audit verify` exit non-zero once it has printed
// where the chain breaks.
var errAuditBroken = errors.New("audit verify: the audit log's hash chain is broken")

// auditCommand runs `satupintu audit verify|export`.
func (a *admin) auditCommand(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("audit: want verify or export")
	}
	switch args[0] {
	case "verify":
		return a.auditVerify(ctx, args[1:])
	case "export":
		return a.auditExport(ctx, args[1:])
	default:
		return usagef("audit: unknown command %q (want verify or export)", args[0])
	}
}

// auditVerify walks the chain: "broken at event N: reason" and a failure
// status, or the count and the head hash to note for the next run.
func (a *admin) auditVerify(ctx context.Context, args []string) error {
	fs := newFlagSet("audit verify")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit verify: unexpected argument %q", fs.Arg(0))
	}
	r, err := audit.Verify(ctx, a.store)
	if err != nil {
		return err
	}
	if r.Broken != nil {
		fmt.Fprintf(a.stdout, "broken at event %d: %s\n", r.Broken.ID, r.Broken.Reason)
		return errAuditBroken
	}
	fmt.Fprintf(a.stdout, "audit log intact: %d events", r.Events)
	if r.Events > 0 {
		fmt.Fprintf(a.stdout, " (ids %d to %d)", r.FirstID, r.LastID)
	}
	fmt.Fprintf(a.stdout, "\nhead: event %d, hash %s\n", r.HeadID, hex.EncodeToString(r.HeadHash))
	if len(r.Anchor) > 0 {
		fmt.Fprintf(a.stdout, "anchor (hash of the newest event retention removed): %s\n", hex.EncodeToString(r.Anchor))
	}
	return nil
}

// auditExport writes the matching events to stdout, newest first.
func (a *admin) auditExport(ctx context.Context, args []string) error {
	fs := newFlagSet("audit export")
	format := fs.String("format", "jsonl", "csv or jsonl")
	var f storage.AuditFilter
	fs.StringVar(&f.ActorID, "actor", "", "only events by this actor (a user id, \"cli\", …)")
	fs.StringVar(&f.Action, "action", "", "only this action, or a prefix ending in * or . (login.*)")
	fs.StringVar(&f.Subject, "target", "", "only events about this subject")
	fs.StringVar(&f.ClientID, "client", "", "only events of this client")
	since := fs.String("since", "", "from this time on (RFC 3339 or YYYY-MM-DD, UTC)")
	until := fs.String("until", "", "before this time (RFC 3339 or YYYY-MM-DD, UTC)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit export: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if f.From, err = parseWhen(*since); err != nil {
		return usagef("audit export: --since: %v", err)
	}
	if f.To, err = parseWhen(*until); err != nil {
		return usagef("audit export: --until: %v", err)
	}
	var w audit.Writer
	switch *format {
	case "csv":
		w = audit.NewCSVWriter(a.stdout)
	case "jsonl":
		w = audit.NewJSONLinesWriter(a.stdout)
	default:
		return usagef("audit export: --format %q must be csv or jsonl", *format)
	}
	_, err = audit.Export(ctx, a.store, f, w)
	return err
}

// parseWhen reads a time flag; empty is no bound.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}
