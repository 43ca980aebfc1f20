package storage

import (
	"context"
	"time"
)

// Passkey is a WebAuthn credential of a user: a passkey (synced or bound to
// one device) or a security key.
type Passkey struct {
	ID           string // ours, random: it names the passkey in URLs and the audit log
	UserID       string
	CredentialID []byte // the authenticator's credential id, unique among all users
	Name         string // the user's name for it ("Laptop kantor")
	// Record is the credential record (public key, signature counter,
	// flags), encoded by its owner, the login package: storage never reads it.
	Record     []byte
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to sign in
}

// Passkeys stores users' passkeys. Deleting a user deletes them.
type Passkeys interface {
	// CreatePasskey stores p. It returns ErrNotFound if the user does not
	// exist, ErrAlreadyExists if the credential id is registered already
	// (to anyone), and ErrConflict if the user has maxPerUser passkeys:
	// the check and the insert are one step, so racing requests cannot
	// pass the limit together.
	CreatePasskey(ctx context.Context, p Passkey, maxPerUser int) error
	// PasskeysOf returns the user's passkeys, oldest first.
	PasskeysOf(ctx context.Context, userID string) ([]Passkey, error)
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// UpdatePasskey applies fn to the current record inside a transaction;
	// an error from fn aborts the update and is returned as is. ID, UserID
	// and CredentialID never change.
	UpdatePasskey(ctx context.Context, id string, fn func(*Passkey) error) error
	// DeletePasskey deletes userID's passkey id; ErrNotFound if the user
	// has no passkey by that id.
	DeletePasskey(ctx context.Context, userID, id string) error
}
