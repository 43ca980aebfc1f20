package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"satupintu/storage"
)

// SettingsOwner is what OnChange reports when the settings change; node
// caches (storage/cache) hold the settings under it.
const SettingsOwner = "s:settings"

// Settings returns the stored settings, or the defaults when none were
// ever stored (the empty document migration 0020 inserts).
func (s *Store) Settings(ctx context.Context) (storage.Settings, error) {
	st, err := scanSettings(s.db.QueryRow(ctx, `SELECT version, document FROM settings WHERE id = 1`))
	return st, s.wrap("get settings", err)
}

// UpdateSettings applies fn to the current settings inside a transaction
// and stores the result, validated, as the next version.
func (s *Store) UpdateSettings(ctx context.Context, fn func(*storage.Settings) error) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		st, err := scanSettings(q.QueryRow(ctx, `SELECT version, document FROM settings WHERE id = 1`+s.d.ForUpdate))
		if err != nil {
			return err
		}
		version := st.Version
		if fnErr = fn(&st); fnErr != nil {
			return fnErr
		}
		if fnErr = storage.ValidateSettings(st); fnErr != nil {
			return fnErr
		}
		st.UpdatedAt, st.Banner.Until = st.UpdatedAt.UTC(), st.Banner.Until.UTC()
		doc, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode settings: %w", err)
		}
		// The row is locked; the version check still guards a store that
		// lost its lock (it never should) from writing over a newer one.
		n, err := q.Exec(ctx, `UPDATE settings SET version = $1, document = $2, updated_at = $3 WHERE id = 1 AND version = $4`,
			version+1, string(doc), micros(st.UpdatedAt), version)
		if err == nil && n != 1 {
			err = storage.ErrConflict
		}
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	s.changed(ctx, err, SettingsOwner)
	return s.wrap("update settings", err)
}

func scanSettings(r scanner) (storage.Settings, error) {
	var version int64
	var doc string
	if err := r.Scan(&version, &doc); err != nil {
		return storage.Settings{}, err
	}
	if doc == "" {
		return storage.DefaultSettings(), nil
	}
	var st storage.Settings
	if err := json.Unmarshal([]byte(doc), &st); err != nil {
		return storage.Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	st.Version = version
	st.UpdatedAt, st.Banner.Until = st.UpdatedAt.UTC(), st.Banner.Until.UTC()
	return st, nil
}
