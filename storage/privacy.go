package storage

import (
	"context"
	"time"
)

// Each person's rights over their data (UU 27/2022, package privacy):
// deletion requests decided by an officer, the lookups the data export
// makes, and the retention of registrations.

// RequestStatus is where a request an officer decides (deletion,
// correction) stands.
type RequestStatus string

const (
	RequestPending  RequestStatus = "pending"
	RequestApproved RequestStatus = "approved"
	RequestRejected RequestStatus = "rejected"
)

// DeletionRequest is a person's request to delete their account.
type DeletionRequest struct {
	ID          string
	UserID      string
	Status      RequestStatus
	Reason      string // the person's own words, optional
	RequestedAt time.Time
	DecidedAt   time.Time
	DecidedBy   string // the officer's user id
	Note        string // the officer's reason, shown to the person
}

// CorrectionRequest is a company administrator's correction of the
// company's name and address, which an officer applies or refuses. The
// NIB and NPWP name the company and are not corrected this way.
type CorrectionRequest struct {
	ID             string
	OrganizationID string
	UserID         string // who asked
	Status         RequestStatus
	Name           string
	Address        Address
	Reason         string
	RequestedAt    time.Time
	DecidedAt      time.Time
	DecidedBy      string
	Note           string
}

// RetentionResult is what PruneRegistrations deleted.
type RetentionResult struct {
	// Registrations deleted whole (rejected, or abandoned waiting for a
	// revision), with their documents and history.
	Registrations []string // their service numbers, for the audit log
	// Documents deleted from approved registrations, which stay.
	Documents int64
}

// Privacy stores what the data-rights pages need.
type Privacy interface {
	// CreateDeletionRequest stores d; ErrAlreadyExists if the user already
	// has a pending request, ErrNotFound if the user does not exist.
	CreateDeletionRequest(ctx context.Context, d DeletionRequest) error
	// PendingDeletionRequest returns the user's pending request, if any.
	PendingDeletionRequest(ctx context.Context, userID string) (DeletionRequest, error)
	// ListDeletionRequests returns up to limit requests with status, oldest
	// first.
	ListDeletionRequests(ctx context.Context, status RequestStatus, limit int) ([]DeletionRequest, error)
	// DecideDeletionRequest decides pending request id (ErrConflict if it
	// is not pending). Approval anonymizes the user in the same
	// transaction: the account keeps only its id (audit events and
	// registrations refer to it), loses every personal field, its password,
	// second factor, passkeys, app and upstream links, refresh tokens and
	// company memberships, and cannot sign in. Audit events are not touched.
	DecideDeletionRequest(ctx context.Context, id string, approve bool, officerID, note string, at time.Time) (DeletionRequest, error)
	// CreateCorrectionRequest stores c; ErrAlreadyExists if the
	// organization has a pending one, ErrNotFound if it or the user is gone.
	CreateCorrectionRequest(ctx context.Context, c CorrectionRequest) error
	PendingCorrectionRequest(ctx context.Context, orgID string) (CorrectionRequest, error)
	ListCorrectionRequests(ctx context.Context, status RequestStatus, limit int) ([]CorrectionRequest, error)
	// DecideCorrectionRequest decides pending request id (ErrConflict if it
	// is not pending); approval writes the name and address to the
	// organization in the same transaction.
	DecideCorrectionRequest(ctx context.Context, id string, approve bool, officerID, note string, at time.Time) (CorrectionRequest, error)
	// DeletionRequestByID and CorrectionRequestByID return request id,
	// whatever its status (ErrNotFound if none).
	DeletionRequestByID(ctx context.Context, id string) (DeletionRequest, error)
	CorrectionRequestByID(ctx context.Context, id string) (CorrectionRequest, error)
	// AuditAbout returns up to limit events whose actor or subject is
	// userID, newest first.
	AuditAbout(ctx context.Context, userID string, limit int) ([]AuditEvent, error)
	// RegistrationsOf returns the registrations made by the user (approved
	// into userID, or submitted from email), newest first.
	RegistrationsOf(ctx context.Context, userID, email string) ([]Registration, error)
	// PruneRegistrations deletes the registrations rejected, or waiting for
	// a revision, since before closedBefore (with their documents and
	// history), and the documents of registrations approved before
	// documentsBefore. Zero times skip that part.
	PruneRegistrations(ctx context.Context, closedBefore, documentsBefore time.Time) (RetentionResult, error)
}
