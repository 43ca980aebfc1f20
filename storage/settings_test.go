package storage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

func TestDefaultSettingsAreValid(t *testing.T) {
	if err := storage.ValidateSettings(storage.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
}

func TestValidateSettings(t *testing.T) {
	tests := []struct {
		name   string
		change func(*storage.Settings)
		field  string // "" means valid
		key    string
	}{
		{"English may be empty", func(s *storage.Settings) { s.ContactHours.EN = "" }, "", ""},
		{"a site path is a link", func(s *storage.Settings) { s.Links[0].URL = "/static/guide.pdf" }, "", ""},
		{"an https video is a link", func(s *storage.Settings) {
			s.Links[0] = storage.HelpLink{Title: storage.Text{ID: "Video"}, URL: "https://video.example/v?x=1", Kind: storage.LinkVideo}
		}, "", ""},
		{"an answer may have lines", func(s *storage.Settings) { s.FAQ[0].Answer.ID = "satu\ndua" }, "", ""},
		{"the service name is required", func(s *storage.Settings) { s.ServiceName.ID = "" }, "service_name.id", storage.SettingsRequired},
		{"a long name", func(s *storage.Settings) { s.ServiceName.EN = strings.Repeat("é", storage.MaxSettingsName+1) }, "service_name.en", storage.SettingsTooLong},
		{"an email with a name", func(s *storage.Settings) { s.ContactEmail.ID = "Helpdesk <help@insw.go.id>" }, "contact_email.id", storage.SettingsEmail},
		{"an email that is not one", func(s *storage.Settings) { s.ContactEmail.EN = "helpdesk" }, "contact_email.en", storage.SettingsEmail},
		{"javascript links", func(s *storage.Settings) { s.Links[0].URL = "javascript:alert(1)" }, "links.0.url", storage.SettingsURL},
		{"plain http links", func(s *storage.Settings) { s.Links[0].URL = "http://guide.example/" }, "links.0.url", storage.SettingsURL},
		{"scheme-relative links", func(s *storage.Settings) { s.Links[1].URL = "//evil.example/x" }, "links.1.url", storage.SettingsURL},
		{"relative links without a slash", func(s *storage.Settings) { s.Links[0].URL = "guide.pdf" }, "links.0.url", storage.SettingsURL},
		{"links with credentials", func(s *storage.Settings) { s.Links[0].URL = "https://a:b@guide.example/" }, "links.0.url", storage.SettingsURL},
		{"unknown kinds", func(s *storage.Settings) { s.Links[0].Kind = "podcast" }, "links.0.kind", storage.SettingsKind},
		{"an empty answer", func(s *storage.Settings) { s.FAQ[2].Answer.ID = "" }, "faq.2.answer.id", storage.SettingsRequired},
		{"control characters", func(s *storage.Settings) { s.ContactPhone.ID = "0800\x1b[2J" }, "contact_phone.id", storage.SettingsText},
		{"a name on two lines", func(s *storage.Settings) { s.ServiceName.ID = "satu\npintu" }, "service_name.id", storage.SettingsText},
		{"an address on two lines", func(s *storage.Settings) { s.ContactAddress.ID = "Jl. Uji 1\nJakarta" }, "", ""},
		{"bidirectional overrides", func(s *storage.Settings) { s.Banner.Text.EN = "abc\u202edcba" }, "banner.text.en", storage.SettingsText},
		{"blank text", func(s *storage.Settings) { s.ContactAddress.EN = "   " }, "contact_address.en", storage.SettingsText},
		{"too many questions", func(s *storage.Settings) {
			for len(s.FAQ) <= storage.MaxSettingsFAQ {
				s.FAQ = append(s.FAQ, s.FAQ[0])
			}
		}, "faq", storage.SettingsTooMany},
		{"a banner switched on needs text", func(s *storage.Settings) { s.Banner.On = true }, "banner.text.id", storage.SettingsRequired},
		{"a banner switched off may be empty", func(s *storage.Settings) { s.Banner = storage.Banner{} }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storage.DefaultSettings()
			tt.change(&s)
			err := storage.ValidateSettings(s)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid settings refused: %v", err)
				}
				return
			}
			var se *storage.SettingsError
			if !errors.As(err, &se) || !errors.Is(err, storage.ErrInvalidSettings) {
				t.Fatalf("got %v, want a *SettingsError", err)
			}
			want := storage.SettingsProblem{Field: tt.field, MessageKey: tt.key}
			if len(se.Problems) != 1 || se.Problems[0] != want {
				t.Errorf("problems %+v, want [%+v]", se.Problems, want)
			}
		})
	}
}

func TestTextFallsBackToIndonesian(t *testing.T) {
	tx := storage.Text{ID: "Pusat Bantuan"}
	if tx.In("en") != "Pusat Bantuan" || tx.In("fr") != "Pusat Bantuan" {
		t.Errorf("empty English: %q", tx.In("en"))
	}
	tx.EN = "Help Center"
	if tx.In("en") != "Help Center" || tx.In("id") != "Pusat Bantuan" {
		t.Errorf("In: %q / %q", tx.In("en"), tx.In("id"))
	}
}

func TestBannerActive(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	b := storage.Banner{Text: storage.Text{ID: "Pemeliharaan"}, On: true}
	if !b.Active(now) {
		t.Error("banner on without end is not active")
	}
	b.Until = now
	if b.Active(now) {
		t.Error("banner is active at its end")
	}
	b.Until = now.Add(time.Minute)
	if !b.Active(now) {
		t.Error("banner before its end is not active")
	}
	b.On = false
	if b.Active(now) {
		t.Error("banner switched off is active")
	}
}
