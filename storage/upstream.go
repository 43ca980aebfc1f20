package storage

import (
	"context"
	"time"
)

// UpstreamLink records that an identity at an upstream OpenID provider (the
// national digital identity, INApas, or any other the operator configures)
// signs in as a satupintu user. It is only ever created after the person
// proved the satupintu account in the same browser, or by the approval of a
// registration the upstream identity started: never by matching an email or
// a name.
type UpstreamLink struct {
	UpstreamID string // the operator's name for the provider (configuration)
	Subject    string // the provider's sub for the person (OIDC Core §2)
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// UpstreamLinks stores upstream identity links. (UpstreamID, Subject) is
// unique: one upstream identity is one satupintu user.
type UpstreamLinks interface {
	// CreateUpstreamLink stores l. ErrAlreadyExists if (UpstreamID, Subject)
	// is linked already, to anyone; ErrNotFound if the user does not exist.
	// Deleting the user deletes its links.
	CreateUpstreamLink(ctx context.Context, l UpstreamLink) error
	UpstreamLink(ctx context.Context, upstreamID, subject string) (UpstreamLink, error)
	// UpstreamLinksOf returns the user's links ordered by UpstreamID, then
	// Subject; none is an empty list.
	UpstreamLinksOf(ctx context.Context, userID string) ([]UpstreamLink, error)
	// TouchUpstreamLink sets LastUsedAt; ErrNotFound if there is no link.
	TouchUpstreamLink(ctx context.Context, upstreamID, subject string, at time.Time) error
	// DeleteUpstreamLink deletes the link if it belongs to userID; deleting
	// a missing link, or another user's, changes nothing and is no error.
	DeleteUpstreamLink(ctx context.Context, userID, upstreamID, subject string) error
}
