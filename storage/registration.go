package storage

import (
	"context"
	"errors"
	"slices"
	"time"
)

// RegistrationStatus is where a registration stands. The transitions are
// submitted → in_review → approved | rejected | revision_requested, and
// revision_requested → resubmitted → in_review again.
type RegistrationStatus string

const (
	StatusSubmitted         RegistrationStatus = "submitted"
	StatusInReview          RegistrationStatus = "in_review"
	StatusRevisionRequested RegistrationStatus = "revision_requested"
	StatusResubmitted       RegistrationStatus = "resubmitted"
	StatusApproved          RegistrationStatus = "approved"
	StatusRejected          RegistrationStatus = "rejected"
)

// Next lists the statuses a registration in status s may move to. It is
// the one table of registration transitions: the officers' decisions, the
// registrant's resubmission and every backend's approval check it, and a
// change it does not list is refused (approved and rejected are final).
func (s RegistrationStatus) Next() []RegistrationStatus {
	switch s {
	case StatusSubmitted, StatusResubmitted:
		return []RegistrationStatus{StatusInReview}
	case StatusInReview:
		return []RegistrationStatus{StatusApproved, StatusRejected, StatusRevisionRequested}
	case StatusRevisionRequested:
		return []RegistrationStatus{StatusResubmitted}
	}
	return nil
}

// CanBecome reports whether a registration in status s may move to next
// (Next).
func (s RegistrationStatus) CanBecome(next RegistrationStatus) bool {
	return slices.Contains(s.Next(), next)
}

// Open reports whether the registration still awaits a final decision.
func (s RegistrationStatus) Open() bool {
	return s != StatusApproved && s != StatusRejected
}

// Registration is a company's sign-up, from submission to decision.
type Registration struct {
	ID            string
	ServiceNumber string // shown to the registrant; unique, not guessable
	Status        RegistrationStatus

	Purpose        string // "transaksi" (Transaksi (Pengajuan/Umum)), …
	TraderType     string
	NIBType        string
	NIB            string
	NPWPType       string
	NPWP           string // digits only
	OrgName        string
	BusinessType   string
	Address        Address
	FullName       string
	Position       string
	IdentityType   string // "nik" or "passport"
	IdentityNumber string
	Email          string // lower case
	Phone          string // E.164
	DocumentID     string // the current power-of-attorney letter

	// Set when the registration began with a sign-in at an upstream
	// provider: approval links the new user to (UpstreamID,
	// UpstreamSubject). VerifiedBy is the provider's label when FullName and
	// IdentityNumber are as the provider asserted them, for the officer.
	UpstreamID      string
	UpstreamSubject string
	VerifiedBy      string

	// Set on approval.
	OrganizationID string
	UserID         string

	SubmittedAt time.Time
	UpdatedAt   time.Time
}

// MaxDocumentSize is the largest Document.Data a backend stores (1 MiB, the
// "at most 1 MB" of DESIGN.md read generously); larger documents are an
// error. The upload form may accept less, never more.
const MaxDocumentSize = 1 << 20

// Document is an uploaded file (the power-of-attorney letter), at most 1 MB.
type Document struct {
	ID             string
	RegistrationID string
	FileName       string // sanitized for Content-Disposition; never a path
	ContentType    string // from content sniffing: application/pdf, image/jpeg, image/png
	SHA256         string // hex
	Data           []byte
	CreatedAt      time.Time
}

// RegistrationEvent is one line of a registration's status history.
type RegistrationEvent struct {
	ID             int64
	RegistrationID string
	Status         RegistrationStatus
	ActorID        string // officer user id; empty for the registrant
	Note           string // officer's reason or request; shown to the registrant
	Time           time.Time
}

// RegistrationFilter selects registrations for the officer queue. Results
// are newest first and paged by keyset (After…), never by OFFSET.
type RegistrationFilter struct {
	Status     RegistrationStatus // empty: any
	TraderType string             // empty: any
	From, To   time.Time          // submitted in [From, To); zero: unbounded
	// AfterSubmitted/AfterID continue after the last row of the previous page.
	AfterSubmitted time.Time
	AfterID        string
	Limit          int // at most this many; 0: all
}

// Token purposes.
const (
	TokenActivation    = "activation"
	TokenPasswordReset = "password_reset"
)

// ActionToken is a single-use, expiring link secret (account activation,
// password reset). Only the SHA-256 of the secret is stored, as ID.
type ActionToken struct {
	ID        string
	UserID    string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Registrations stores registrations, their documents and history.
type Registrations interface {
	// CreateRegistration stores r, its document and a first "submitted"
	// event in one transaction, with what the hooks write. ErrAlreadyExists
	// if the service number or id is taken.
	CreateRegistration(ctx context.Context, r Registration, doc Document, then ...TxHook) error
	RegistrationByID(ctx context.Context, id string) (Registration, error)
	RegistrationByServiceNumber(ctx context.Context, serviceNumber string) (Registration, error)
	// OpenRegistrationFor finds a registration that is not yet decided for
	// the NIB or the email; ErrNotFound if there is none.
	OpenRegistrationFor(ctx context.Context, nib, email string) (Registration, error)
	ListRegistrations(ctx context.Context, f RegistrationFilter) ([]Registration, error)
	RegistrationEvents(ctx context.Context, id string) ([]RegistrationEvent, error)
	// UpdateRegistration applies fn to the current record in a transaction
	// and appends the event fn returns (its RegistrationID and Time are
	// filled in). If fn returns a document, it is stored and becomes the
	// current one. An error from fn aborts everything and is returned as is;
	// two concurrent decisions cannot both win. The hooks run after fn's
	// change is written, in the same transaction.
	UpdateRegistration(ctx context.Context, id string, fn func(*Registration) (RegistrationEvent, *Document, error), then ...TxHook) error
	// ApproveRegistration creates the organization and the user, marks the
	// registration approved (linking both), appends the event and stores the
	// activation token, all in one transaction. When an organization with
	// org.NIB exists the user joins it as a member (org is not stored, and
	// the registration's OrganizationID names the existing one); otherwise
	// the user becomes the new organization's administrator. ErrConflict if
	// the registration is not in review; ErrAlreadyExists if the user exists.
	// The hooks run last, in the same transaction.
	ApproveRegistration(ctx context.Context, id string, org Organization, user User, token ActionToken, ev RegistrationEvent, then ...TxHook) error
	DocumentByID(ctx context.Context, id string) (Document, error)
}

// ActionTokens stores activation and reset tokens.
type ActionTokens interface {
	// CreateActionToken stores t; the hooks (the mail carrying the link)
	// run in the same transaction.
	CreateActionToken(ctx context.Context, t ActionToken, then ...TxHook) error
	// ConsumeActionToken marks the token used at now and returns it, once:
	// ErrNotFound for an unknown, used or expired token, or another purpose.
	ConsumeActionToken(ctx context.Context, id, purpose string, now time.Time) (ActionToken, error)
	// ActionToken returns the token if ConsumeActionToken would accept it
	// at now, changing nothing: a page can say "this link is used or
	// expired" before the person fills in a form.
	ActionToken(ctx context.Context, id, purpose string, now time.Time) (ActionToken, error)
}

// Counters count events in a time window, for rate limits and lockouts;
// they live in the ephemeral store so every node sees the same count.
type Counters interface {
	// Incr adds one to key and returns the new count; a new key expires
	// after window.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// IncrChain is Incr of each step's key in order, in one round trip,
	// stopping after the first whose new count passes its Max (0: no
	// maximum). It returns the counts of the keys it added to, so a
	// refused step's later keys are not counted.
	IncrChain(ctx context.Context, steps []CountStep) ([]int64, error)
	// Count returns the current count (0 if absent or expired).
	Count(ctx context.Context, key string) (int64, error)
	ResetCounter(ctx context.Context, key string) error
}

// CountStep is one counter of an IncrChain.
type CountStep struct {
	Key    string
	Window time.Duration
	Max    int64
}

// Drafts keep a form in progress (the registration wizard) between
// requests, for ttl from the last save. A value over MaxDraftSize is an
// error: the ephemeral store holds small things only.
type Drafts interface {
	SaveDraft(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Draft(ctx context.Context, key string) ([]byte, error) // ErrNotFound if absent or expired
	DeleteDraft(ctx context.Context, key string) error
}

// ErrLimitReached reports that a bounded store is full: the write would take
// it past its configured cap. Callers answer it as "try again later", never
// as a client error.
var ErrLimitReached = errors.New("storage: limit reached")

// DraftDocument is the letter uploaded to a registration draft, kept in
// durable storage (not in the ephemeral store, whose memory every sign-in
// needs) until the draft is submitted, replaced or expires. A draft has at
// most one.
type DraftDocument struct {
	DraftID     string
	FileName    string
	ContentType string
	SHA256      string // hex
	Data        []byte // at most MaxDocumentSize
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// DraftDocumentCap bounds the pending letters of all drafts together; zero
// fields are no bound of that kind.
type DraftDocumentCap struct {
	MaxCount int64 // letters
	MaxBytes int64 // sum of their sizes
}

// DraftDocuments stores the letters of registrations in progress.
type DraftDocuments interface {
	// PutDraftDocument stores d as the letter of d.DraftID, replacing the
	// one it had. In the same transaction it deletes the letters expired at
	// now and checks the cap against the live letters of the other drafts:
	// ErrLimitReached, storing nothing, when d would take them over it.
	PutDraftDocument(ctx context.Context, d DraftDocument, now time.Time, limit DraftDocumentCap) error
	// DraftDocument returns the live letter of the draft; ErrNotFound if it
	// has none or it expired by now.
	DraftDocument(ctx context.Context, draftID string, now time.Time) (DraftDocument, error)
	// ExtendDraftDocument moves the expiry of the draft's live letter to
	// expiresAt; ErrNotFound if it has none or it expired by now.
	ExtendDraftDocument(ctx context.Context, draftID string, expiresAt, now time.Time) error
	DeleteDraftDocument(ctx context.Context, draftID string) error
	// PruneDraftDocuments deletes the letters expired at now and reports
	// how many; call it periodically (PutDraftDocument prunes as well).
	PruneDraftDocuments(ctx context.Context, now time.Time) (int64, error)
	// CreateRegistrationFromDraft is CreateRegistration with the draft's
	// letter as doc's content: in one transaction the live letter of
	// draftID with doc.SHA256 becomes the registration's document and is
	// deleted from the drafts' letters. doc's Data is ignored. ErrNotFound
	// (and nothing stored) if the draft has no such live letter at now. The
	// hooks run last, in the same transaction.
	CreateRegistrationFromDraft(ctx context.Context, r Registration, doc Document, draftID string, now time.Time, then ...TxHook) error
}

// MaxDraftSize is the largest value Drafts stores (SaveDraft refuses more):
// drafts hold small form fields, never files.
const MaxDraftSize = 64 << 10
