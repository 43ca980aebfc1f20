package registration

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// What an anonymous registrant may store, and how often (DESIGN.md:
// anything an anonymous request stores is bounded per address and in
// total, by a documented setting). Every bound is a field of Handler; a
// zero field takes the default below. Per-address bounds count an IPv4
// address alone and an IPv6 address by its /64 (quota.AddressKey).
//
// The ephemeral store (Redis, or the heap of the embedded default) holds
// only drafts of form fields, each at most maxDraftBytes and living at
// most DraftLimit.Window from its creation, so at any moment it holds at
// most 2 × DraftLimit.PerAddress drafts of one address and 2 ×
// DraftLimit.Total drafts in all (two fixed windows overlap a draft's
// life): with the defaults 40 × 16 KiB per address and 4,000 × 16 KiB =
// 62.5 MiB overall, in practice about a tenth of that (a full draft is
// about 1.5 KiB). Letters never go there: they are in durable storage
// (storage.DraftDocuments), at most one per draft and PendingLetters in
// all, and only a draft whose email address was verified with a code
// may upload one.
var (
	// DefaultDraftLimit bounds new drafts: 20 a day from one address is
	// more than an office registering its clients needs.
	DefaultDraftLimit = quota.Limit{Name: "reg-draft", PerAddress: 20, Total: 2000, Window: 24 * time.Hour}
	// DefaultCodeLimit bounds the verification codes sent by email, so the
	// wizard cannot be used to flood mailboxes (besides the per-draft and
	// per-recipient bounds, maxCodeSends and maxCodesPerRecipient).
	DefaultCodeLimit = quota.Limit{Name: "reg-code", PerAddress: 10, Total: 1000, Window: time.Hour}
	// DefaultUploadLimit bounds letter uploads (each up to 1 MiB written
	// to the database).
	DefaultUploadLimit = quota.Limit{Name: "reg-upload", PerAddress: 30, Total: 2000, Window: time.Hour}
	// DefaultSubmitLimit bounds submissions: ten an hour from one address
	// is more than an honest office needs and few enough that submission
	// cannot be used to test NIBs and emails in bulk (ASVS 2.4.1, with the
	// challenge).
	DefaultSubmitLimit = quota.Limit{Name: "reg-submit", PerAddress: 10, Total: 1000, Window: time.Hour}
	// DefaultTrackLimit bounds tracking lookups: plenty for someone
	// retyping a number, useless for enumerating the 40-bit random part.
	DefaultTrackLimit = quota.Limit{Name: "track", PerAddress: 10, Window: 10 * time.Minute}
	// DefaultRevisionLimit bounds the posts of corrections (each parses a
	// letter of up to 1 MiB) from one address; revisionsPerRegistration
	// bounds them per tracked registration, from anywhere.
	DefaultRevisionLimit = quota.Limit{Name: "track-revisi", PerAddress: 20, Total: 2000, Window: time.Hour}
	// DefaultPendingLetters bounds the letters of all drafts in progress
	// together: at most 500 (≤ 500 MiB) wait in the database at once.
	DefaultPendingLetters = storage.DraftDocumentCap{MaxCount: 500, MaxBytes: 500 << 20}
)

// setDefaults fills the zero limits (init).
func (h *Handler) setDefaults() {
	for _, l := range []struct {
		field *quota.Limit
		def   quota.Limit
	}{
		{&h.DraftLimit, DefaultDraftLimit},
		{&h.CodeLimit, DefaultCodeLimit},
		{&h.UploadLimit, DefaultUploadLimit},
		{&h.SubmitLimit, DefaultSubmitLimit},
		{&h.TrackLimit, DefaultTrackLimit},
		{&h.RevisionLimit, DefaultRevisionLimit},
	} {
		if *l.field == (quota.Limit{}) {
			*l.field = l.def
		}
	}
	if h.PendingLetters == (storage.DraftDocumentCap{}) {
		h.PendingLetters = DefaultPendingLetters
	}
	if h.DraftDocuments == nil {
		// The durable store provides it (sqlstore); finding it there keeps
		// the wiring in cmd/satupintu optional.
		h.DraftDocuments, _ = h.Registrations.(storage.DraftDocuments)
	}
	if h.Marks == nil {
		h.Marks, _ = h.Counters.(storage.OneTime)
	}
}

// revisionsPerRegistration bounds the correction posts for one tracked
// registration an hour: a few tries at fixing field errors, never a sweep.
var revisionsPerRegistration = quota.Limit{Name: "track-revisi-reg", PerAddress: 10, Window: time.Hour}

// takeRevision uses one unit of the address's RevisionLimit and one of the
// registration's own allowance: a 429 page over either.
func (h *Handler) takeRevision(w http.ResponseWriter, r *http.Request, registrationID string) error {
	if err := h.take(w, r, h.RevisionLimit, "track.revisi_rate_limited"); err != nil {
		return err
	}
	// The allowance is per registration: its id stands in for the address.
	err := revisionsPerRegistration.Take(r.Context(), h.Counters, registrationID)
	if errors.Is(err, quota.ErrExceeded) {
		h.Logger.InfoContext(r.Context(), "quota exceeded", "quota", revisionsPerRegistration.Name, "registration_id", registrationID)
		w.Header().Set("Retry-After", strconv.Itoa(int(revisionsPerRegistration.Window/time.Second)))
		return &web.Error{Status: http.StatusTooManyRequests, MessageKey: "track.revisi_rate_limited", Err: err}
	}
	if err != nil {
		return fmt.Errorf("registration: %w", err)
	}
	return nil
}

// take uses one unit of l for r's client address: a 429 page saying
// messageKey over the allowance (web.TakeQuota).
func (h *Handler) take(w http.ResponseWriter, r *http.Request, l quota.Limit, messageKey string) error {
	return web.TakeQuota(w, r, l, h.Counters, messageKey, h.Logger)
}
