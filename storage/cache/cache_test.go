package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/storage"
	"satupintu/storage/cache"
	"satupintu/storage/conformance"
	"satupintu/storage/storagetest"
)

// counting is a durable store that counts the reads the cache saves and
// can run a function in the middle of a user read (a concurrent write).
type counting struct {
	storage.Durable
	userReads, choiceReads atomic.Int32
	during                 func()
}

func (c *counting) UserByID(ctx context.Context, id string) (storage.User, error) {
	c.userReads.Add(1)
	u, err := c.Durable.UserByID(ctx, id)
	if c.during != nil {
		c.during()
	}
	return u, err
}

func (c *counting) ChosenOrganization(ctx context.Context, userID, clientID string) (string, error) {
	c.choiceReads.Add(1)
	return c.Durable.ChosenOrganization(ctx, userID, clientID)
}

func setup(t *testing.T) (*cache.Store, *counting, *conformance.Clock, storage.User) {
	t.Helper()
	clk := conformance.NewClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	_, dur := storagetest.Embedded(t, clk.Now)
	u := storage.User{ID: "u1", Username: "budi", Email: "budi@example.co.id", Name: "Budi", Roles: []string{"trader"}, CreatedAt: clk.Now()}
	if err := dur.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	c := &counting{Durable: dur}
	return cache.New(c, time.Minute, clk.Now), c, clk, u
}

func TestReadsAreCachedUntilInvalidated(t *testing.T) {
	s, c, _, u := setup(t)
	ctx := t.Context()
	for range 3 {
		got, err := s.UserByID(ctx, u.ID)
		if err != nil || got.Name != "Budi" {
			t.Fatalf("UserByID = %+v, %v", got, err)
		}
	}
	if n := c.userReads.Load(); n != 1 {
		t.Errorf("3 reads reached the store %d times, want 1", n)
	}
	if err := s.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Name = "Budi Santoso"; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Invalidate("u:" + u.ID) // what the store's change report does
	got, _ := s.UserByID(ctx, u.ID)
	if got.Name != "Budi Santoso" || c.userReads.Load() != 2 {
		t.Errorf("after invalidation: name %q after %d reads, want the new name from a second read", got.Name, c.userReads.Load())
	}
	// Another owner's invalidation leaves the entry.
	s.Invalidate("u:someone-else", "o:org-1")
	s.UserByID(ctx, u.ID)
	if n := c.userReads.Load(); n != 2 {
		t.Errorf("an unrelated invalidation cost a read: %d reads, want 2", n)
	}
}

func TestEntriesExpire(t *testing.T) {
	s, c, clk, u := setup(t)
	s.UserByID(t.Context(), u.ID)
	clk.Advance(59 * time.Second)
	s.UserByID(t.Context(), u.ID)
	if n := c.userReads.Load(); n != 1 {
		t.Fatalf("read within the TTL reached the store: %d reads", n)
	}
	clk.Advance(2 * time.Second)
	s.UserByID(t.Context(), u.ID)
	if n := c.userReads.Load(); n != 2 {
		t.Errorf("read after the TTL: %d reads, want 2", n)
	}
}

func TestFlushDropsEverything(t *testing.T) {
	s, c, _, u := setup(t)
	s.UserByID(t.Context(), u.ID)
	s.Flush()
	s.UserByID(t.Context(), u.ID)
	if n := c.userReads.Load(); n != 2 {
		t.Errorf("read after Flush: %d reads, want 2", n)
	}
}

// A read that started before a write and ended after its invalidation
// must not be kept: the next read would otherwise see the old record for
// the whole TTL.
func TestReadRacingAnInvalidationIsNotKept(t *testing.T) {
	s, c, _, u := setup(t)
	ctx := t.Context()
	c.during = func() {
		c.during = nil
		if err := c.Durable.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
			t.Error(err)
		}
		s.Invalidate("u:" + u.ID)
	}
	old, _ := s.UserByID(ctx, u.ID) // read before the write landed
	if old.Disabled {
		t.Fatal("the racing read already saw the write; the test does not race")
	}
	got, _ := s.UserByID(ctx, u.ID)
	if !got.Disabled {
		t.Error("the read that raced an invalidation was kept: a disabled user looks enabled")
	}
}

func TestNotFoundIsAnAnswerOnlyWhereItIsOne(t *testing.T) {
	s, c, _, u := setup(t)
	ctx := t.Context()
	for range 2 {
		if _, err := s.ChosenOrganization(ctx, u.ID, "ebpom"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ChosenOrganization without a choice = %v, want ErrNotFound", err)
		}
	}
	if n := c.choiceReads.Load(); n != 1 {
		t.Errorf("\"no choice\" read %d times, want once", n)
	}
	// A missing user is not kept: it may be created on another node.
	for range 2 {
		if _, err := s.UserByID(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UserByID of nobody = %v", err)
		}
	}
	if n := c.userReads.Load(); n != 2 {
		t.Errorf("missing user read %d times, want 2 (not cached)", n)
	}
}

func TestCallersGetTheirOwnSlices(t *testing.T) {
	s, _, _, u := setup(t)
	a, _ := s.UserByID(t.Context(), u.ID)
	a.Roles[0] = "officer"
	b, _ := s.UserByID(t.Context(), u.ID)
	if b.Roles[0] != "trader" {
		t.Errorf("a caller's change reached the cache: roles %q", b.Roles)
	}
}

// settingsCounting counts the settings reads that reach the store.
type settingsCounting struct {
	storage.Durable
	reads atomic.Int32
}

func (c *settingsCounting) Settings(ctx context.Context) (storage.Settings, error) {
	c.reads.Add(1)
	return c.Durable.Settings(ctx)
}

// Every page reads the settings: a hit must not reach the store, and an
// edit reported by the store (OnChange, as cmd/satupintu wires it) shows
// at once.
func TestSettingsCachedUntilChanged(t *testing.T) {
	clk := conformance.NewClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	_, dur := storagetest.Embedded(t, clk.Now)
	c := &settingsCounting{Durable: dur}
	s := cache.New(c, time.Minute, clk.Now)
	dur.OnChange(func(_ context.Context, owners []string) { s.Invalidate(owners...) })
	ctx := t.Context()
	for range 3 {
		got, err := s.Settings(ctx)
		if err != nil || got.ServiceName.ID != "satupintu" {
			t.Fatalf("Settings = %+v, %v", got.ServiceName, err)
		}
		got.FAQ[0].Question.ID = "changed by a caller" // the cache's copy stays
	}
	if n := c.reads.Load(); n != 1 {
		t.Errorf("3 reads reached the store %d times, want 1", n)
	}
	if err := s.UpdateSettings(ctx, func(st *storage.Settings) error { st.ServiceName.ID = "Satu Pintu"; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Settings(ctx)
	if err != nil || got.ServiceName.ID != "Satu Pintu" || got.FAQ[0].Question.ID == "changed by a caller" {
		t.Errorf("after the edit: %q, first question %q, %v", got.ServiceName.ID, got.FAQ[0].Question.ID, err)
	}
	if n := c.reads.Load(); n != 2 {
		t.Errorf("reads after the edit: %d, want 2", n)
	}
}
