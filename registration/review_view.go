package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// Shared by tracking, the officer pages and activation: how a registration,
// its history and its options are shown.

// reviewTimeLayout is how times are shown to registrants and officers:
// ISO order reads the same in both languages, and WIB says which clock.
const reviewTimeLayout = "2006-01-02 15:04 MST"

// jakartaTime formats t in Asia/Jakarta (WIB); see the jakarta zone.
func jakartaTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(jakarta).Format(reviewTimeLayout)
}

// statusKey is the catalog key of a status label.
func statusKey(s storage.RegistrationStatus) string {
	switch s {
	case storage.StatusSubmitted, storage.StatusInReview, storage.StatusRevisionRequested,
		storage.StatusResubmitted, storage.StatusApproved, storage.StatusRejected:
		return "review.status." + string(s)
	}
	return "review.status.unknown"
}

// reviewStatuses are the statuses in their natural order, for the queue
// filter.
var reviewStatuses = []storage.RegistrationStatus{
	storage.StatusSubmitted, storage.StatusInReview, storage.StatusRevisionRequested,
	storage.StatusResubmitted, storage.StatusApproved, storage.StatusRejected,
}

// optionLabel returns the catalog key of code's label in opts, or code
// itself if it is not one (an option retired after the registration was
// stored still shows something).
func optionLabel(opts Options, code string) string {
	for _, o := range opts {
		if o.Code == code {
			return o.Label
		}
	}
	return code
}

// historyLine is one row of a status history as pages show it.
type historyLine struct {
	Time      string
	StatusKey string
	// Note is the officer's text; registrants see it only where it is
	// meant for them (revision requests and rejections).
	Note  string
	Actor string // officer's username; officer pages only
}

// registrantHistory is the history a registrant sees: no officer names,
// and notes only where they tell the registrant what to do or why.
func registrantHistory(events []storage.RegistrationEvent) []historyLine {
	lines := make([]historyLine, len(events))
	for i, e := range events {
		lines[i] = historyLine{Time: jakartaTime(e.Time), StatusKey: statusKey(e.Status)}
		if e.Status == storage.StatusRevisionRequested || e.Status == storage.StatusRejected {
			lines[i].Note = e.Note
		}
	}
	return lines
}

// latestNote returns the note of the newest event with status s.
func latestNote(events []storage.RegistrationEvent, s storage.RegistrationStatus) string {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Status == s {
			return events[i].Note
		}
	}
	return ""
}

// registrationView is every field of a registration with option codes
// turned into label keys, for the officer's detail page.
type registrationView struct {
	ID, ServiceNumber                   string
	StatusKey                           string
	Submitted, Updated                  string
	PurposeKey, TraderTypeKey           string
	NIBTypeKey, NIB, NPWPTypeKey, NPWP  string
	OrgName, BusinessTypeKey            string
	Address                             storage.Address
	FullName, Position                  string
	IdentityTypeKey, IdentityNumber     string
	Email, Phone                        string
	DocumentID, OrganizationID, UserID  string
	VerifiedBy                          string // the upstream provider that asserted name and NIK
	Status                              storage.RegistrationStatus
	CanStartReview, CanDecide, Approved bool
}

func newRegistrationView(g storage.Registration) registrationView {
	return registrationView{
		ID: g.ID, ServiceNumber: g.ServiceNumber, StatusKey: statusKey(g.Status), Status: g.Status,
		Submitted: jakartaTime(g.SubmittedAt), Updated: jakartaTime(g.UpdatedAt),
		PurposeKey: optionLabel(Purposes, g.Purpose), TraderTypeKey: optionLabel(TraderTypes, g.TraderType),
		NIBTypeKey: optionLabel(NIBTypes, g.NIBType), NIB: g.NIB,
		NPWPTypeKey: optionLabel(NPWPTypes, g.NPWPType), NPWP: printedNPWP(g.NPWP),
		OrgName: g.OrgName, BusinessTypeKey: optionLabel(BusinessTypes, g.BusinessType),
		Address: g.Address, FullName: g.FullName, Position: g.Position,
		IdentityTypeKey: optionLabel(IdentityTypes, g.IdentityType), IdentityNumber: g.IdentityNumber,
		Email: g.Email, Phone: g.Phone, DocumentID: g.DocumentID,
		OrganizationID: g.OrganizationID, UserID: g.UserID, VerifiedBy: g.VerifiedBy,
		CanStartReview: g.Status.CanBecome(storage.StatusInReview),
		CanDecide:      g.Status.CanBecome(storage.StatusApproved),
		Approved:       g.Status == storage.StatusApproved,
	}
}

// choiceView is one option of a select on a page.
type choiceView struct {
	Code, Label string
	Selected    bool
}

func choices(opts Options, selected string) []choiceView {
	out := make([]choiceView, len(opts))
	for i, o := range opts {
		out[i] = choiceView{Code: o.Code, Label: o.Label, Selected: o.Code == selected}
	}
	return out
}

// maxIDLen bounds ids taken from URLs before they reach the store:
// storage.NewID makes 32 characters.
const maxIDLen = 64

// validID reports whether s can be a stored id: a short run of lower-case
// letters and digits, as storage.NewID makes. Anything else is a 404
// without a database round trip.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isDigit(c) || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// errNotFoundPage is the 404 page for an id that names nothing.
func errNotFoundPage(err error) error {
	return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
}

// loadRegistration reads registration id, mapping "no such id" to a 404.
func (h *Handler) loadRegistration(ctx context.Context, id string) (storage.Registration, error) {
	if !validID(id) {
		return storage.Registration{}, errNotFoundPage(fmt.Errorf("registration: malformed id %q", truncateForLog(id)))
	}
	g, err := h.Registrations.RegistrationByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Registration{}, errNotFoundPage(err)
	}
	if err != nil {
		return storage.Registration{}, fmt.Errorf("registration: load %s: %w", id, err)
	}
	return g, nil
}

// truncateForLog keeps attacker-chosen strings in logs short.
func truncateForLog(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.ToValidUTF8(s, "?")
}
