package storage

import (
	"context"
	"time"
)

// UnlockSignIn lifts the sign-in lock of user id and starts its failure
// count afresh, for the username and the email alike: it raises the
// account's LockEpoch, which the sign-in throttle keys the counters with
// (login/throttle.go). Being a database write, it reaches every node and
// the embedded server's in-process counters, once a node's user cache
// learns of it (at once through the invalidation bus, else within its
// TTL). The CLI's `user unlock` and the admin console call it.
func UnlockSignIn(ctx context.Context, users userUpdater, id string, now time.Time) error {
	return users.UpdateUser(ctx, id, func(u *User) error {
		u.LockEpoch++
		u.UpdatedAt = now.UTC()
		return nil
	})
}

// userUpdater is the part of Users UnlockSignIn uses.
type userUpdater interface {
	UpdateUser(ctx context.Context, id string, fn func(*User) error) error
}
