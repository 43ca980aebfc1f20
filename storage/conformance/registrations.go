package conformance

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// newRegistration returns a registration with every field set and its
// document, linked to each other, submitted at instant(minutes).
func newRegistration(serviceNumber, nib, email string, minutes int) (storage.Registration, storage.Document) {
	g := storage.Registration{
		ID:             storage.NewID(),
		ServiceNumber:  serviceNumber,
		Status:         storage.StatusSubmitted,
		Purpose:        "transaksi",
		TraderType:     "importir",
		NIBType:        "nib_oss",
		NIB:            nib,
		NPWPType:       "npwp_badan",
		NPWP:           "0123456789012345",
		OrgName:        "PT Sinar Samudra Logistik",
		BusinessType:   "PT",
		Address:        storage.Address{Street: "Jl. Yos Sudarso Kav. 7", City: "Jakarta Utara", Province: "DKI Jakarta", PostalCode: "14310", Country: "ID"},
		FullName:       "Siti Rahayu",
		Position:       "Manajer Ekspor-Impor",
		IdentityType:   "nik",
		IdentityNumber: "3171234567890001",
		Email:          email,
		Phone:          "+6281298765432",
		SubmittedAt:    instant(minutes),
		UpdatedAt:      instant(minutes),
	}
	doc := newDocument(g.ID, minutes)
	g.DocumentID = doc.ID
	return g, doc
}

// newDocument returns a small PDF-looking document whose bytes include NUL
// and 0xff, which text columns would mangle.
func newDocument(registrationID string, minutes int) storage.Document {
	data := []byte("%PDF-1.7\n\x00\xff\xfe surat kuasa " + registrationID)
	return storage.Document{
		ID:             storage.NewID(),
		RegistrationID: registrationID,
		FileName:       "surat-kuasa.pdf",
		ContentType:    "application/pdf",
		SHA256:         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Data:           data,
		CreatedAt:      instant(minutes),
	}
}

// storedRegistration is how a registration comes back: email lower case.
func storedRegistration(g storage.Registration) storage.Registration {
	g.Email = strings.ToLower(g.Email)
	return g
}

// newestFirst is the order of ListRegistrations and OpenRegistrationFor.
func newestFirst(a, b storage.Registration) int {
	return cmp.Or(b.SubmittedAt.Compare(a.SubmittedAt), strings.Compare(b.ID, a.ID))
}

func mustCreateRegistration(t *testing.T, s storage.Durable, g storage.Registration, doc storage.Document) {
	t.Helper()
	mustOK(t, "CreateRegistration", s.CreateRegistration(t.Context(), g, doc))
}

// setStatus moves a registration to status through UpdateRegistration, as
// an officer would.
func setStatus(t *testing.T, s storage.Durable, id string, status storage.RegistrationStatus, minutes int) {
	t.Helper()
	mustOK(t, "UpdateRegistration to "+string(status), s.UpdateRegistration(t.Context(), id,
		func(g *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			g.Status, g.UpdatedAt = status, instant(minutes)
			return storage.RegistrationEvent{Status: status, ActorID: "officer-1"}, nil, nil
		}))
}

func mustEvents(t *testing.T, s storage.Durable, id string) []storage.RegistrationEvent {
	t.Helper()
	es, err := s.RegistrationEvents(t.Context(), id)
	mustOK(t, "RegistrationEvents", err)
	return es
}

// checkEvents compares a history with want, ignoring the store-assigned ids
// but requiring them to be positive and increasing.
func checkEvents(t *testing.T, what string, want, got []storage.RegistrationEvent) {
	t.Helper()
	for i := range got {
		if got[i].ID <= 0 || i > 0 && got[i].ID <= got[i-1].ID {
			t.Errorf("%s: event ids %d, … not positive and increasing", what, got[i].ID)
		}
		if i < len(want) {
			want[i].ID = got[i].ID
		}
	}
	checkEqual(t, what, want, got)
	checkUTC(t, what, got)
}

func testRegistrationNotFound(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)

	if got, err := s.RegistrationByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("RegistrationByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.RegistrationByServiceNumber(ctx, "SP-missing"); !isNotFound(err) {
		t.Errorf("RegistrationByServiceNumber: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.RegistrationEvents(ctx, "missing"); !isNotFound(err) {
		t.Errorf("RegistrationEvents: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.DocumentByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("DocumentByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	checkErr(t, "UpdateRegistration", s.UpdateRegistration(ctx, "missing",
		func(*storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			t.Error("UpdateRegistration called fn for a missing registration")
			return storage.RegistrationEvent{}, nil, nil
		}), storage.ErrNotFound)
	org, user, token, ev := approval("missing", "9120009999999", "nobody")
	checkErr(t, "ApproveRegistration", s.ApproveRegistration(ctx, "missing", org, user, token, ev), storage.ErrNotFound)
	if _, err := s.OrganizationByID(ctx, org.ID); !isNotFound(err) {
		t.Errorf("approving a missing registration created its organization: %v", err)
	}
	if got, err := s.ConsumeActionToken(ctx, "missing", storage.TokenActivation, instant(0)); !isNotFound(err) {
		t.Errorf("ConsumeActionToken: got (%+v, %v), want ErrNotFound", got, err)
	}
}

func testRegistrationRoundTrip(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-2026-000001", "9120001234567", "Siti.Rahayu@Example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)

	want := storedRegistration(g)
	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "RegistrationByID", want, got)
	checkUTC(t, "RegistrationByID", got)
	got, err = s.RegistrationByServiceNumber(ctx, g.ServiceNumber)
	mustOK(t, "RegistrationByServiceNumber", err)
	checkEqual(t, "RegistrationByServiceNumber", want, got)

	gotDoc, err := s.DocumentByID(ctx, doc.ID)
	mustOK(t, "DocumentByID", err)
	checkEqual(t, "DocumentByID", doc, gotDoc)
	checkUTC(t, "DocumentByID", gotDoc)
	if !bytes.Equal(gotDoc.Data, doc.Data) {
		t.Errorf("document bytes = %q, want %q", gotDoc.Data, doc.Data)
	}

	// Creation records the first line of the history.
	checkEvents(t, "events of a new registration", []storage.RegistrationEvent{
		{RegistrationID: g.ID, Status: storage.StatusSubmitted, Time: g.SubmittedAt},
	}, mustEvents(t, s, g.ID))

	// The minimal registration: no status means submitted, zero times stay
	// zero, and the document passed in becomes the current one whatever
	// DocumentID said.
	minimal := storage.Registration{ID: storage.NewID(), ServiceNumber: "SP-2026-000002", DocumentID: "stale"}
	minimalDoc := storage.Document{ID: storage.NewID(), RegistrationID: "other"}
	mustCreateRegistration(t, s, minimal, minimalDoc)
	got, err = s.RegistrationByID(ctx, minimal.ID)
	mustOK(t, "RegistrationByID(minimal)", err)
	minimal.Status, minimal.DocumentID = storage.StatusSubmitted, minimalDoc.ID
	checkEqual(t, "minimal registration", minimal, got)
	if !got.SubmittedAt.IsZero() || !got.UpdatedAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.SubmittedAt, got.UpdatedAt)
	}
	gotDoc, err = s.DocumentByID(ctx, minimalDoc.ID)
	mustOK(t, "DocumentByID(minimal)", err)
	minimalDoc.RegistrationID = minimal.ID
	checkEqual(t, "minimal document", minimalDoc, gotDoc)
}

func testRegistrationUniqueness(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)

	// refused checks that a failed create stored none of its parts.
	refused := func(what string, r storage.Registration, d storage.Document) {
		t.Helper()
		checkErr(t, what, s.CreateRegistration(ctx, r, d), storage.ErrAlreadyExists)
		if r.ID != g.ID {
			if _, err := s.RegistrationByID(ctx, r.ID); !isNotFound(err) {
				t.Errorf("%s stored the registration: %v", what, err)
			}
			if _, err := s.RegistrationEvents(ctx, r.ID); !isNotFound(err) {
				t.Errorf("%s stored an event: %v", what, err)
			}
		}
		if d.ID != doc.ID {
			if _, err := s.DocumentByID(ctx, d.ID); !isNotFound(err) {
				t.Errorf("%s stored the document: %v", what, err)
			}
		}
	}
	sameID, sameIDDoc := newRegistration("SP-2", "9120001234568", "other@example.co.id", 1)
	sameID.ID = g.ID
	refused("CreateRegistration with a taken id", sameID, sameIDDoc)
	sameNumber, sameNumberDoc := newRegistration("SP-1", "9120001234568", "other@example.co.id", 1)
	refused("CreateRegistration with a taken service number", sameNumber, sameNumberDoc)
	sameDoc, _ := newRegistration("SP-3", "9120001234568", "other@example.co.id", 1)
	refused("CreateRegistration with a taken document id", sameDoc, doc)

	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "registration after refused duplicates", storedRegistration(g), got)
	if es := mustEvents(t, s, g.ID); len(es) != 1 {
		t.Errorf("registration has %d events after refused duplicates, want 1", len(es))
	}
}

func testDocumentSize(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	doc.Data = bytes.Repeat([]byte{0xff, 0x00, 'k'}, storage.MaxDocumentSize/3+1)[:storage.MaxDocumentSize]
	mustCreateRegistration(t, s, g, doc)
	got, err := s.DocumentByID(ctx, doc.ID)
	mustOK(t, "DocumentByID", err)
	if !bytes.Equal(got.Data, doc.Data) {
		t.Errorf("a document of exactly %d bytes came back as %d different bytes", len(doc.Data), len(got.Data))
	}

	big, bigDoc := newRegistration("SP-2", "9120001234568", "big@example.co.id", 1)
	bigDoc.Data = make([]byte, storage.MaxDocumentSize+1)
	err = s.CreateRegistration(ctx, big, bigDoc)
	if err == nil || errors.Is(err, storage.ErrAlreadyExists) || isNotFound(err) || isConflict(err) {
		t.Errorf("CreateRegistration with a %d-byte document: got %v, want a plain error", len(bigDoc.Data), err)
	}
	if _, err := s.RegistrationByID(ctx, big.ID); !isNotFound(err) {
		t.Errorf("a refused oversized document left its registration: %v", err)
	}

	err = s.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		r.Status = storage.StatusResubmitted
		return storage.RegistrationEvent{}, &bigDoc, nil
	})
	if err == nil || errors.Is(err, storage.ErrAlreadyExists) || isNotFound(err) || isConflict(err) {
		t.Errorf("UpdateRegistration with a %d-byte document: got %v, want a plain error", len(bigDoc.Data), err)
	}
	after, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "registration after a refused oversized document", storedRegistration(g), after)
}

func testOpenRegistrationFor(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	const nibA, nibB = "9120000000001", "9120000000002"
	a, aDoc := newRegistration("SP-A", nibA, "a@example.co.id", 0)
	b, bDoc := newRegistration("SP-B", nibB, "b@example.co.id", 1)
	mustCreateRegistration(t, s, a, aDoc)
	mustCreateRegistration(t, s, b, bDoc)

	find := func(nib, email, wantID string) {
		t.Helper()
		got, err := s.OpenRegistrationFor(ctx, nib, email)
		switch {
		case wantID == "" && !isNotFound(err):
			t.Errorf("OpenRegistrationFor(%q, %q): got (%s, %v), want ErrNotFound", nib, email, got.ID, err)
		case wantID != "" && err != nil:
			t.Errorf("OpenRegistrationFor(%q, %q): %v", nib, email, err)
		case wantID != "" && got.ID != wantID:
			t.Errorf("OpenRegistrationFor(%q, %q) = %s, want %s", nib, email, got.ID, wantID)
		}
	}
	find(nibA, "", a.ID)
	find("", "B@Example.CO.ID", b.ID) // emails match case-insensitively
	find(nibA, "nobody@example.co.id", a.ID)
	find("9129999999999", "b@example.co.id", b.ID)
	find("9129999999999", "nobody@example.co.id", "")
	find("", "", "") // an empty NIB or email matches nothing

	got, err := s.OpenRegistrationFor(ctx, nibA, "a@example.co.id")
	mustOK(t, "OpenRegistrationFor", err)
	checkEqual(t, "OpenRegistrationFor", storedRegistration(a), got)
	checkUTC(t, "OpenRegistrationFor", got)

	// Every status short of a decision is open.
	for i, st := range []storage.RegistrationStatus{storage.StatusInReview, storage.StatusRevisionRequested, storage.StatusResubmitted} {
		setStatus(t, s, a.ID, st, 10+i)
		find(nibA, "", a.ID)
	}
	// Of two open registrations for one NIB, the newest is reported.
	c, cDoc := newRegistration("SP-C", nibA, "c@example.co.id", 20)
	mustCreateRegistration(t, s, c, cDoc)
	find(nibA, "", c.ID)
	// Decided registrations are not open, whichever way they went.
	setStatus(t, s, c.ID, storage.StatusRejected, 30)
	find(nibA, "", a.ID)
	find("", "c@example.co.id", "")
	setStatus(t, s, a.ID, storage.StatusApproved, 31)
	find(nibA, "a@example.co.id", "")
	find(nibB, "", b.ID)
}

func testListRegistrationsPaging(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	got, err := s.ListRegistrations(ctx, storage.RegistrationFilter{Limit: 10})
	mustOK(t, "ListRegistrations on an empty store", err)
	if len(got) != 0 {
		t.Errorf("ListRegistrations on an empty store returned %d registrations", len(got))
	}

	// Ties on SubmittedAt (four at 5, two at 10) put page boundaries inside
	// a run of equal times, where a cursor on time alone would skip or
	// repeat rows. Created out of order so insertion order cannot pass.
	var all []storage.Registration
	for i, minutes := range []int{5, 10, -5, 5, 20, 5, 0, 10, 5} {
		g, doc := newRegistration(fmt.Sprintf("SP-%02d", i), fmt.Sprintf("91200000000%02d", i), fmt.Sprintf("r%d@example.co.id", i), minutes)
		mustCreateRegistration(t, s, g, doc)
		all = append(all, storedRegistration(g))
	}
	slices.SortFunc(all, newestFirst)

	got, err = s.ListRegistrations(ctx, storage.RegistrationFilter{})
	mustOK(t, "ListRegistrations without a limit", err)
	checkEqual(t, "ListRegistrations without a limit", all, got)
	checkUTC(t, "ListRegistrations", got)

	for _, size := range []int{1, 2, 3, 4, 9, 10} {
		paged := listPages(t, s, storage.RegistrationFilter{}, size)
		checkEqual(t, fmt.Sprintf("pages of %d", size), all, paged)
	}
}

// listPages reads every page of f with the given page size, following the
// keyset cursor, and checks no page is larger than asked.
func listPages(t *testing.T, s storage.Durable, f storage.RegistrationFilter, size int) []storage.Registration {
	t.Helper()
	f.Limit = size
	var out []storage.Registration
	for range 100 {
		page, err := s.ListRegistrations(t.Context(), f)
		mustOK(t, "ListRegistrations page", err)
		if len(page) > size {
			t.Fatalf("ListRegistrations(limit %d) returned %d", size, len(page))
		}
		out = append(out, page...)
		if len(page) < size {
			return out
		}
		last := page[len(page)-1]
		f.AfterSubmitted, f.AfterID = last.SubmittedAt, last.ID
	}
	t.Fatal("ListRegistrations pages never end")
	return nil
}

func testListRegistrationsFilters(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	type spec struct {
		minutes int
		status  storage.RegistrationStatus
		trader  string
	}
	var all []storage.Registration
	for i, sp := range []spec{
		{0, storage.StatusSubmitted, "importir"},
		{5, storage.StatusInReview, "eksportir"},
		{5, storage.StatusInReview, "importir"},
		{10, storage.StatusSubmitted, "eksportir"},
		{10, storage.StatusInReview, "eksportir"},
		{15, storage.StatusApproved, "ppjk"},
		{20, storage.StatusInReview, "importir"},
		{-10, storage.StatusRejected, "importir"},
	} {
		g, doc := newRegistration(fmt.Sprintf("SP-%02d", i), fmt.Sprintf("91200000000%02d", i), fmt.Sprintf("r%d@example.co.id", i), sp.minutes)
		g.Status, g.TraderType = sp.status, sp.trader
		mustCreateRegistration(t, s, g, doc)
		all = append(all, storedRegistration(g))
	}
	slices.SortFunc(all, newestFirst)

	// expect is the filter's meaning, spelled out: From inclusive, To
	// exclusive, empty fields match anything.
	expect := func(f storage.RegistrationFilter) []storage.Registration {
		var out []storage.Registration
		for _, g := range all {
			if (f.Status == "" || g.Status == f.Status) && (f.TraderType == "" || g.TraderType == f.TraderType) &&
				(f.From.IsZero() || !g.SubmittedAt.Before(f.From)) && (f.To.IsZero() || g.SubmittedAt.Before(f.To)) {
				out = append(out, g)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    storage.RegistrationFilter
		n    int
	}{
		{"status", storage.RegistrationFilter{Status: storage.StatusInReview}, 4},
		{"trader type", storage.RegistrationFilter{TraderType: "eksportir"}, 3},
		{"status and trader type", storage.RegistrationFilter{Status: storage.StatusInReview, TraderType: "importir"}, 2},
		{"from is inclusive", storage.RegistrationFilter{From: instant(5)}, 6},
		{"to is exclusive", storage.RegistrationFilter{To: instant(10)}, 4},
		{"from and to in another zone", storage.RegistrationFilter{From: instant(5).UTC(), To: instant(15).In(time.FixedZone("WITA", 8*3600))}, 4},
		{"everything", storage.RegistrationFilter{Status: storage.StatusInReview, TraderType: "eksportir", From: instant(0), To: instant(20)}, 2},
		{"no match", storage.RegistrationFilter{Status: storage.StatusRevisionRequested}, 0},
	} {
		want := expect(tc.f)
		if len(want) != tc.n {
			t.Fatalf("%s: the test expects %d registrations, its data has %d", tc.name, tc.n, len(want))
		}
		got, err := s.ListRegistrations(ctx, tc.f)
		mustOK(t, "ListRegistrations "+tc.name, err)
		checkEqual(t, "ListRegistrations "+tc.name, want, got)
		checkEqual(t, "paged ListRegistrations "+tc.name, want, listPages(t, s, tc.f, 1))
	}
	// The metrics' count of the officers' queue, where a backend offers it.
	if c, ok := s.(interface {
		OpenRegistrationCounts(context.Context) (map[storage.RegistrationStatus]int, error)
	}); ok {
		got, err := c.OpenRegistrationCounts(ctx)
		mustOK(t, "OpenRegistrationCounts", err)
		checkEqual(t, "OpenRegistrationCounts", map[storage.RegistrationStatus]int{
			storage.StatusSubmitted: 2, storage.StatusInReview: 4}, got)
	}
}

func testUpdateRegistration(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)

	want := storedRegistration(g)
	want.Status, want.FullName, want.UpdatedAt = storage.StatusInReview, "Siti Rahayu, S.E.", instant(10)
	mustOK(t, "UpdateRegistration", s.UpdateRegistration(ctx, g.ID,
		func(got *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			checkEqual(t, "record given to UpdateRegistration's fn", storedRegistration(g), *got)
			got.Status, got.FullName, got.UpdatedAt = want.Status, want.FullName, want.UpdatedAt
			got.ID = "renamed" // ignored: the id is fixed
			// RegistrationID is the store's to fill in, Time defaults to
			// UpdatedAt and Status to the new status.
			return storage.RegistrationEvent{RegistrationID: "other", ActorID: "officer-1"}, nil, nil
		}))
	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "updated registration", want, got)
	checkUTC(t, "updated registration", got)
	if _, err := s.RegistrationByID(ctx, "renamed"); !isNotFound(err) {
		t.Errorf("RegistrationByID(renamed): got %v, want ErrNotFound", err)
	}
	history := []storage.RegistrationEvent{
		{RegistrationID: g.ID, Status: storage.StatusSubmitted, Time: g.SubmittedAt},
		{RegistrationID: g.ID, Status: storage.StatusInReview, ActorID: "officer-1", Time: instant(10)},
	}
	checkEvents(t, "events after an update", history, mustEvents(t, s, g.ID))

	// A failing fn scribbles on everything and offers a document and an
	// event: none of it may be stored.
	scribbled := newDocument(g.ID, 11)
	err = s.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		r.Status, r.Email, r.Address.City = storage.StatusApproved, "attacker@example.com", "Nowhere"
		return storage.RegistrationEvent{Status: storage.StatusApproved}, &scribbled, errFn
	})
	checkErr(t, "UpdateRegistration with a failing fn", err, errFn)
	got, err = s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "registration after a failing fn", want, got)
	checkEvents(t, "events after a failing fn", history, mustEvents(t, s, g.ID))
	if _, err := s.DocumentByID(ctx, scribbled.ID); !isNotFound(err) {
		t.Errorf("a failing fn's document was stored: %v", err)
	}

	// A returned document is stored for this registration and becomes the
	// current one; the earlier one stays readable.
	revised := newDocument("other", 20)
	revised.FileName, revised.ContentType, revised.Data = "surat-kuasa-revisi.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00")
	mustOK(t, "UpdateRegistration with a document", s.UpdateRegistration(ctx, g.ID,
		func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			r.Status, r.UpdatedAt = storage.StatusResubmitted, instant(20)
			return storage.RegistrationEvent{Time: instant(19), Note: "surat kuasa diperbaiki"}, &revised, nil
		}))
	got, err = s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	if got.DocumentID != revised.ID {
		t.Errorf("DocumentID = %s, want the new document %s", got.DocumentID, revised.ID)
	}
	gotDoc, err := s.DocumentByID(ctx, revised.ID)
	mustOK(t, "DocumentByID(revised)", err)
	revised.RegistrationID = g.ID
	checkEqual(t, "revised document", revised, gotDoc)
	if _, err := s.DocumentByID(ctx, doc.ID); err != nil {
		t.Errorf("the first document is gone after a revision: %v", err)
	}
	// An explicit event time is kept.
	history = append(history, storage.RegistrationEvent{RegistrationID: g.ID, Status: storage.StatusResubmitted,
		Note: "surat kuasa diperbaiki", Time: instant(19)})
	checkEvents(t, "events after a revision", history, mustEvents(t, s, g.ID))

	// A document whose id is taken fails the whole update.
	err = s.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		r.Status = storage.StatusInReview
		return storage.RegistrationEvent{}, &doc, nil
	})
	checkErr(t, "UpdateRegistration with a taken document id", err, storage.ErrAlreadyExists)
	after, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	checkEqual(t, "registration after a refused document", got, after)
	checkEvents(t, "events after a refused document", history, mustEvents(t, s, g.ID))
}

func testRegistrationEvents(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)
	other, otherDoc := newRegistration("SP-2", "9120001234568", "budi@example.co.id", 1)
	mustCreateRegistration(t, s, other, otherDoc)

	// The whole life of a registration that needed one revision. Event
	// times go backwards on purpose: the history is in the order things
	// happened to the record, not sorted by a clock that may be skewed
	// between nodes.
	steps := []storage.RegistrationEvent{
		{Status: storage.StatusInReview, ActorID: "officer-1", Time: instant(60)},
		{Status: storage.StatusRevisionRequested, ActorID: "officer-1", Note: "Surat kuasa belum ditandatangani.", Time: instant(70)},
		{Status: storage.StatusResubmitted, Time: instant(65)},
		{Status: storage.StatusInReview, ActorID: "officer-2", Time: instant(80)},
		{Status: storage.StatusRejected, ActorID: "officer-2", Note: "NIB tidak sesuai dengan nama perusahaan.", Time: instant(90)},
	}
	want := []storage.RegistrationEvent{{RegistrationID: g.ID, Status: storage.StatusSubmitted, Time: g.SubmittedAt}}
	for i, ev := range steps {
		mustOK(t, "UpdateRegistration", s.UpdateRegistration(ctx, g.ID,
			func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
				r.Status, r.UpdatedAt = ev.Status, ev.Time
				return ev, nil, nil
			}))
		if i == 1 {
			setStatus(t, s, other.ID, storage.StatusInReview, 71) // interleaved
		}
		ev.RegistrationID = g.ID
		want = append(want, ev)
	}
	checkEvents(t, "history", want, mustEvents(t, s, g.ID))
	checkEvents(t, "history of the other registration", []storage.RegistrationEvent{
		{RegistrationID: other.ID, Status: storage.StatusSubmitted, Time: other.SubmittedAt},
		{RegistrationID: other.ID, Status: storage.StatusInReview, ActorID: "officer-1", Time: instant(71)},
	}, mustEvents(t, s, other.ID))
}

// approval returns what an officer's approval of a registration creates:
// the organization, its first user, the activation token and the event.
func approval(tag, nib, username string) (storage.Organization, storage.User, storage.ActionToken, storage.RegistrationEvent) {
	org := storage.Organization{
		ID:           storage.NewID(),
		NIB:          nib,
		NPWP:         "0123456789012345",
		Name:         "PT Sinar Samudra Logistik " + tag,
		TraderType:   "importir",
		BusinessType: "PT",
		Address:      storage.Address{Street: "Jl. Yos Sudarso Kav. 7", City: "Jakarta Utara", Province: "DKI Jakarta", PostalCode: "14310", Country: "ID"},
		CreatedAt:    instant(30),
		UpdatedAt:    instant(30),
	}
	user := storage.User{
		ID:        storage.NewID(),
		Username:  username,
		Email:     username + "@Example.co.id",
		Name:      "Siti Rahayu",
		Phone:     "+6281298765432",
		Position:  "Manajer Ekspor-Impor",
		CreatedAt: instant(30),
		UpdatedAt: instant(30),
	}
	token := storage.ActionToken{
		ID:        "sha256-" + storage.NewID(),
		UserID:    "filled-in-by-the-store",
		Purpose:   storage.TokenActivation,
		CreatedAt: instant(30),
		ExpiresAt: instant(30 + 3*24*60),
	}
	ev := storage.RegistrationEvent{ActorID: "officer-1", Note: "Dokumen lengkap.", Time: instant(30)}
	return org, user, token, ev
}

func testApproveRegistration(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)
	setStatus(t, s, g.ID, storage.StatusInReview, 10)

	org, user, token, ev := approval("", g.NIB, "Siti.Rahayu")
	user.OrganizationID = "filled-in-by-the-store"
	mustOK(t, "ApproveRegistration", s.ApproveRegistration(ctx, g.ID, org, user, token, ev))

	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	want := storedRegistration(g)
	want.Status, want.OrganizationID, want.UserID, want.UpdatedAt = storage.StatusApproved, org.ID, user.ID, ev.Time
	checkEqual(t, "approved registration", want, got)
	checkUTC(t, "approved registration", got)

	gotOrg, err := s.OrganizationByNIB(ctx, g.NIB)
	mustOK(t, "OrganizationByNIB", err)
	checkEqual(t, "organization", org, gotOrg)
	gotUser, err := s.UserByLogin(ctx, "siti.rahayu")
	mustOK(t, "UserByLogin", err)
	user.OrganizationID = org.ID
	checkEqual(t, "user", stored(user), gotUser)

	es := mustEvents(t, s, g.ID)
	checkEvents(t, "last event", []storage.RegistrationEvent{{RegistrationID: g.ID, Status: storage.StatusApproved,
		ActorID: ev.ActorID, Note: ev.Note, Time: ev.Time}}, es[len(es)-1:])
	if _, err := s.OpenRegistrationFor(ctx, g.NIB, g.Email); !isNotFound(err) {
		t.Errorf("OpenRegistrationFor an approved registration: got %v, want ErrNotFound", err)
	}

	// The activation token belongs to the new user.
	used, err := s.ConsumeActionToken(ctx, token.ID, storage.TokenActivation, instant(31))
	mustOK(t, "ConsumeActionToken", err)
	token.UserID, token.UsedAt = user.ID, instant(31)
	checkEqual(t, "activation token", token, used)

	// A decided registration cannot be approved again, nor can a rejected
	// one; nothing of the refused approvals is created.
	org2, user2, token2, ev2 := approval("2", "9120007654321", "second")
	checkErr(t, "second ApproveRegistration", s.ApproveRegistration(ctx, g.ID, org2, user2, token2, ev2), storage.ErrConflict)
	r, rDoc := newRegistration("SP-2", "9120001111111", "rejected@example.co.id", 1)
	mustCreateRegistration(t, s, r, rDoc)
	setStatus(t, s, r.ID, storage.StatusRejected, 11)
	checkErr(t, "ApproveRegistration of a rejected registration", s.ApproveRegistration(ctx, r.ID, org2, user2, token2, ev2), storage.ErrConflict)
	// Only a registration under review can be approved, so an approval
	// cannot land on top of a concurrent revision request.
	for i, st := range []storage.RegistrationStatus{storage.StatusSubmitted, storage.StatusRevisionRequested, storage.StatusResubmitted} {
		p, pDoc := newRegistration(fmt.Sprintf("SP-P%d", i), fmt.Sprintf("91200022222%02d", i), fmt.Sprintf("pending%d@example.co.id", i), 2+i)
		mustCreateRegistration(t, s, p, pDoc)
		if st != storage.StatusSubmitted {
			setStatus(t, s, p.ID, st, 12)
		}
		checkErr(t, "ApproveRegistration of a "+string(st)+" registration", s.ApproveRegistration(ctx, p.ID, org2, user2, token2, ev2), storage.ErrConflict)
	}
	if _, err := s.OrganizationByID(ctx, org2.ID); !isNotFound(err) {
		t.Errorf("a refused approval created its organization: %v", err)
	}
	if _, err := s.UserByID(ctx, user2.ID); !isNotFound(err) {
		t.Errorf("a refused approval created its user: %v", err)
	}
	got, err = s.RegistrationByID(ctx, r.ID)
	mustOK(t, "RegistrationByID", err)
	if got.Status != storage.StatusRejected || got.OrganizationID != "" {
		t.Errorf("a refused approval changed the rejected registration: %+v", got)
	}
}

// An approval that fails part way leaves nothing behind: no organization,
// no user, no token, no event, and the registration still open.
func testApproveAtomic(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	existing := storage.User{ID: storage.NewID(), Username: "budi", Email: "budi@example.co.id"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, existing))
	existingOrg := storage.Organization{ID: storage.NewID(), NIB: "9120000000099", Name: "PT Lama"}
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, existingOrg))
	takenToken := storage.ActionToken{ID: "sha256-taken", UserID: existing.ID, Purpose: storage.TokenPasswordReset,
		CreatedAt: instant(0), ExpiresAt: instant(60)}
	mustOK(t, "CreateActionToken", s.CreateActionToken(ctx, takenToken))

	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)
	setStatus(t, s, g.ID, storage.StatusInReview, 10)
	before, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	eventsBefore := mustEvents(t, s, g.ID)

	for _, tc := range []struct {
		name  string
		spoil func(*storage.Organization, *storage.User, *storage.ActionToken)
	}{
		{"taken username", func(_ *storage.Organization, u *storage.User, _ *storage.ActionToken) { u.Username = "BUDI" }},
		{"taken email", func(_ *storage.Organization, u *storage.User, _ *storage.ActionToken) { u.Email = "Budi@Example.co.id" }},
		{"taken user id", func(_ *storage.Organization, u *storage.User, _ *storage.ActionToken) { u.ID = existing.ID }},
		{"taken organization id", func(o *storage.Organization, _ *storage.User, _ *storage.ActionToken) { o.ID = existingOrg.ID }},
		{"taken token id", func(_ *storage.Organization, _ *storage.User, tok *storage.ActionToken) { tok.ID = takenToken.ID }},
	} {
		org, user, token, ev := approval(tc.name, g.NIB, "siti")
		tc.spoil(&org, &user, &token)
		checkErr(t, "ApproveRegistration with a "+tc.name, s.ApproveRegistration(ctx, g.ID, org, user, token, ev), storage.ErrAlreadyExists)

		if org.ID != existingOrg.ID {
			if _, err := s.OrganizationByID(ctx, org.ID); !isNotFound(err) {
				t.Errorf("%s: the organization was created: %v", tc.name, err)
			}
		}
		if org.NIB != existingOrg.NIB {
			if _, err := s.OrganizationByNIB(ctx, org.NIB); !isNotFound(err) {
				t.Errorf("%s: an organization with the NIB was created: %v", tc.name, err)
			}
		}
		if user.ID != existing.ID {
			if _, err := s.UserByID(ctx, user.ID); !isNotFound(err) {
				t.Errorf("%s: the user was created: %v", tc.name, err)
			}
		}
		if token.ID != takenToken.ID {
			if _, err := s.ConsumeActionToken(ctx, token.ID, storage.TokenActivation, instant(31)); !isNotFound(err) {
				t.Errorf("%s: the token was stored: %v", tc.name, err)
			}
		}
		got, err := s.RegistrationByID(ctx, g.ID)
		mustOK(t, "RegistrationByID", err)
		checkEqual(t, tc.name+": registration", before, got)
		checkEvents(t, tc.name+": events", eventsBefore, mustEvents(t, s, g.ID))
	}
	if got, err := s.OpenRegistrationFor(ctx, g.NIB, ""); err != nil || got.ID != g.ID {
		t.Errorf("after failed approvals OpenRegistrationFor = (%s, %v), want the registration", got.ID, err)
	}
	// The existing records are untouched: the taken token is still usable.
	if _, err := s.ConsumeActionToken(ctx, takenToken.ID, takenToken.Purpose, instant(1)); err != nil {
		t.Errorf("the taken token was changed by a failed approval: %v", err)
	}

	// With the conflicts out of the way the same registration approves.
	org, user, token, ev := approval("ok", g.NIB, "siti")
	mustOK(t, "ApproveRegistration", s.ApproveRegistration(ctx, g.ID, org, user, token, ev))
}

// Two officers deciding at once, some approving and some rejecting: one
// decision wins and the others see it and give up.
func testDecisionsConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-1", "9120001234567", "siti@example.co.id", 0)
	mustCreateRegistration(t, s, g, doc)
	setStatus(t, s, g.ID, storage.StatusInReview, 10)

	const n = 10
	// Concurrent reads first open as many connections as a pool will give,
	// so the decisions below really run at once rather than queue for a dial.
	runConcurrently(n, func(int) error { _, err := s.RegistrationByID(ctx, g.ID); return err })
	orgs := make([]storage.Organization, n)
	errs := runConcurrently(n, func(i int) error {
		if i%2 == 0 {
			return s.UpdateRegistration(ctx, g.ID, func(r *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
				if !r.Status.Open() {
					return storage.RegistrationEvent{}, nil, errFn
				}
				// An officer's fn may take a moment (rendering a notice, say);
				// a store that did not lock the row lets the others read it
				// as still open meanwhile.
				time.Sleep(5 * time.Millisecond)
				r.Status, r.UpdatedAt = storage.StatusRejected, instant(20+i)
				return storage.RegistrationEvent{ActorID: fmt.Sprint("officer-", i)}, nil, nil
			})
		}
		org, user, token, ev := approval(fmt.Sprint(i), fmt.Sprintf("91200000001%02d", i), fmt.Sprint("user", i))
		orgs[i] = org
		return s.ApproveRegistration(ctx, g.ID, org, user, token, ev)
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("decisions %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !isConflict(err) && !errors.Is(err, errFn):
			t.Errorf("decision %d: got %v, want nil, ErrConflict or the fn's error", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent decisions succeeded", n)
	}
	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	es := mustEvents(t, s, g.ID)
	decisions := 0
	for _, e := range es {
		if !e.Status.Open() {
			decisions++
		}
	}
	if decisions != 1 {
		t.Errorf("history has %d decisions, want 1: %+v", decisions, es)
	}
	if last := es[len(es)-1]; last.Status != got.Status {
		t.Errorf("last event is %s, registration is %s", last.Status, got.Status)
	}
	for i, org := range orgs {
		if i%2 == 0 {
			continue
		}
		_, err := s.OrganizationByID(ctx, org.ID)
		switch {
		case i == winner && err != nil:
			t.Errorf("the winning approval's organization is missing: %v", err)
		case i != winner && !isNotFound(err):
			t.Errorf("losing approval %d created its organization: %v", i, err)
		}
	}
	wantStatus := storage.StatusRejected
	if winner%2 == 1 {
		wantStatus = storage.StatusApproved
	}
	if got.Status != wantStatus {
		t.Errorf("registration is %s after decision %d won, want %s", got.Status, winner, wantStatus)
	}
}

func testActionTokens(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	tok := storage.ActionToken{
		ID:        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		UserID:    "user-1",
		Purpose:   storage.TokenPasswordReset,
		CreatedAt: instant(0),
		ExpiresAt: instant(60),
	}
	mustOK(t, "CreateActionToken", s.CreateActionToken(ctx, tok))
	dup := tok
	dup.Purpose = storage.TokenActivation
	checkErr(t, "CreateActionToken with a taken id", s.CreateActionToken(ctx, dup), storage.ErrAlreadyExists)

	// Failed attempts do not use the token up.
	if got, err := s.ConsumeActionToken(ctx, tok.ID, storage.TokenActivation, instant(1)); !isNotFound(err) {
		t.Errorf("ConsumeActionToken for another purpose: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, instant(60)); !isNotFound(err) {
		t.Errorf("ConsumeActionToken at ExpiresAt: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, instant(600)); !isNotFound(err) {
		t.Errorf("ConsumeActionToken long after expiry: got (%+v, %v), want ErrNotFound", got, err)
	}
	if _, err := s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, time.Time{}); err == nil || isNotFound(err) {
		t.Errorf("ConsumeActionToken at the zero time: got %v, want a plain error", err)
	}
	if got, err := s.ConsumeActionToken(ctx, "unknown", tok.Purpose, instant(1)); !isNotFound(err) {
		t.Errorf("ConsumeActionToken of an unknown token: got (%+v, %v), want ErrNotFound", got, err)
	}

	// Reading it changes nothing, and sees what consuming would.
	for i := range 2 {
		got, err := s.ActionToken(ctx, tok.ID, tok.Purpose, instant(1))
		mustOK(t, "ActionToken", err)
		checkEqual(t, fmt.Sprintf("ActionToken read %d", i), tok, got)
	}
	for _, c := range []struct {
		what, purpose string
		at            time.Time
	}{{"another purpose", storage.TokenActivation, instant(1)}, {"at expiry", tok.Purpose, instant(60)}} {
		if _, err := s.ActionToken(ctx, tok.ID, c.purpose, c.at); !isNotFound(err) {
			t.Errorf("ActionToken for %s: %v, want ErrNotFound", c.what, err)
		}
	}

	// One microsecond before expiry it is still good, given in UTC+8.
	at := instant(60).Add(-time.Microsecond).In(time.FixedZone("WITA", 8*3600))
	got, err := s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, at)
	mustOK(t, "ConsumeActionToken just before expiry", err)
	want := tok
	want.UsedAt = at
	checkEqual(t, "consumed token", want, got)
	checkUTC(t, "consumed token", got)
	// Single use (ASVS 2.5.1 / 6.3.1).
	if got, err := s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, instant(2)); !isNotFound(err) {
		t.Errorf("second ConsumeActionToken: got (%+v, %v), want ErrNotFound", got, err)
	}
	if _, err := s.ActionToken(ctx, tok.ID, tok.Purpose, instant(2)); !isNotFound(err) {
		t.Errorf("ActionToken of a used token: %v, want ErrNotFound", err)
	}
}

func testActionTokenConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	tok := storage.ActionToken{ID: "hash", UserID: "user-1", Purpose: storage.TokenActivation, CreatedAt: instant(0), ExpiresAt: instant(60)}
	mustOK(t, "CreateActionToken", s.CreateActionToken(ctx, tok))
	const n = 10
	used := make([]storage.ActionToken, n)
	errs := runConcurrently(n, func(i int) error {
		var err error
		used[i], err = s.ConsumeActionToken(ctx, tok.ID, tok.Purpose, instant(1+i))
		return err
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			if !used[i].UsedAt.Equal(instant(1 + i)) {
				t.Errorf("winner %d got UsedAt %v, want its own time %v", i, used[i].UsedAt, instant(1+i))
			}
		case !isNotFound(err):
			t.Errorf("ConsumeActionToken %d: got %v, want nil or ErrNotFound", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d concurrent consumptions of one token succeeded, want exactly 1", winners, n)
	}
}

// draftDocuments is the durable store's DraftDocuments; every durable
// backend must provide it (the wizard keeps its letters there).
func draftDocuments(t *testing.T, s storage.Durable) storage.DraftDocuments {
	t.Helper()
	dd, ok := s.(storage.DraftDocuments)
	if !ok {
		t.Fatalf("%T does not implement storage.DraftDocuments", s)
	}
	return dd
}

// newDraftDocument is a letter of draftID uploaded at instant(minutes),
// living ttl, with bytes text columns would mangle.
func newDraftDocument(draftID string, minutes int, ttl time.Duration) storage.DraftDocument {
	return storage.DraftDocument{
		DraftID:     draftID,
		FileName:    "surat-kuasa.pdf",
		ContentType: "application/pdf",
		SHA256:      "sha-of-" + draftID,
		Data:        []byte("%PDF-1.7\n\x00\xff\xfe draft " + draftID),
		CreatedAt:   instant(minutes),
		ExpiresAt:   instant(minutes).Add(ttl),
	}
}

// testDraftDocuments covers the letters of drafts in progress: one per
// draft, expiry, the cap on pending letters (also under concurrency) and
// the move into a registration at submission.
func testDraftDocuments(t *testing.T, s storage.Durable) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s storage.Durable, dd storage.DraftDocuments)
	}{
		{"round trip and one letter per draft", testDraftDocumentRoundTrip},
		{"expiry, extension and pruning", testDraftDocumentExpiry},
		{"the cap counts live letters of other drafts", testDraftDocumentCap},
		{"concurrent uploads cannot pass the cap", testDraftDocumentCapConcurrent},
		{"submission moves the letter atomically", testRegistrationFromDraft},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The subtests share the store: each starts with no letters.
			dd := draftDocuments(t, s)
			_, err := dd.PruneDraftDocuments(t.Context(), instant(100000))
			mustOK(t, "PruneDraftDocuments", err)
			tc.run(t, s, dd)
		})
	}
}

func testDraftDocumentRoundTrip(t *testing.T, _ storage.Durable, dd storage.DraftDocuments) {
	ctx := t.Context()
	now := instant(0)
	if _, err := dd.DraftDocument(ctx, "draft-1", now); !isNotFound(err) {
		t.Errorf("DraftDocument of a draft without one: %v, want ErrNotFound", err)
	}
	d := newDraftDocument("draft-1", 0, 3*time.Hour)
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, d, now, storage.DraftDocumentCap{MaxCount: 1}))
	got, err := dd.DraftDocument(ctx, "draft-1", now)
	mustOK(t, "DraftDocument", err)
	checkEqual(t, "draft document", d, got)
	checkUTC(t, "draft document", got)

	// Replacing is not a second letter: a cap of one still allows it, and
	// the old one is gone.
	d2 := newDraftDocument("draft-1", 1, 3*time.Hour)
	d2.FileName, d2.SHA256, d2.Data = "scan.png", "sha-2", []byte("\x89PNG replacement")
	mustOK(t, "PutDraftDocument replacing", dd.PutDraftDocument(ctx, d2, instant(1), storage.DraftDocumentCap{MaxCount: 1, MaxBytes: int64(len(d2.Data))}))
	got, err = dd.DraftDocument(ctx, "draft-1", instant(1))
	mustOK(t, "DraftDocument after replacing", err)
	checkEqual(t, "replaced draft document", d2, got)

	mustOK(t, "DeleteDraftDocument", dd.DeleteDraftDocument(ctx, "draft-1"))
	if _, err := dd.DraftDocument(ctx, "draft-1", instant(1)); !isNotFound(err) {
		t.Errorf("DraftDocument after delete: %v, want ErrNotFound", err)
	}
	mustOK(t, "DeleteDraftDocument of none", dd.DeleteDraftDocument(ctx, "draft-1"))

	big := newDraftDocument("draft-big", 0, time.Hour)
	big.Data = make([]byte, storage.MaxDocumentSize+1)
	if err := dd.PutDraftDocument(ctx, big, now, storage.DraftDocumentCap{}); err == nil || isNotFound(err) || errors.Is(err, storage.ErrLimitReached) {
		t.Errorf("PutDraftDocument of %d bytes: %v, want a plain error", len(big.Data), err)
	}
	big.Data = big.Data[:storage.MaxDocumentSize]
	mustOK(t, "PutDraftDocument of exactly the maximum", dd.PutDraftDocument(ctx, big, now, storage.DraftDocumentCap{}))
}

func testDraftDocumentExpiry(t *testing.T, _ storage.Durable, dd storage.DraftDocuments) {
	ctx := t.Context()
	d := newDraftDocument("draft-1", 0, time.Hour)
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, d, instant(0), storage.DraftDocumentCap{}))
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, newDraftDocument("draft-2", 0, 2*time.Hour), instant(0), storage.DraftDocumentCap{}))
	if _, err := dd.DraftDocument(ctx, "draft-1", instant(59)); err != nil {
		t.Errorf("DraftDocument a minute before expiry: %v", err)
	}
	if _, err := dd.DraftDocument(ctx, "draft-1", instant(60)); !isNotFound(err) {
		t.Errorf("DraftDocument at its expiry: %v, want ErrNotFound", err)
	}
	// Extending a live letter keeps it; an expired one cannot come back.
	mustOK(t, "ExtendDraftDocument", dd.ExtendDraftDocument(ctx, "draft-2", instant(300), instant(100)))
	if _, err := dd.DraftDocument(ctx, "draft-2", instant(299)); err != nil {
		t.Errorf("DraftDocument after extending: %v", err)
	}
	if err := dd.ExtendDraftDocument(ctx, "draft-1", instant(300), instant(100)); !isNotFound(err) {
		t.Errorf("ExtendDraftDocument of an expired letter: %v, want ErrNotFound", err)
	}
	n, err := dd.PruneDraftDocuments(ctx, instant(100))
	mustOK(t, "PruneDraftDocuments", err)
	if n != 1 {
		t.Errorf("PruneDraftDocuments deleted %d, want 1 (the expired one)", n)
	}
	if _, err := dd.DraftDocument(ctx, "draft-2", instant(100)); err != nil {
		t.Errorf("pruning deleted a live letter: %v", err)
	}
	n, err = dd.PruneDraftDocuments(ctx, instant(400))
	mustOK(t, "PruneDraftDocuments", err)
	if n != 1 {
		t.Errorf("PruneDraftDocuments after the last expiry deleted %d, want 1", n)
	}
}

func testDraftDocumentCap(t *testing.T, _ storage.Durable, dd storage.DraftDocuments) {
	ctx := t.Context()
	limit := storage.DraftDocumentCap{MaxCount: 2}
	mustOK(t, "PutDraftDocument a", dd.PutDraftDocument(ctx, newDraftDocument("a", 0, time.Hour), instant(0), limit))
	mustOK(t, "PutDraftDocument b", dd.PutDraftDocument(ctx, newDraftDocument("b", 0, 2*time.Hour), instant(0), limit))
	err := dd.PutDraftDocument(ctx, newDraftDocument("c", 1, time.Hour), instant(1), limit)
	checkErr(t, "PutDraftDocument over the count", err, storage.ErrLimitReached)
	if _, err := dd.DraftDocument(ctx, "c", instant(1)); !isNotFound(err) {
		t.Errorf("a refused letter was stored: %v", err)
	}
	// A draft replacing its own letter is not refused by a full cap.
	mustOK(t, "PutDraftDocument replacing b", dd.PutDraftDocument(ctx, newDraftDocument("b", 1, 2*time.Hour), instant(1), limit))
	// Once a expires its place is free: the insert prunes it first.
	mustOK(t, "PutDraftDocument c after a expired", dd.PutDraftDocument(ctx, newDraftDocument("c", 60, time.Hour), instant(60), limit))

	// The byte cap: the new letter's size counts.
	size := int64(len(newDraftDocument("x", 0, time.Hour).Data))
	err = dd.PutDraftDocument(ctx, newDraftDocument("y", 61, time.Hour), instant(61), storage.DraftDocumentCap{MaxBytes: 3*size - 1})
	checkErr(t, "PutDraftDocument over the bytes", err, storage.ErrLimitReached)
	mustOK(t, "PutDraftDocument up to the byte cap", dd.PutDraftDocument(ctx, newDraftDocument("y", 61, time.Hour),
		instant(61), storage.DraftDocumentCap{MaxBytes: 3 * size}))
}

func testDraftDocumentCapConcurrent(t *testing.T, _ storage.Durable, dd storage.DraftDocuments) {
	ctx := t.Context()
	const n, max = 8, 3
	limit := storage.DraftDocumentCap{MaxCount: max}
	errs := runConcurrently(n, func(i int) error {
		return dd.PutDraftDocument(ctx, newDraftDocument(fmt.Sprintf("draft-%d", i), 0, time.Hour), instant(0), limit)
	})
	var stored, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case errors.Is(err, storage.ErrLimitReached):
			refused++
		default:
			t.Errorf("concurrent PutDraftDocument: %v", err)
		}
	}
	if stored != max || refused != n-max {
		t.Errorf("%d stored, %d refused, want %d and %d", stored, refused, max, n-max)
	}
	var live int
	for i := range n {
		if _, err := dd.DraftDocument(ctx, fmt.Sprintf("draft-%d", i), instant(0)); err == nil {
			live++
		}
	}
	if live != max {
		t.Errorf("%d letters stored, want %d", live, max)
	}
}

func testRegistrationFromDraft(t *testing.T, s storage.Durable, dd storage.DraftDocuments) {
	ctx := t.Context()
	letter := newDraftDocument("draft-1", 0, time.Hour)
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, letter, instant(0), storage.DraftDocumentCap{}))
	g, doc := newRegistration("SP-1", "9120001234567", "Siti@Example.co.id", 5)
	doc.Data, doc.SHA256, doc.FileName = nil, letter.SHA256, "ignored.pdf"

	// A digest that is not the letter's: nothing is stored, the letter stays.
	wrong := doc
	wrong.SHA256 = "another"
	err := dd.CreateRegistrationFromDraft(ctx, g, wrong, "draft-1", instant(5))
	checkErr(t, "CreateRegistrationFromDraft with another digest", err, storage.ErrNotFound)
	if _, err := s.RegistrationByID(ctx, g.ID); !isNotFound(err) {
		t.Errorf("a refused submission stored its registration: %v", err)
	}
	// A taken service number: refused, and the letter is still the draft's.
	other, otherDoc := newRegistration("SP-1", "9120001234568", "lain@example.co.id", 1)
	mustCreateRegistration(t, s, other, otherDoc)
	err = dd.CreateRegistrationFromDraft(ctx, g, doc, "draft-1", instant(5))
	checkErr(t, "CreateRegistrationFromDraft with a taken service number", err, storage.ErrAlreadyExists)
	if _, err := dd.DraftDocument(ctx, "draft-1", instant(5)); err != nil {
		t.Errorf("a failed submission lost the draft's letter: %v", err)
	}

	g.ServiceNumber = "SP-2"
	mustOK(t, "CreateRegistrationFromDraft", dd.CreateRegistrationFromDraft(ctx, g, doc, "draft-1", instant(5)))
	got, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	g.DocumentID = doc.ID
	checkEqual(t, "registration from a draft", storedRegistration(g), got)
	stored, err := s.DocumentByID(ctx, doc.ID)
	mustOK(t, "DocumentByID", err)
	want := storage.Document{ID: doc.ID, RegistrationID: g.ID, FileName: letter.FileName,
		ContentType: letter.ContentType, SHA256: letter.SHA256, Data: letter.Data, CreatedAt: doc.CreatedAt}
	checkEqual(t, "document moved from the draft", want, stored)
	checkEvents(t, "events", []storage.RegistrationEvent{{RegistrationID: g.ID, Status: storage.StatusSubmitted, Time: g.SubmittedAt}}, mustEvents(t, s, g.ID))
	if _, err := dd.DraftDocument(ctx, "draft-1", instant(5)); !isNotFound(err) {
		t.Errorf("the draft's letter outlived the submission: %v", err)
	}

	// An expired letter cannot be submitted.
	mustOK(t, "PutDraftDocument", dd.PutDraftDocument(ctx, newDraftDocument("draft-2", 0, time.Hour), instant(0), storage.DraftDocumentCap{}))
	g3, doc3 := newRegistration("SP-3", "9120001234569", "tiga@example.co.id", 60)
	doc3.SHA256 = "sha-of-draft-2"
	err = dd.CreateRegistrationFromDraft(ctx, g3, doc3, "draft-2", instant(60))
	checkErr(t, "CreateRegistrationFromDraft with an expired letter", err, storage.ErrNotFound)
	if _, err := s.RegistrationByID(ctx, g3.ID); !isNotFound(err) {
		t.Errorf("a submission without a live letter stored its registration: %v", err)
	}
}
