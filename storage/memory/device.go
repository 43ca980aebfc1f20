package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"satupintu/storage"
)

// deviceStore holds device authorizations by id and their user codes.
// Its maps are made on first use, so New needs no change for it.
type deviceStore struct {
	mu     sync.Mutex
	byID   map[string]deviceEntry
	byCode map[string]string // user code → id
	writes int
}

type deviceEntry struct {
	d   storage.DeviceAuthorization
	exp time.Time
}

// CreateDeviceAuthorization stores d for ttl under its id and user code.
func (s *Store) CreateDeviceAuthorization(_ context.Context, d storage.DeviceAuthorization, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: create device authorization: ttl %v is not positive", ttl)
	}
	now := s.now()
	ds := &s.devices
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.byID == nil {
		ds.byID, ds.byCode = make(map[string]deviceEntry), make(map[string]string)
	}
	if old, ok := ds.byID[d.ID]; ok && live(old.exp, now) {
		return fmt.Errorf("memory: create device authorization: %w", storage.ErrAlreadyExists)
	}
	if id, ok := ds.byCode[d.UserCode]; ok {
		if old, ok := ds.byID[id]; ok && live(old.exp, now) {
			return fmt.Errorf("memory: create device authorization: user code: %w", storage.ErrAlreadyExists)
		}
	}
	if sweepDue(&ds.writes, len(ds.byID)) {
		for id, e := range ds.byID {
			if !live(e.exp, now) {
				delete(ds.byID, id)
				if ds.byCode[e.d.UserCode] == id {
					delete(ds.byCode, e.d.UserCode)
				}
			}
		}
	}
	ds.byID[d.ID] = deviceEntry{d: cloneDevice(d), exp: now.Add(ttl)}
	ds.byCode[d.UserCode] = d.ID
	return nil
}

// DeviceAuthorizationByUserCode returns the live authorization with userCode.
func (s *Store) DeviceAuthorizationByUserCode(_ context.Context, userCode string) (storage.DeviceAuthorization, error) {
	now := s.now()
	ds := &s.devices
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e, ok := ds.byID[ds.byCode[userCode]]
	if !ok || !live(e.exp, now) || e.d.UserCode != userCode {
		return storage.DeviceAuthorization{}, fmt.Errorf("memory: get device authorization: %w", storage.ErrNotFound)
	}
	return cloneDevice(e.d), nil
}

// UpdateDeviceAuthorization applies fn to a copy under the lock; the
// expiry is kept. fn must not call the store.
func (s *Store) UpdateDeviceAuthorization(_ context.Context, id string, fn func(*storage.DeviceAuthorization) error) error {
	now := s.now()
	ds := &s.devices
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e, ok := ds.byID[id]
	if !ok || !live(e.exp, now) {
		return fmt.Errorf("memory: update device authorization: %w", storage.ErrNotFound)
	}
	next := cloneDevice(e.d)
	if err := fn(&next); err != nil {
		return err
	}
	next.ID, next.UserCode = id, e.d.UserCode // the keys stay
	ds.byID[id] = deviceEntry{d: cloneDevice(next), exp: e.exp}
	return nil
}

func cloneDevice(d storage.DeviceAuthorization) storage.DeviceAuthorization {
	d.Scopes = slices.Clone(d.Scopes)
	d.AMR = slices.Clone(d.AMR)
	d.CreatedAt, d.ExpiresAt, d.LastPoll, d.AuthTime = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), d.LastPoll.UTC(), d.AuthTime.UTC()
	return d
}
