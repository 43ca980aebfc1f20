package web

import (
	"context"
	"time"

	"satupintu/storage"
	"satupintu/templates"
)

// SettingsReader is the slice of storage the pages read the operators'
// settings from; cmd/satupintu hands it the node's cache (storage/cache),
// so a page costs no query.
type SettingsReader interface {
	Settings(ctx context.Context) (storage.Settings, error)
}

// Site is the templates.SiteSource of a running server: the stored
// settings in the page's language, the banner only while it is active.
type Site struct {
	Settings SettingsReader
	Now      func() time.Time // time.Now if nil
}

// Site returns the settings for a page in lang.
func (s *Site) Site(ctx context.Context, lang string) (*templates.Site, error) {
	st, err := s.Settings.Settings(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return SiteOf(st, lang, now()), nil
}

// SiteOf resolves st to lang (Indonesian where a text has no English) as
// the templates show it at now.
func SiteOf(st storage.Settings, lang string, now time.Time) *templates.Site {
	site := &templates.Site{
		Name:    st.ServiceName.In(lang),
		Email:   st.ContactEmail.In(lang),
		Phone:   st.ContactPhone.In(lang),
		Hours:   st.ContactHours.In(lang),
		Address: st.ContactAddress.In(lang),
		FAQ:     make([]templates.FAQ, len(st.FAQ)),
		Links:   make([]templates.Link, len(st.Links)),
	}
	for i, e := range st.FAQ {
		site.FAQ[i] = templates.FAQ{Question: e.Question.In(lang), Answer: e.Answer.In(lang)}
	}
	for i, l := range st.Links {
		site.Links[i] = templates.Link{Title: l.Title.In(lang), URL: l.URL, Kind: l.Kind}
	}
	if st.Banner.Active(now) {
		site.Banner = st.Banner.Text.In(lang)
	}
	return site
}
