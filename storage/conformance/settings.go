package conformance

import (
	"errors"
	"fmt"
	"testing"

	"satupintu/storage"
)

func testSettings(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	got, err := s.Settings(ctx)
	mustOK(t, "settings never stored", err)
	checkEqual(t, "settings never stored", storage.DefaultSettings(), got)

	// An updater's error aborts the update and comes back as it was.
	err = s.UpdateSettings(ctx, func(st *storage.Settings) error {
		st.ServiceName.ID = "lost"
		return errFn
	})
	checkErr(t, "refused update", err, errFn)

	// Invalid settings are refused with every problem named.
	err = s.UpdateSettings(ctx, func(st *storage.Settings) error {
		st.ContactEmail.EN = "not an address"
		st.Links = append(st.Links, storage.HelpLink{Title: storage.Text{ID: "x"}, URL: "javascript:alert(1)", Kind: storage.LinkVideo})
		return nil
	})
	var invalid *storage.SettingsError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 2 || !errors.Is(err, storage.ErrInvalidSettings) {
		t.Errorf("invalid update: %v, want two problems", err)
	}
	got, err = s.Settings(ctx)
	mustOK(t, "settings after refused updates", err)
	checkEqual(t, "settings after refused updates", storage.DefaultSettings(), got)

	want := storage.DefaultSettings()
	want.Version = 1
	want.UpdatedAt = instant(0).UTC()
	want.UpdatedBy = "admin-1"
	want.ServiceName = storage.Text{ID: "Satu Pintu", EN: "One Door"}
	want.ContactEmail = storage.Text{ID: "bantuan@insw.go.id"}
	want.FAQ = []storage.FAQEntry{{Question: storage.Text{ID: "Apa?", EN: "What?"}, Answer: storage.Text{ID: "Itu.\nDua baris."}}}
	want.Links = []storage.HelpLink{{Title: storage.Text{ID: "Video", EN: "Video"}, URL: "https://video.example/watch?v=1", Kind: storage.LinkVideo}}
	want.Banner = storage.Banner{Text: storage.Text{ID: "Pemeliharaan malam ini", EN: "Maintenance tonight"}, On: true, Until: instant(60)}
	err = s.UpdateSettings(ctx, func(st *storage.Settings) error {
		if st.Version != 0 {
			return fmt.Errorf("updater saw version %d, want 0", st.Version)
		}
		v := want
		v.Version = 99 // the store numbers the versions, not the caller
		v.UpdatedAt = instant(0)
		*st = v
		return nil
	})
	mustOK(t, "update settings", err)
	got, err = s.Settings(ctx)
	mustOK(t, "stored settings", err)
	checkEqual(t, "stored settings", want, got)
	checkUTC(t, "stored settings", got)

	// Every update is the next version; an editor that saw an older one
	// refuses in its updater.
	mustOK(t, "second update", s.UpdateSettings(ctx, func(st *storage.Settings) error {
		st.Banner.On = false
		return nil
	}))
	err = s.UpdateSettings(ctx, func(st *storage.Settings) error {
		if st.Version != 1 {
			return storage.ErrConflict
		}
		return nil
	})
	checkErr(t, "update from a stale form", err, storage.ErrConflict)
	got, err = s.Settings(ctx)
	mustOK(t, "settings after two updates", err)
	if got.Version != 2 || got.Banner.On || got.ServiceName.EN != "One Door" {
		t.Errorf("after two updates: version %d, banner on %v, name %q", got.Version, got.Banner.On, got.ServiceName.EN)
	}
}

func testSettingsConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	const n = 8
	errs := runConcurrently(n, func(i int) error {
		return s.UpdateSettings(ctx, func(st *storage.Settings) error {
			st.FAQ = append(st.FAQ, storage.FAQEntry{Question: storage.Text{ID: fmt.Sprintf("q%d", i)}, Answer: storage.Text{ID: "a"}})
			return nil
		})
	})
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("update %d", i), err)
	}
	got, err := s.Settings(ctx)
	mustOK(t, "settings", err)
	if want := len(storage.DefaultSettings().FAQ) + n; len(got.FAQ) != want || got.Version != n {
		t.Errorf("after %d concurrent updates: %d questions at version %d, want %d at version %d", n, len(got.FAQ), got.Version, want, n)
	}
}
