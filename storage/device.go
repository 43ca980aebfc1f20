package storage

import (
	"context"
	"strings"
	"time"
)

// Device authorization states (RFC 8628 §3.5): the user has not answered
// yet, allowed the device, or refused it.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceAuthorization is one device authorization (RFC 8628) between the
// device's request and its last poll. It lives in the ephemeral store.
type DeviceAuthorization struct {
	// ID is the SHA-256 of the device code, hex: the code itself, a bearer
	// secret, is never stored.
	ID string
	// UserCode is what the user types, normalized (no dash, upper case).
	UserCode  string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is when the codes stop working; the record is kept a while
	// longer so that a late poll learns expired_token.
	ExpiresAt time.Time
	// Interval is the minimum time between polls; it grows with each
	// slow_down (RFC 8628 §3.5).
	Interval time.Duration
	LastPoll time.Time

	State string // DevicePending, DeviceApproved or DeviceDenied
	// Answered is set once the device was told the decision: tokens are
	// issued once, a denial is reported once.
	Answered bool

	// Set when the user approves.
	UserID    string
	AuthTime  time.Time
	AMR       []string
	SessionID string
	SID       string
}

// DeviceAuthorizations stores device authorizations, reachable by the hash
// of the device code (the device polls) and by the user code (the user
// types it).
type DeviceAuthorizations interface {
	// CreateDeviceAuthorization stores d for ttl. ErrAlreadyExists, and
	// nothing stored, when a live authorization has d's ID or user code.
	CreateDeviceAuthorization(ctx context.Context, d DeviceAuthorization, ttl time.Duration) error
	// DeviceAuthorizationByUserCode returns the live authorization with the
	// (normalized) user code; ErrNotFound if none.
	DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (DeviceAuthorization, error)
	// UpdateDeviceAuthorization applies fn to the authorization with id
	// and stores the result only if fn succeeds and nobody changed it in
	// between (fn may run more than once). The TTL is kept; ErrNotFound if
	// it is gone.
	UpdateDeviceAuthorization(ctx context.Context, id string, fn func(*DeviceAuthorization) error) error
}

// User codes (RFC 8628 §6.1): eight characters of an alphabet without
// vowels (no words) and without look-alike characters, about 34 bits.
const (
	UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	UserCodeLength   = 8
)

// NormalizeUserCode turns what a user typed into the stored form: upper
// case, without dashes and spaces. ok is false when it cannot be a user
// code (wrong length or a character outside the alphabet), so no store
// is asked.
func NormalizeUserCode(s string) (code string, ok bool) {
	if len(s) > 4*UserCodeLength {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case strings.ContainsRune(UserCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != UserCodeLength {
		return "", false
	}
	return b.String(), true
}

// FormatUserCode shows a normalized user code as the device does: XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != UserCodeLength {
		return code
	}
	return code[:UserCodeLength/2] + "-" + code[UserCodeLength/2:]
}

// GrantDeviceCode is the grant type (RFC 8628 §3.4) a client needs for the
// device flow.
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
