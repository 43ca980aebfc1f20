package storage

import (
	"context"
	"time"
)

// Roles a member holds inside one organization (Membership.Role). They are
// the company's own affair, apart from the provider's staff roles (User.Roles).
const (
	// MemberAdmin invites and removes the company's members. The first
	// approved registrant of an organization holds it; the admin can hand
	// it on, an officer can reassign it.
	MemberAdmin = "admin"
	// MemberStaff is every other member.
	MemberStaff = "member"
)

// ValidMemberRole reports whether role is one of the membership roles.
func ValidMemberRole(role string) bool { return role == MemberAdmin || role == MemberStaff }

// Membership says that a user belongs to an organization. A user may belong
// to several (a customs broker's staff, a group of companies); the one in
// User.OrganizationID is the default, released to applications for which
// the user chose none.
type Membership struct {
	OrganizationID string
	UserID         string
	Role           string // MemberAdmin or MemberStaff
	CreatedAt      time.Time
}

// Memberships stores who belongs to which organization, and which
// organization a user chose for each application.
type Memberships interface {
	// AddMembership stores m; ErrAlreadyExists if the user is a member
	// already, ErrNotFound if the user or the organization does not exist.
	// A user without a default organization gets this one.
	AddMembership(ctx context.Context, m Membership) error
	Membership(ctx context.Context, orgID, userID string) (Membership, error)
	// MembershipsOf returns the user's memberships, oldest first.
	MembershipsOf(ctx context.Context, userID string) ([]Membership, error)
	// Members returns the organization's memberships, oldest first.
	Members(ctx context.Context, orgID string) ([]Membership, error)
	// SetMemberRole changes a member's role; ErrNotFound if not a member.
	SetMemberRole(ctx context.Context, orgID, userID, role string) error
	// TransferAdmin makes to the administrator and from a member, in one
	// transaction: ErrConflict unless from is the administrator now,
	// ErrNotFound unless to is a member.
	TransferAdmin(ctx context.Context, orgID, from, to string) error
	// RemoveMembership ends the membership and the user's choices of the
	// organization; the user's default moves to their oldest remaining
	// organization, or none. ErrNotFound if not a member.
	RemoveMembership(ctx context.Context, orgID, userID string) error
	// ChooseOrganization remembers orgID as the user's organization for
	// clientID; ErrNotFound unless the user is a member of it and the
	// client exists.
	ChooseOrganization(ctx context.Context, userID, clientID, orgID string, at time.Time) error
	// ChosenOrganization returns the organization the user chose for
	// clientID; ErrNotFound if none (or no longer a member).
	ChosenOrganization(ctx context.Context, userID, clientID string) (string, error)
}

// Invitation is a company administrator's invitation of a person by email.
// The link's secret is never stored: TokenHash is its SHA-256, hex.
type Invitation struct {
	ID             string
	OrganizationID string
	Email          string // lower case
	Role           string
	InvitedBy      string // user id of the administrator
	TokenHash      string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// Set on acceptance.
	AcceptedAt time.Time
	UserID     string
}

// Invitations stores pending and accepted invitations.
type Invitations interface {
	// CreateInvitation stores inv; ErrAlreadyExists if its id or token
	// hash is taken.
	CreateInvitation(ctx context.Context, inv Invitation) error
	// PendingInvitations returns the organization's invitations not yet
	// accepted (expired ones included, to resend or cancel), oldest first.
	PendingInvitations(ctx context.Context, orgID string) ([]Invitation, error)
	// LiveInvitation returns the invitation whose token hashes to
	// tokenHash if it is neither accepted nor expired at now; ErrNotFound
	// otherwise, alike.
	LiveInvitation(ctx context.Context, tokenHash string, now time.Time) (Invitation, error)
	// RenewInvitation gives a pending invitation a new token and expiry;
	// the old link stops working. ErrNotFound if no such pending one.
	RenewInvitation(ctx context.Context, orgID, id, tokenHash string, expiresAt time.Time) error
	// DeleteInvitation cancels a pending invitation; ErrNotFound if none.
	DeleteInvitation(ctx context.Context, orgID, id string) error
	// AcceptInvitation takes the live invitation of tokenHash at now, once,
	// and in the same transaction creates user (when create is set) and
	// its membership with the invitation's role. ErrNotFound for an
	// unknown, used or expired token; ErrAlreadyExists when the user
	// exists (create) or is a member already. Nothing is stored on error.
	AcceptInvitation(ctx context.Context, tokenHash string, now time.Time, user User, create bool) (Invitation, error)
}
