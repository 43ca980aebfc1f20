package conformance

import (
	"errors"
	"slices"
	"testing"

	"satupintu/storage"
)

func deletionRequest(userID string, minutes int) storage.DeletionRequest {
	return storage.DeletionRequest{ID: storage.NewID(), UserID: userID, Status: storage.RequestPending,
		Reason: "tidak lagi berdagang", RequestedAt: instant(minutes)}
}

// testDeletionRequests: one pending request per person, decided once;
// approval leaves an account that names nobody and opens nothing, and
// keeps the audit log as it was.
func testDeletionRequests(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	budi, siti := fullUser(), storage.User{ID: storage.NewID(), Username: "siti", Email: "siti@contoh.co.id", Name: "Siti"}
	for _, u := range []storage.User{budi, siti} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	mustOK(t, "CreateClient", s.CreateClient(ctx, fullClient("insw")))
	mustOK(t, "LinkApp", s.LinkApp(ctx, appLink(budi.ID, "insw", "BUDI01", 0)))
	mustOK(t, "CreatePasskey", s.CreatePasskey(ctx, passkey(budi.ID, "Laptop", 0), 10))
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, refreshToken("rt-budi", "fam-budi", "insw", budi.ID, 0)))
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, refreshToken("rt-siti", "fam-siti", "insw", siti.ID, 0)))
	mustOK(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Time: instant(0), Action: "login.success", ActorID: budi.ID, Subject: budi.ID}))
	org := storage.Organization{ID: storage.NewID(), NIB: "9120000000099", Name: "PT Anonim", CreatedAt: instant(0)}
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, org))
	mustOK(t, "AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: org.ID, UserID: budi.ID, Role: storage.MemberStaff, CreatedAt: instant(0)}))

	if _, err := s.PendingDeletionRequest(ctx, budi.ID); !isNotFound(err) {
		t.Errorf("PendingDeletionRequest before any: %v, want ErrNotFound", err)
	}
	first := deletionRequest(budi.ID, 5)
	mustOK(t, "CreateDeletionRequest", s.CreateDeletionRequest(ctx, first))
	checkErr(t, "a second pending request", s.CreateDeletionRequest(ctx, deletionRequest(budi.ID, 6)), storage.ErrAlreadyExists)
	checkErr(t, "a request for a missing user", s.CreateDeletionRequest(ctx, deletionRequest("missing", 6)), storage.ErrNotFound)
	other := deletionRequest(siti.ID, 1)
	mustOK(t, "CreateDeletionRequest", s.CreateDeletionRequest(ctx, other))
	pending, err := s.ListDeletionRequests(ctx, storage.RequestPending, 10)
	mustOK(t, "ListDeletionRequests", err)
	checkEqual(t, "pending requests oldest first", []storage.DeletionRequest{other, first}, pending)
	got, err := s.PendingDeletionRequest(ctx, budi.ID)
	mustOK(t, "PendingDeletionRequest", err)
	checkEqual(t, "PendingDeletionRequest", first, got)

	// Rejected: the account stays as it was; a new request may follow.
	rejected, err := s.DecideDeletionRequest(ctx, other.ID, false, "officer-1", "masih ada pengajuan berjalan", instant(10))
	mustOK(t, "reject", err)
	if rejected.Status != storage.RequestRejected || rejected.DecidedBy != "officer-1" || !rejected.DecidedAt.Equal(instant(10)) {
		t.Errorf("rejected request: %+v", rejected)
	}
	if _, err := s.DecideDeletionRequest(ctx, other.ID, true, "officer-2", "", instant(11)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("deciding a decided request: %v, want ErrConflict", err)
	}
	if u, err := s.UserByID(ctx, siti.ID); err != nil || u.Name != "Siti" {
		t.Errorf("a rejected request changed the account: %+v, %v", u, err)
	}
	mustOK(t, "a new request after a rejection", s.CreateDeletionRequest(ctx, deletionRequest(siti.ID, 12)))

	// Approved: anonymized in the same step.
	approved, err := s.DecideDeletionRequest(ctx, first.ID, true, "officer-1", "", instant(20))
	mustOK(t, "approve", err)
	if approved.Status != storage.RequestApproved {
		t.Errorf("approved request: %+v", approved)
	}
	u, err := s.UserByID(ctx, budi.ID)
	mustOK(t, "UserByID after anonymizing", err)
	if u.Username != "deleted-"+budi.ID || u.Email != "" || u.Name != "" || u.Phone != "" || u.Position != "" ||
		u.PasswordHash != "" || !u.Disabled || len(u.Roles) != 0 || u.MFAEnrolled() || len(u.RecoveryCodes) != 0 || len(u.TOTPSecret) != 0 {
		t.Errorf("anonymized user still holds data: %+v", u)
	}
	for _, login := range []string{budi.Username, budi.Email} {
		if _, err := s.UserByLogin(ctx, login); !isNotFound(err) {
			t.Errorf("UserByLogin(%q) after anonymizing: %v, want ErrNotFound", login, err)
		}
	}
	if ms, _ := s.Members(ctx, org.ID); len(ms) != 0 {
		t.Errorf("the anonymized account is still a member: %+v", ms)
	}
	if u.OrganizationID != "" {
		t.Errorf("the anonymized account keeps organization %q", u.OrganizationID)
	}
	if ls, _ := s.AppLinksOf(ctx, budi.ID); len(ls) != 0 {
		t.Errorf("app links after anonymizing: %+v", ls)
	}
	if ps, _ := s.PasskeysOf(ctx, budi.ID); len(ps) != 0 {
		t.Errorf("passkeys after anonymizing: %+v", ps)
	}
	if _, err := s.RefreshTokenByID(ctx, "rt-budi"); !isNotFound(err) {
		t.Errorf("refresh token after anonymizing: %v, want ErrNotFound", err)
	}
	if _, err := s.RefreshTokenByID(ctx, "rt-siti"); err != nil {
		t.Errorf("another user's refresh token went too: %v", err)
	}
	if es, _ := s.AuditAbout(ctx, budi.ID, 10); len(es) != 1 || es[0].Action != "login.success" {
		t.Errorf("audit events about the user after anonymizing: %+v", es)
	}
}

func testAuditAbout(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	for i, e := range []storage.AuditEvent{
		{Action: "login.success", ActorID: "u1", Subject: "u1"},
		{Action: "registration.approve", ActorID: "officer", Subject: "u1"},
		{Action: "login.success", ActorID: "u2", Subject: "u2"},
		{Action: "client.create", ActorID: "u1", Subject: "insw"},
	} {
		e.Time = instant(i)
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, e))
	}
	es, err := s.AuditAbout(ctx, "u1", 10)
	mustOK(t, "AuditAbout", err)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	if want := []string{"client.create", "registration.approve", "login.success"}; !slices.Equal(actions, want) {
		t.Errorf("AuditAbout(u1) = %v, want %v (actor or subject, newest first)", actions, want)
	}
	if es, _ := s.AuditAbout(ctx, "u1", 2); len(es) != 2 {
		t.Errorf("AuditAbout with limit 2 returned %d", len(es))
	}
}

func testRegistrationsOf(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	mine, doc := newRegistration("SP-1", "9120000000001", "Siti@Contoh.co.id", 0)
	mustCreateRegistration(t, s, mine, doc)
	other, doc2 := newRegistration("SP-2", "9120000000002", "budi@contoh.co.id", 1)
	mustCreateRegistration(t, s, other, doc2)
	got, err := s.RegistrationsOf(ctx, "", "siti@contoh.co.id")
	mustOK(t, "RegistrationsOf by email", err)
	if len(got) != 1 || got[0].ID != mine.ID {
		t.Errorf("RegistrationsOf by email = %+v", got)
	}
	if got, _ := s.RegistrationsOf(ctx, "", ""); len(got) != 0 {
		t.Errorf("RegistrationsOf nobody = %d registrations, want none", len(got))
	}
}

// testPruneRegistrations: closed registrations past the period go whole,
// approved ones lose their documents only, everything else stays.
func testPruneRegistrations(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	mk := func(number string, status storage.RegistrationStatus, minutes int) storage.Registration {
		g, doc := newRegistration(number, "91200000000"+number[len(number)-2:], number+"@contoh.co.id", 0)
		mustCreateRegistration(t, s, g, doc)
		if status != storage.StatusSubmitted {
			setStatus(t, s, g.ID, storage.StatusInReview, minutes)
			setStatus(t, s, g.ID, status, minutes)
		}
		return g
	}
	oldRejected := mk("SP-01", storage.StatusRejected, 10)
	oldAbandoned := mk("SP-02", storage.StatusRevisionRequested, 10)
	newRejected := mk("SP-03", storage.StatusRejected, 100)
	open := mk("SP-04", storage.StatusSubmitted, 0)
	oldApproved := mk("SP-05", storage.StatusInReview, 10)
	mustOK(t, "approve", s.UpdateRegistration(ctx, oldApproved.ID, func(g *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
		g.Status, g.UpdatedAt = storage.StatusApproved, instant(10)
		return storage.RegistrationEvent{Status: storage.StatusApproved}, nil, nil
	}))

	res, err := s.PruneRegistrations(ctx, instant(50), instant(50))
	mustOK(t, "PruneRegistrations", err)
	slices.Sort(res.Registrations)
	if !slices.Equal(res.Registrations, []string{"SP-01", "SP-02"}) || res.Documents != 1 {
		t.Errorf("PruneRegistrations = %+v, want SP-01 and SP-02 deleted and 1 document", res)
	}
	for _, g := range []storage.Registration{oldRejected, oldAbandoned} {
		if _, err := s.RegistrationByID(ctx, g.ID); !isNotFound(err) {
			t.Errorf("%s still there: %v", g.ServiceNumber, err)
		}
		if _, err := s.DocumentByID(ctx, g.DocumentID); !isNotFound(err) {
			t.Errorf("the document of %s still there: %v", g.ServiceNumber, err)
		}
		if es, _ := s.RegistrationEvents(ctx, g.ID); len(es) != 0 {
			t.Errorf("the history of %s still there: %d events", g.ServiceNumber, len(es))
		}
	}
	for _, g := range []storage.Registration{newRejected, open} {
		if _, err := s.DocumentByID(ctx, g.DocumentID); err != nil {
			t.Errorf("%s lost its document: %v", g.ServiceNumber, err)
		}
	}
	kept, err := s.RegistrationByID(ctx, oldApproved.ID)
	mustOK(t, "approved registration kept", err)
	if kept.DocumentID != "" {
		t.Errorf("approved registration still names document %q", kept.DocumentID)
	}
	if _, err := s.DocumentByID(ctx, oldApproved.DocumentID); !isNotFound(err) {
		t.Errorf("approved registration's old document still there: %v", err)
	}
	// Nothing left to prune: a second run deletes nothing.
	if res, err := s.PruneRegistrations(ctx, instant(50), instant(50)); err != nil || len(res.Registrations) != 0 || res.Documents != 0 {
		t.Errorf("second run: %+v, %v", res, err)
	}
}

// testUserGrants: the live grants of a user per client, and withdrawing
// one client's, which leaves the others alone.
func testUserGrants(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	live := refreshToken("rt-1", "fam-1", "insw", "u1", 0)
	other := refreshToken("rt-2", "fam-2", "ebpom", "u1", 1)
	expired := refreshToken("rt-3", "fam-3", "insw", "u1", 2)
	expired.ExpiresAt = instant(5)
	someoneElse := refreshToken("rt-4", "fam-4", "insw", "u2", 3)
	for _, rt := range []storage.RefreshToken{live, other, expired, someoneElse} {
		mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	rotated := refreshToken("rt-5", "fam-1", "insw", "u1", 4)
	mustOK(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, live.ID, rotated))
	got, err := s.UserRefreshTokens(ctx, "u1", instant(10))
	mustOK(t, "UserRefreshTokens", err)
	var ids []string
	for _, rt := range got {
		ids = append(ids, rt.ID)
	}
	if want := []string{"rt-2", "rt-5"}; !slices.Equal(ids, want) {
		t.Errorf("UserRefreshTokens = %v, want %v (unused, unexpired, oldest first)", ids, want)
	}
	families, err := s.RevokeUserClientRefreshTokens(ctx, "u1", "insw")
	mustOK(t, "RevokeUserClientRefreshTokens", err)
	slices.Sort(families)
	if want := []string{"fam-1", "fam-3"}; !slices.Equal(families, want) {
		t.Errorf("revoked families %v, want %v", families, want)
	}
	for _, id := range []string{"rt-1", "rt-3", "rt-5"} {
		if _, err := s.RefreshTokenByID(ctx, id); !isNotFound(err) {
			t.Errorf("%s survived the withdrawal: %v", id, err)
		}
	}
	for _, id := range []string{"rt-2", "rt-4"} {
		if _, err := s.RefreshTokenByID(ctx, id); err != nil {
			t.Errorf("%s (another client or user) went too: %v", id, err)
		}
	}
}

// testCorrectionRequests: one pending correction per company; approval
// writes the name and address in the decision's transaction, rejection
// changes nothing.
func testCorrectionRequests(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	admin := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, admin))
	org := storage.Organization{ID: storage.NewID(), NIB: "9120000000077", NPWP: "012345678901000", Name: "PT Salah Ketik",
		Address: storage.Address{Street: "Jl. Lama 1", City: "Jakarta", Country: "ID"}, CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, org))
	fix := storage.CorrectionRequest{ID: storage.NewID(), OrganizationID: org.ID, UserID: admin.ID, Status: storage.RequestPending,
		Name: "PT Salah Ketik Benar", Address: storage.Address{Street: "Jl. Baru 2", City: "Jakarta Utara", PostalCode: "14310", Country: "ID"},
		Reason: "salah ketik", RequestedAt: instant(5)}
	mustOK(t, "CreateCorrectionRequest", s.CreateCorrectionRequest(ctx, fix))
	again := fix
	again.ID = storage.NewID()
	checkErr(t, "a second pending correction", s.CreateCorrectionRequest(ctx, again), storage.ErrAlreadyExists)
	missing := fix
	missing.ID, missing.OrganizationID = storage.NewID(), "missing"
	checkErr(t, "a correction of a missing organization", s.CreateCorrectionRequest(ctx, missing), storage.ErrNotFound)
	got, err := s.PendingCorrectionRequest(ctx, org.ID)
	mustOK(t, "PendingCorrectionRequest", err)
	checkEqual(t, "PendingCorrectionRequest", fix, got)
	list, err := s.ListCorrectionRequests(ctx, storage.RequestPending, 10)
	mustOK(t, "ListCorrectionRequests", err)
	checkEqual(t, "pending corrections", []storage.CorrectionRequest{fix}, list)

	decided, err := s.DecideCorrectionRequest(ctx, fix.ID, true, "officer-1", "", instant(10))
	mustOK(t, "approve correction", err)
	if decided.Status != storage.RequestApproved || decided.DecidedBy != "officer-1" {
		t.Errorf("approved correction: %+v", decided)
	}
	o, err := s.OrganizationByID(ctx, org.ID)
	mustOK(t, "OrganizationByID", err)
	if o.Name != fix.Name || o.Address != fix.Address || o.NIB != org.NIB || o.NPWP != org.NPWP || !o.UpdatedAt.Equal(instant(10)) {
		t.Errorf("organization after the correction: %+v", o)
	}
	if _, err := s.DecideCorrectionRequest(ctx, fix.ID, false, "officer-2", "x", instant(11)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("deciding twice: %v, want ErrConflict", err)
	}

	// Rejected: the organization keeps what it had.
	second := fix
	second.ID, second.Name = storage.NewID(), "PT Lain Sama Sekali"
	mustOK(t, "CreateCorrectionRequest after a decision", s.CreateCorrectionRequest(ctx, second))
	_, err = s.DecideCorrectionRequest(ctx, second.ID, false, "officer-1", "nama tidak sesuai akta", instant(12))
	mustOK(t, "reject correction", err)
	if o, _ := s.OrganizationByID(ctx, org.ID); o.Name != fix.Name {
		t.Errorf("a rejected correction changed the name to %q", o.Name)
	}
}
