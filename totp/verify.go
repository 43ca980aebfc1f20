package totp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"satupintu/storage"
)

// Errors of Verifier.Verify. Neither says anything the user may not see.
var (
	ErrInvalidCode = errors.New("totp: wrong code")
	// ErrReplayed reports a right code that was already used: once accepted,
	// a code (and any older one still inside the window) is refused.
	ErrReplayed = errors.New("totp: code already used")
)

// usedTTL keeps a used step on record while it could still be accepted: a
// step is accepted from one step before it starts until one step after it
// ends, at most three steps after it was first used, and some margin for
// clocks between nodes.
const usedTTL = 4 * Period

// OneTime is the slice of the ephemeral store Verifier records used steps in.
type OneTime interface {
	PutOnce(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Verifier checks codes and makes each one single-use per user and time
// step (RFC 6238 §5.2, ASVS 6.5.1). The record lives in the ephemeral store
// so every node sees it.
type Verifier struct {
	Used OneTime
	Now  func() time.Time
}

func usedKey(userID string, step int64) string {
	return "totp-used:" + userID + ":" + strconv.FormatInt(step, 10)
}

// Verify accepts code for userID's secret once. It returns ErrInvalidCode,
// ErrReplayed, or a storage error (which callers must treat as a refusal:
// fail closed).
func (v *Verifier) Verify(ctx context.Context, userID string, secret []byte, code string) error {
	now := v.Now()
	step, ok := Match(secret, code, now)
	if !ok {
		return ErrInvalidCode
	}
	// PutOnce is atomic in every backend: of two requests racing with the
	// same code, one wins.
	err := v.Used.PutOnce(ctx, usedKey(userID, step), nil, usedTTL)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return ErrReplayed
	}
	if err != nil {
		return fmt.Errorf("totp: record used step: %w", err)
	}
	// The steps before the one used are burnt too, so a code seen earlier
	// (over a shoulder, in a phishing proxy) and still inside the window
	// cannot follow a newer one: as if the last used step were recorded.
	for s := Step(now) - Window; s < step; s++ {
		err := v.Used.PutOnce(ctx, usedKey(userID, s), nil, usedTTL)
		if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("totp: record used step: %w", err)
		}
	}
	return nil
}
