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
type deviceStore struct {
	mu     sync.Mutex
	byID   *table[storage.DeviceAuthorization]
	byCode map[string]string // user code → id
}

func (ds *deviceStore) init(max int) {
	ds.byID, ds.byCode = newTable[storage.DeviceAuthorization](max), map[string]string{}
	ds.byID.onDrop = func(id string, d storage.DeviceAuthorization) {
		if ds.byCode[d.UserCode] == id {
			delete(ds.byCode, d.UserCode)
		}
	}
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
	if _, ok := ds.byID.get(d.ID, now); ok {
		return fmt.Errorf("memory: create device authorization: %w", storage.ErrAlreadyExists)
	}
	if id, ok := ds.byCode[d.UserCode]; ok {
		if _, ok := ds.byID.get(id, now); ok {
			return fmt.Errorf("memory: create device authorization: user code: %w", storage.ErrAlreadyExists)
		}
	}
	ds.byID.put(d.ID, cloneDevice(d), now.Add(ttl), now)
	ds.byCode[d.UserCode] = d.ID
	return nil
}

// DeviceAuthorizationByUserCode returns the live authorization with userCode.
func (s *Store) DeviceAuthorizationByUserCode(_ context.Context, userCode string) (storage.DeviceAuthorization, error) {
	now := s.now()
	ds := &s.devices
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e, ok := ds.byID.get(ds.byCode[userCode], now)
	if !ok || e.v.UserCode != userCode {
		return storage.DeviceAuthorization{}, fmt.Errorf("memory: get device authorization: %w", storage.ErrNotFound)
	}
	return cloneDevice(e.v), nil
}

// UpdateDeviceAuthorization applies fn to a copy under the lock; the
// expiry is kept. fn must not call the store.
func (s *Store) UpdateDeviceAuthorization(_ context.Context, id string, fn func(*storage.DeviceAuthorization) error) error {
	now := s.now()
	ds := &s.devices
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e, ok := ds.byID.get(id, now)
	if !ok {
		return fmt.Errorf("memory: update device authorization: %w", storage.ErrNotFound)
	}
	next := cloneDevice(e.v)
	if err := fn(&next); err != nil {
		return err
	}
	next.ID, next.UserCode = id, e.v.UserCode // the keys stay
	e.v = cloneDevice(next)
	return nil
}

func cloneDevice(d storage.DeviceAuthorization) storage.DeviceAuthorization {
	d.Scopes = slices.Clone(d.Scopes)
	d.AMR = slices.Clone(d.AMR)
	d.CreatedAt, d.ExpiresAt, d.LastPoll, d.AuthTime = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), d.LastPoll.UTC(), d.AuthTime.UTC()
	return d
}
