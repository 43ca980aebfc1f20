package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
)

// SettingsStore is the service's settings in the database.
type SettingsStore interface {
	Settings(ctx context.Context) (storage.Settings, error)
	UpdateSettings(ctx context.Context, fn func(*storage.Settings) error) error
}

// Settings returns the current settings.
func (s *Service) Settings(ctx context.Context) (storage.Settings, error) {
	st, err := s.SettingsStore.Settings(ctx)
	if err != nil {
		return st, fmt.Errorf("admin: read settings: %w", err)
	}
	return st, nil
}

// UpdateSettings stores next if the stored settings are still at version
// (the one the editor showed): ErrConflict otherwise, so no edit silently
// undoes another. Invalid settings come back as the store's
// *storage.SettingsError, naming each field.
func (s *Service) UpdateSettings(ctx context.Context, a Actor, version int64, next storage.Settings) error {
	e := s.event(a, "settings.update", "settings", nil)
	err := s.SettingsStore.UpdateSettings(storage.WithAudit(ctx, e), func(cur *storage.Settings) error {
		if cur.Version != version {
			return storage.ErrConflict
		}
		next.Version = cur.Version
		next.UpdatedAt, next.UpdatedBy = s.now(), a.id()
		*cur = next
		return nil
	})
	return notFound(err)
}

// settingsPage is the data of "admin_settings".
type settingsPage struct {
	Nav         []navItem
	Notice      string
	S           storage.Settings
	FAQ         []storage.FAQEntry // the stored ones and one empty row to add
	Links       []storage.HelpLink
	BannerUntil string
	Problems    []storage.SettingsProblem
	ErrorKey    string
}

func (c *Console) settingsPage(st storage.Settings) settingsPage {
	p := settingsPage{Nav: nav("/admin/settings"), S: st,
		FAQ: append(st.Clone().FAQ, storage.FAQEntry{}), Links: append(st.Clone().Links, storage.HelpLink{Kind: storage.LinkGuide})}
	if !st.Banner.Until.IsZero() {
		p.BannerUntil = st.Banner.Until.In(wib).Format("2006-01-02T15:04")
	}
	return p
}

func (c *Console) showSettings(w http.ResponseWriter, r *http.Request, op operator) error {
	st, err := c.Service.Settings(r.Context())
	if err != nil {
		return err
	}
	p := c.settingsPage(st)
	p.Notice = noticeOf(r)
	return c.render.Render(w, r, http.StatusOK, "admin_settings", p)
}

// settingsForm reads the settings form; rows whose fields are all empty
// are dropped (that is how an entry is removed).
func settingsForm(r *http.Request) (storage.Settings, int64, error) {
	f := r.PostForm
	text := func(name string) storage.Text {
		return storage.Text{ID: strings.TrimSpace(f.Get(name + "_id")), EN: strings.TrimSpace(f.Get(name + "_en"))}
	}
	version, err := strconv.ParseInt(f.Get("version"), 10, 64)
	if err != nil {
		return storage.Settings{}, 0, invalid("the form is incomplete; reload it")
	}
	s := storage.Settings{ServiceName: text("service_name"), ContactEmail: text("contact_email"),
		ContactPhone: text("contact_phone"), ContactHours: text("contact_hours"), ContactAddress: text("contact_address"),
		Banner: storage.Banner{Text: text("banner"), On: f.Get("banner_on") == "yes"}}
	if u := f.Get("banner_until"); u != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", u, wib)
		if err != nil {
			return s, version, invalid("the banner's end is not a date and time")
		}
		s.Banner.Until = t.UTC()
	}
	// At most one row more than the store allows: validation reports it.
	for i := range storage.MaxSettingsFAQ + 1 {
		e := storage.FAQEntry{Question: text(fmt.Sprintf("faq_%d_q", i)), Answer: text(fmt.Sprintf("faq_%d_a", i))}
		if e != (storage.FAQEntry{}) {
			s.FAQ = append(s.FAQ, e)
		}
	}
	for i := range storage.MaxSettingsLinks + 1 {
		l := storage.HelpLink{Title: text(fmt.Sprintf("link_%d_title", i)), URL: strings.TrimSpace(f.Get(fmt.Sprintf("link_%d_url", i))),
			Kind: f.Get(fmt.Sprintf("link_%d_kind", i))}
		if l.Title != (storage.Text{}) || l.URL != "" {
			s.Links = append(s.Links, l)
		}
	}
	return s, version, nil
}

func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, op operator) error {
	next, version, err := settingsForm(r)
	if err == nil {
		err = c.Service.UpdateSettings(r.Context(), op.Actor, version, next)
	}
	if err == nil {
		return done(w, r, "/admin/settings", "saved")
	}
	p := c.settingsPage(next)
	p.S.Version = version
	var se *storage.SettingsError
	var pr *Problem
	switch {
	case errors.As(err, &se):
		p.Problems, p.ErrorKey = se.Problems, "admin.error.invalid"
	case errors.Is(err, ErrConflict):
		p.ErrorKey = ErrConflict.Key
		return c.render.Render(w, r, http.StatusConflict, "admin_settings", p)
	case errors.As(err, &pr) && pr.Status == http.StatusUnprocessableEntity:
		p.ErrorKey = pr.Key
	default:
		return err
	}
	return c.render.Render(w, r, http.StatusUnprocessableEntity, "admin_settings", p)
}
