package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"satupintu/storage"
)

func fullDevice(id, userCode string, c *Clock) storage.DeviceAuthorization {
	now := c.Now().Truncate(time.Millisecond)
	return storage.DeviceAuthorization{
		ID: id, UserCode: userCode, ClientID: "cli", Scopes: []string{"openid", "profile"},
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Interval: 5 * time.Second,
		State: storage.DevicePending,
	}
}

func testDeviceAuthorization(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	d := fullDevice("dev-1", "BCDFGHJK", c)
	mustOK(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d, time.Hour))
	got, err := s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJK")
	mustOK(t, "DeviceAuthorizationByUserCode", err)
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("round trip (-stored +read):\n%s", diff)
	}
	if _, err := s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJL"); !isNotFound(err) {
		t.Errorf("unknown user code: got %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceAuthorizationByUserCode(ctx, "dev-1"); !isNotFound(err) {
		t.Errorf("the id is no user code: got %v, want ErrNotFound", err)
	}

	authTime := c.Now().Add(-time.Minute).Truncate(time.Millisecond).In(time.FixedZone("WIB", 7*3600))
	mustOK(t, "UpdateDeviceAuthorization", s.UpdateDeviceAuthorization(ctx, "dev-1", func(d *storage.DeviceAuthorization) error {
		d.State, d.UserID, d.AuthTime, d.AMR, d.SessionID, d.SID = storage.DeviceApproved, "user-1", authTime, []string{"pwd", "mfa"}, "sess", "sid"
		d.UserCode, d.ID = "changed", "changed" // the keys cannot change
		return nil
	}))
	got, err = s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJK")
	mustOK(t, "DeviceAuthorizationByUserCode after update", err)
	want := d
	want.State, want.UserID, want.AuthTime, want.AMR, want.SessionID, want.SID = storage.DeviceApproved, "user-1", authTime.UTC(), []string{"pwd", "mfa"}, "sess", "sid"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	if got.AuthTime.Location() != time.UTC {
		t.Errorf("AuthTime in %v, want UTC", got.AuthTime.Location())
	}

	boom := errors.New("refused")
	checkErr(t, "UpdateDeviceAuthorization whose fn fails", s.UpdateDeviceAuthorization(ctx, "dev-1", func(d *storage.DeviceAuthorization) error {
		d.State = storage.DeviceDenied
		return boom
	}), boom)
	got, _ = s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJK")
	if got.State != storage.DeviceApproved {
		t.Errorf("a failed update changed the state to %q", got.State)
	}
	checkErr(t, "UpdateDeviceAuthorization of a missing one", s.UpdateDeviceAuthorization(ctx, "missing", func(*storage.DeviceAuthorization) error {
		return nil
	}), storage.ErrNotFound)
}

func testDeviceUserCodeUnique(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	mustOK(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, fullDevice("dev-1", "BCDFGHJK", c), time.Hour))
	checkErr(t, "a second one with the same user code",
		s.CreateDeviceAuthorization(ctx, fullDevice("dev-2", "BCDFGHJK", c), time.Hour), storage.ErrAlreadyExists)
	checkErr(t, "a second one with the same id",
		s.CreateDeviceAuthorization(ctx, fullDevice("dev-1", "MNPQRSTV", c), time.Hour), storage.ErrAlreadyExists)
	// Nothing of the refused ones was stored.
	if _, err := s.DeviceAuthorizationByUserCode(ctx, "MNPQRSTV"); !isNotFound(err) {
		t.Errorf("user code of a refused create: got %v, want ErrNotFound", err)
	}
	got, err := s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJK")
	mustOK(t, "DeviceAuthorizationByUserCode", err)
	if got.ID != "dev-1" {
		t.Errorf("user code leads to %q, want dev-1", got.ID)
	}
}

// Two browsers answering one user code (or two polls taking one approval)
// must not both win: the update is a compare-and-set.
func testDeviceConcurrent(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	mustOK(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, fullDevice("dev-1", "BCDFGHJK", c), time.Hour))
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	errTaken := errors.New("taken")
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateDeviceAuthorization(ctx, "dev-1", func(d *storage.DeviceAuthorization) error {
				if d.Answered {
					return errTaken
				}
				d.Answered = true
				return nil
			})
			switch {
			case err == nil:
				mu.Lock()
				winners++
				mu.Unlock()
			case !errors.Is(err, errTaken):
				t.Errorf("UpdateDeviceAuthorization: %v", err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d concurrent takes won, want exactly 1", winners)
	}
}

func testDeviceExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	from := c.Now()
	mustOK(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, fullDevice("dev-1", "BCDFGHJK", c), ttl))
	checkExpiry(t, c, c.expiresIn(from, ttl), "DeviceAuthorizationByUserCode", func() error {
		_, err := s.DeviceAuthorizationByUserCode(ctx, "BCDFGHJK")
		return err
	})
	checkErr(t, "UpdateDeviceAuthorization of an expired one", s.UpdateDeviceAuthorization(ctx, "dev-1", func(*storage.DeviceAuthorization) error {
		return nil
	}), storage.ErrNotFound)
	// Expired codes are free again.
	mustOK(t, "CreateDeviceAuthorization over an expired one", s.CreateDeviceAuthorization(ctx, fullDevice("dev-1", "BCDFGHJK", c), ttl))
}
