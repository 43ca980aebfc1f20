package conformance

import (
	"errors"
	"testing"

	"satupintu/storage"
)

func upstreamLink(upstreamID, subject, userID string, minutes int) storage.UpstreamLink {
	return storage.UpstreamLink{UpstreamID: upstreamID, Subject: subject, UserID: userID,
		CreatedAt: instant(minutes), LastUsedAt: instant(minutes)}
}

func testUpstreamLinks(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	budi, siti := fullUser(), storage.User{ID: storage.NewID(), Username: "siti"}
	for _, u := range []storage.User{budi, siti} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	if got, err := s.UpstreamLink(ctx, "inapas", "sub-1"); !isNotFound(err) {
		t.Errorf("UpstreamLink before linking: got (%+v, %v), want ErrNotFound", got, err)
	}
	got, err := s.UpstreamLinksOf(ctx, budi.ID)
	mustOK(t, "UpstreamLinksOf before linking", err)
	if len(got) != 0 {
		t.Errorf("UpstreamLinksOf before linking = %+v, want none", got)
	}

	// Created out of order: the list is ordered by upstream, then subject.
	inapas, other := upstreamLink("inapas", "sub-1", budi.ID, 0), upstreamLink("bank", "b-9", budi.ID, 1)
	// The same subject at another upstream is another identity.
	sitiInapas := upstreamLink("bank", "sub-1", siti.ID, 2)
	for _, l := range []storage.UpstreamLink{inapas, other, sitiInapas} {
		mustOK(t, "CreateUpstreamLink", s.CreateUpstreamLink(ctx, l))
	}
	one, err := s.UpstreamLink(ctx, "inapas", "sub-1")
	mustOK(t, "UpstreamLink", err)
	checkEqual(t, "UpstreamLink", inapas, one)
	checkUTC(t, "UpstreamLink", one)
	got, err = s.UpstreamLinksOf(ctx, budi.ID)
	mustOK(t, "UpstreamLinksOf", err)
	checkEqual(t, "UpstreamLinksOf", []storage.UpstreamLink{other, inapas}, got)
	checkUTC(t, "UpstreamLinksOf", got)

	// One upstream identity is one user: a second link, to anyone, fails.
	checkErr(t, "CreateUpstreamLink of a linked identity", s.CreateUpstreamLink(ctx, upstreamLink("inapas", "sub-1", siti.ID, 3)), storage.ErrAlreadyExists)
	checkErr(t, "CreateUpstreamLink for a missing user", s.CreateUpstreamLink(ctx, upstreamLink("inapas", "sub-2", "missing", 3)), storage.ErrNotFound)
	if _, err := s.UpstreamLink(ctx, "inapas", "sub-2"); !isNotFound(err) {
		t.Errorf("a refused link was stored: %v", err)
	}
	// Concurrent links of one identity: exactly one wins.
	third := storage.User{ID: storage.NewID(), Username: "third"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, third))
	errs := runConcurrently(8, func(i int) error {
		u := third.ID
		if i%2 == 1 {
			u = siti.ID
		}
		return s.CreateUpstreamLink(ctx, upstreamLink("race", "r", u, i))
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !isAlreadyExists(err):
			t.Errorf("concurrent CreateUpstreamLink: %v, want nil or ErrAlreadyExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent links of one identity succeeded, want 1", won)
	}

	// Touch records the last use.
	mustOK(t, "TouchUpstreamLink", s.TouchUpstreamLink(ctx, "inapas", "sub-1", instant(30)))
	one, err = s.UpstreamLink(ctx, "inapas", "sub-1")
	mustOK(t, "UpstreamLink after touch", err)
	inapas.LastUsedAt = instant(30)
	checkEqual(t, "touched link", inapas, one)
	checkErr(t, "TouchUpstreamLink of a missing link", s.TouchUpstreamLink(ctx, "inapas", "nobody", instant(30)), storage.ErrNotFound)

	// Only the owner's delete removes a link; deleting is idempotent.
	mustOK(t, "DeleteUpstreamLink by another user", s.DeleteUpstreamLink(ctx, siti.ID, "inapas", "sub-1"))
	if _, err := s.UpstreamLink(ctx, "inapas", "sub-1"); err != nil {
		t.Errorf("another user's delete removed the link: %v", err)
	}
	mustOK(t, "DeleteUpstreamLink", s.DeleteUpstreamLink(ctx, budi.ID, "inapas", "sub-1"))
	if _, err := s.UpstreamLink(ctx, "inapas", "sub-1"); !isNotFound(err) {
		t.Errorf("UpstreamLink after delete: %v, want ErrNotFound", err)
	}
	mustOK(t, "DeleteUpstreamLink twice", s.DeleteUpstreamLink(ctx, budi.ID, "inapas", "sub-1"))
	got, err = s.UpstreamLinksOf(ctx, budi.ID)
	mustOK(t, "UpstreamLinksOf after delete", err)
	checkEqual(t, "UpstreamLinksOf after delete", []storage.UpstreamLink{other}, got)
	// Unlinked, the identity may be linked again.
	mustOK(t, "CreateUpstreamLink after delete", s.CreateUpstreamLink(ctx, upstreamLink("inapas", "sub-1", siti.ID, 40)))
}

// An approved registration that an upstream identity started links the new
// user to it, in the approval's transaction; a link made meanwhile stays.
func testApproveLinksUpstream(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	g, doc := newRegistration("SP-U1", "9120001234567", "siti@example.co.id", 0)
	g.UpstreamID, g.UpstreamSubject, g.VerifiedBy = "inapas", "sub-siti", "INApas"
	mustCreateRegistration(t, s, g, doc)
	read, err := s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID", err)
	if read.UpstreamID != "inapas" || read.UpstreamSubject != "sub-siti" || read.VerifiedBy != "INApas" {
		t.Errorf("upstream fields of the registration: %+v", read)
	}
	setStatus(t, s, g.ID, storage.StatusInReview, 10)
	read, err = s.RegistrationByID(ctx, g.ID)
	mustOK(t, "RegistrationByID after update", err)
	if read.VerifiedBy != "INApas" {
		t.Errorf("an update lost VerifiedBy: %+v", read)
	}
	org, user, token, ev := approval("", g.NIB, "siti")
	mustOK(t, "ApproveRegistration", s.ApproveRegistration(ctx, g.ID, org, user, token, ev))
	l, err := s.UpstreamLink(ctx, "inapas", "sub-siti")
	mustOK(t, "UpstreamLink after approval", err)
	if l.UserID != user.ID || !l.CreatedAt.Equal(ev.Time) {
		t.Errorf("link after approval = %+v, want user %s at %v", l, user.ID, ev.Time)
	}

	// The identity got linked to someone else before the approval: the
	// approval still succeeds and the earlier link stays.
	other := storage.User{ID: storage.NewID(), Username: "other"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, other))
	mustOK(t, "CreateUpstreamLink", s.CreateUpstreamLink(ctx, upstreamLink("inapas", "sub-two", other.ID, 1)))
	g2, doc2 := newRegistration("SP-U2", "9120007654321", "two@example.co.id", 1)
	g2.UpstreamID, g2.UpstreamSubject = "inapas", "sub-two"
	mustCreateRegistration(t, s, g2, doc2)
	setStatus(t, s, g2.ID, storage.StatusInReview, 11)
	org2, user2, token2, ev2 := approval("2", g2.NIB, "two")
	mustOK(t, "ApproveRegistration of an identity linked meanwhile", s.ApproveRegistration(ctx, g2.ID, org2, user2, token2, ev2))
	l, err = s.UpstreamLink(ctx, "inapas", "sub-two")
	mustOK(t, "UpstreamLink", err)
	if l.UserID != other.ID {
		t.Errorf("approval replaced an existing link: %+v", l)
	}
}

func isAlreadyExists(err error) bool { return errors.Is(err, storage.ErrAlreadyExists) }
