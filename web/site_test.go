package web

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

type settingsFunc func(context.Context) (storage.Settings, error)

func (f settingsFunc) Settings(ctx context.Context) (storage.Settings, error) { return f(ctx) }

// A page renders with the stored settings; when they cannot be read (the
// database is away) it renders with the defaults rather than failing, and
// the log says why.
func TestRendererShowsSettings(t *testing.T) {
	var logs bytes.Buffer
	rn := newRenderer(t, &logs)
	st := storage.DefaultSettings()
	st.ServiceName = storage.Text{ID: "Satu Pintu", EN: "One Door"}
	var fail error
	rn.Pages.UseSite(&Site{Settings: settingsFunc(func(context.Context) (storage.Settings, error) { return st, fail }),
		Now: func() time.Time { return time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC) }})
	render := func(lang string) string {
		rec := httptest.NewRecorder()
		if err := rn.Render(rec, httptest.NewRequest("GET", "/contact?lang="+lang, nil), 200, "contact", map[string]any{"SignedIn": false}); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	if body := render("en"); !strings.Contains(body, "· One Door</title>") {
		t.Errorf("English page lacks the stored name:\n%s", body)
	}
	if body := render("id"); !strings.Contains(body, "· Satu Pintu</title>") {
		t.Errorf("Indonesian page lacks the stored name")
	}
	fail = storage.ErrUnavailable
	if body := render("id"); !strings.Contains(body, "· satupintu</title>") || !strings.Contains(logs.String(), "read settings") {
		t.Errorf("unreadable settings: want the default name and a log line; log:\n%s", logs.String())
	}
}
