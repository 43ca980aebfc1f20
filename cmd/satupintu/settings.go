package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"satupintu/storage"
)

// settingsUsage lists what `satupintu settings` does. The Help Center's
// questions and links are lists, edited in the console; scripts set the
// single texts and the banner.
const settingsUsage = `settings: want show, or set KEY LANG VALUE where
  KEY is service_name, contact_email, contact_phone, contact_hours, contact_address or banner, and LANG is id or en;
  or KEY is banner_on (true|false) or banner_until (RFC 3339 time, or "" for none), and LANG is -`

// settings runs `satupintu settings show|set`.
func (a *admin) settings(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("%s", settingsUsage)
	}
	switch args[0] {
	case "show":
		if len(args) != 1 {
			return usagef("settings show takes no arguments")
		}
		st, err := a.store.Settings(ctx)
		if err != nil {
			return err
		}
		return a.printSettings(st)
	case "set":
		if len(args) != 4 {
			return usagef("%s", settingsUsage)
		}
		return a.settingsSet(ctx, args[1], args[2], args[3])
	default:
		return usagef("settings: unknown command %q\n%s", args[0], settingsUsage)
	}
}

// printSettings writes the settings as JSON, with the version an editor
// needs to detect a concurrent edit.
func (a *admin) printSettings(st storage.Settings) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Version int64 `json:"version"`
		storage.Settings
	}{st.Version, st})
}

// settingsSet changes one value, validated as the console validates it.
func (a *admin) settingsSet(ctx context.Context, key, lang, value string) error {
	set, err := settingsSetter(key, lang, value)
	if err != nil {
		return err
	}
	err = a.store.UpdateSettings(ctx, func(s *storage.Settings) error {
		if err := set(s); err != nil {
			return err
		}
		s.UpdatedAt, s.UpdatedBy = a.now().UTC(), "cli"
		return nil
	})
	var invalid *storage.SettingsError
	if errors.As(err, &invalid) {
		return usagef("%v", invalid)
	}
	if err != nil {
		return err
	}
	if err := a.audit(ctx, "settings.update", key); err != nil {
		return err
	}
	st, err := a.store.Settings(ctx)
	if err != nil {
		return err
	}
	return a.printSettings(st)
}

// settingsSetter returns the change KEY LANG VALUE asks for.
func settingsSetter(key, lang, value string) (func(*storage.Settings) error, error) {
	text := func(pick func(*storage.Settings) *storage.Text) (func(*storage.Settings) error, error) {
		if lang != "id" && lang != "en" {
			return nil, usagef("settings set %s: LANG must be id or en, not %q", key, lang)
		}
		return func(s *storage.Settings) error {
			t := pick(s)
			if lang == "id" {
				t.ID = value
			} else {
				t.EN = value
			}
			return nil
		}, nil
	}
	switch key {
	case "service_name":
		return text(func(s *storage.Settings) *storage.Text { return &s.ServiceName })
	case "contact_email":
		return text(func(s *storage.Settings) *storage.Text { return &s.ContactEmail })
	case "contact_phone":
		return text(func(s *storage.Settings) *storage.Text { return &s.ContactPhone })
	case "contact_hours":
		return text(func(s *storage.Settings) *storage.Text { return &s.ContactHours })
	case "contact_address":
		return text(func(s *storage.Settings) *storage.Text { return &s.ContactAddress })
	case "banner":
		return text(func(s *storage.Settings) *storage.Text { return &s.Banner.Text })
	}
	if lang != "-" {
		return nil, usagef("settings set %s: LANG must be -", key)
	}
	switch key {
	case "banner_on":
		on, err := strconv.ParseBool(value)
		if err != nil {
			return nil, usagef("settings set banner_on: want true or false, not %q", value)
		}
		return func(s *storage.Settings) error { s.Banner.On = on; return nil }, nil
	case "banner_until":
		var until time.Time
		if value != "" {
			t, err := time.Parse(time.RFC3339, value)
			if err != nil {
				return nil, usagef("settings set banner_until: want an RFC 3339 time such as 2026-12-31T17:00:00+07:00: %v", err)
			}
			until = t.UTC()
		}
		return func(s *storage.Settings) error { s.Banner.Until = until; return nil }, nil
	}
	return nil, usagef("settings set: unknown key %q\n%s", key, settingsUsage)
}
