package registration

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"satupintu/mail"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/web"
)

// Officer review: the queue, one registration with its document and
// history, and the decisions. Every route checks the role on the server
// (ASVS 8.2.1, 8.3.1); every decision is one UpdateRegistration (or
// ApproveRegistration) transaction that re-checks the status under the
// row lock, so of two officers deciding at once exactly one wins and the
// other is told so.

const (
	// queuePageSize rows per page of the queue.
	queuePageSize = 25
	// maxNoteLen bounds an officer's note in runes: a few paragraphs.
	maxNoteLen = 1000
)

// officerHandler is a page handler that runs only for a signed-in officer.
type officerHandler func(w http.ResponseWriter, r *http.Request, officer storage.User) error

// officerOnly lets fn run for a signed-in officer (session.Guard.RequireRole).
// Anyone else is turned away before the request body is read: an anonymous
// browser goes to the sign-in page, a signed-in user without the role gets
// 403.
func (h *Handler) officerOnly(fn officerHandler) web.HandlerFunc {
	return h.guard.RequireRole(storage.RoleOfficer)(func(w http.ResponseWriter, r *http.Request) error {
		who, _ := session.From(r.Context())
		return fn(w, r, who.User)
	})
}

// queuePage is the data of the "officer" page.
type queuePage struct {
	Status, TraderType, From, To string
	Statuses, TraderTypes        []choiceView
	Rows                         []queueRow
	NextURL                      string
	Paged                        bool // not the first page: offer a way back
	ErrorKey                     string
}

type queueRow struct {
	ID, ServiceNumber, OrgName, NIB string
	TraderTypeKey, StatusKey        string
	Submitted                       string
}

// queueFilter is the queue's query string, parsed.
type queueFilter struct {
	storage.RegistrationFilter
	from, to, after string // as given, for the next-page link
}

// parseQueueFilter reads the filters and the keyset cursor. Dates are
// calendar days in Jakarta; "to" is inclusive, so it becomes the next
// day's midnight for the store's half-open range.
func parseQueueFilter(q url.Values) (queueFilter, bool) {
	f := queueFilter{from: q.Get("from"), to: q.Get("to"), after: q.Get("after")}
	ok := true
	if s := q.Get("status"); s != "" {
		valid := false
		for _, st := range reviewStatuses {
			if string(st) == s {
				f.Status, valid = st, true
			}
		}
		ok = ok && valid
	}
	if t := q.Get("trader_type"); t != "" {
		c, err := Choice(FieldTraderType, t, TraderTypes.Codes())
		f.TraderType, ok = c, ok && err == nil
	}
	day := func(s string) (time.Time, bool) {
		if s == "" {
			return time.Time{}, true
		}
		t, err := time.ParseInLocation("2006-01-02", s, jakarta)
		return t, err == nil
	}
	var good bool
	if f.From, good = day(f.from); !good {
		ok = false
	}
	if f.To, good = day(f.to); !good {
		ok = false
	} else if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1)
	}
	if f.after != "" {
		at, id, found := strings.Cut(f.after, "_")
		micros, err := strconv.ParseInt(at, 10, 64)
		if !found || err != nil || micros <= 0 || !validID(id) {
			ok = false
		} else {
			f.AfterSubmitted, f.AfterID = time.UnixMicro(micros).UTC(), id
		}
	}
	return f, ok
}

// queueCursor is the "after" value that continues after g: its submission
// time in microseconds (what the stores keep) and its id.
func queueCursor(g storage.Registration) string {
	return strconv.FormatInt(g.SubmittedAt.UnixMicro(), 10) + "_" + g.ID
}

// showQueue answers GET /officer: newest first, queuePageSize a page,
// paged by keyset (never OFFSET, whose cost grows with the page number).
func (h *Handler) showQueue(w http.ResponseWriter, r *http.Request, _ storage.User) error {
	q := r.URL.Query()
	f, ok := parseQueueFilter(q)
	page := queuePage{
		Status: q.Get("status"), TraderType: q.Get("trader_type"), From: f.from, To: f.to,
		TraderTypes: choices(TraderTypes, q.Get("trader_type")), Paged: f.after != "",
	}
	for _, st := range reviewStatuses {
		page.Statuses = append(page.Statuses, choiceView{Code: string(st), Label: statusKey(st), Selected: string(st) == page.Status})
	}
	if !ok {
		page.ErrorKey = "officer.filter_invalid"
		return h.render.Render(w, r, http.StatusBadRequest, "officer", page)
	}
	f.Limit = queuePageSize + 1 // one more tells whether a next page exists
	gs, err := h.Registrations.ListRegistrations(r.Context(), f.RegistrationFilter)
	if err != nil {
		return fmt.Errorf("registration: list queue: %w", err)
	}
	if len(gs) > queuePageSize {
		gs = gs[:queuePageSize]
		next := url.Values{}
		for _, k := range []string{"status", "trader_type", "from", "to"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("after", queueCursor(gs[len(gs)-1]))
		page.NextURL = "/officer?" + next.Encode()
	}
	for _, g := range gs {
		page.Rows = append(page.Rows, queueRow{
			ID: g.ID, ServiceNumber: g.ServiceNumber, OrgName: g.OrgName, NIB: g.NIB,
			TraderTypeKey: optionLabel(TraderTypes, g.TraderType), StatusKey: statusKey(g.Status),
			Submitted: jakartaTime(g.SubmittedAt),
		})
	}
	return h.render.Render(w, r, http.StatusOK, "officer", page)
}

// officerRegistrationPage is the data of the "officer_registration" page.
type officerRegistrationPage struct {
	Reg      registrationView
	History  []historyLine
	Document *documentView
	Account  *accountView
	// Existing is the organization an undecided registration would join,
	// compared field by field (join.go); nil for a new company.
	Existing *storage.Organization
	Compare  []compareRow
	// NoticeKey reports what the last action did; ErrorKey why it failed.
	NoticeKey, NoticeArg string
	ErrorKey             string
	// NoteForm names the decision form ("reject", "revision") whose note
	// was refused, with the note as typed and the error.
	NoteForm, Note, NoteErrorKey string
	MaxNote                      int
}

type documentView struct {
	ID, FileName, ContentType, SHA256 string
	Size                              int
	Uploaded                          string
}

// accountView is the account approval created; never its password or
// tokens, which officers have no business seeing.
type accountView struct {
	Username  string
	Activated bool
}

// notices are the results a redirect after a decision may report; the
// query only picks one of these keys, so a crafted link shows nothing else.
var notices = map[string]string{
	"decided":   "officer.decided",
	"approved":  "officer.approved",
	"mail_sent": "officer.mail_sent",
}

func (h *Handler) showOfficerRegistration(w http.ResponseWriter, r *http.Request, _ storage.User) error {
	g, err := h.loadRegistration(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.renderOfficerRegistration(w, r, http.StatusOK, g, func(p *officerRegistrationPage) {
		p.NoticeKey = notices[r.URL.Query().Get("notice")]
		if p.NoticeKey == "officer.approved" {
			p.NoticeArg = g.Email
		}
	})
}

// renderOfficerRegistration shows registration g as it is now, with edit
// adding a notice or an error.
func (h *Handler) renderOfficerRegistration(w http.ResponseWriter, r *http.Request, status int, g storage.Registration, edit func(*officerRegistrationPage)) error {
	ctx := r.Context()
	events, err := h.Registrations.RegistrationEvents(ctx, g.ID)
	if err != nil {
		return fmt.Errorf("registration: load history: %w", err)
	}
	page := officerRegistrationPage{Reg: newRegistrationView(g), MaxNote: maxNoteLen}
	names := map[string]string{}
	for _, e := range events {
		line := historyLine{Time: jakartaTime(e.Time), StatusKey: statusKey(e.Status), Note: e.Note}
		if e.ActorID != "" {
			if _, seen := names[e.ActorID]; !seen {
				names[e.ActorID] = e.ActorID // a deleted officer still shows as someone
				if u, err := h.Users.UserByID(ctx, e.ActorID); err == nil {
					names[e.ActorID] = u.Username
				} else if !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("registration: load officer: %w", err)
				}
			}
			line.Actor = names[e.ActorID]
		}
		page.History = append(page.History, line)
	}
	if g.DocumentID != "" {
		d, err := h.Registrations.DocumentByID(ctx, g.DocumentID)
		switch {
		case err == nil:
			page.Document = &documentView{ID: d.ID, FileName: d.FileName, ContentType: d.ContentType,
				SHA256: d.SHA256, Size: len(d.Data), Uploaded: jakartaTime(d.CreatedAt)}
		case !errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("registration: load document: %w", err)
		}
	}
	if g.UserID != "" {
		u, err := h.Users.UserByID(ctx, g.UserID)
		switch {
		case err == nil:
			page.Account = &accountView{Username: u.Username, Activated: u.PasswordHash != ""}
		case !errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("registration: load account: %w", err)
		}
	}
	if page.Existing, err = h.existingOrganization(ctx, g); err != nil {
		return err
	}
	if page.Existing != nil {
		page.Compare = compareOrganization(g, *page.Existing)
	}
	if edit != nil {
		edit(&page)
	}
	return h.render.Render(w, r, status, "officer_registration", page)
}

// officerPost parses a decision form and checks its CSRF token.
func (h *Handler) officerPost(w http.ResponseWriter, r *http.Request) (storage.Registration, error) {
	if err := parseSmallForm(w, r); err != nil {
		return storage.Registration{}, err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return storage.Registration{}, err
	}
	return h.loadRegistration(r.Context(), r.PathValue("id"))
}

// renderConflict shows the registration as it is now with why the
// decision did not happen: someone else decided first, or it is not in a
// state this decision applies to.
func (h *Handler) renderConflict(w http.ResponseWriter, r *http.Request, id, key string) error {
	g, err := h.loadRegistration(r.Context(), id)
	if err != nil {
		return err
	}
	return h.renderOfficerRegistration(w, r, http.StatusConflict, g, func(p *officerRegistrationPage) { p.ErrorKey = key })
}

// decision is one status change an officer can make with UpdateRegistration;
// from which statuses is the transition table's (storage.RegistrationStatus.Next).
type decision struct {
	name   string // the form's name, for its note error
	to     storage.RegistrationStatus
	note   bool // a note for the registrant is required
	action string
	// mail, if set, tells the registrant, with the note.
	mail func(h *Handler, g storage.Registration, note string) mail.Message
}

var (
	startReview = decision{name: "review", to: storage.StatusInReview, action: "registration.review"}
	reject      = decision{name: "reject", to: storage.StatusRejected, note: true, action: "registration.reject",
		mail: (*Handler).rejectionMail}
	requestRevision = decision{name: "revision", to: storage.StatusRevisionRequested, note: true,
		action: "registration.request_revision", mail: (*Handler).revisionMail}
)

// decide returns the handler of decision d.
func (h *Handler) decide(d decision) officerHandler {
	return func(w http.ResponseWriter, r *http.Request, officer storage.User) error {
		g, err := h.officerPost(w, r)
		if err != nil {
			return err
		}
		var note string
		if d.note {
			var key string
			if note, key = officerNote(r.PostForm.Get("note")); key != "" {
				return h.renderOfficerRegistration(w, r, http.StatusOK, g, func(p *officerRegistrationPage) {
					p.NoteForm, p.Note, p.NoteErrorKey = d.name, r.PostForm.Get("note"), key
				})
			}
		}
		now := h.Now().UTC()
		var decided storage.Registration // as fn saw it, for the mail
		var hooks []storage.TxHook
		if d.mail != nil {
			// The registrant hears of the decision in its own transaction.
			hooks = append(hooks, h.mailHook(func() mail.Message { return d.mail(h, decided, note) }))
		}
		ev := storage.AuditEvent{Action: d.action, ActorID: officer.ID, Subject: g.ID,
			Detail: map[string]string{"service_number": g.ServiceNumber, "status": string(d.to)}}
		err = h.Registrations.UpdateRegistration(h.audited(r, ev), g.ID, func(cur *storage.Registration) (storage.RegistrationEvent, *storage.Document, error) {
			if !cur.Status.CanBecome(d.to) {
				return storage.RegistrationEvent{}, nil, fmt.Errorf("registration is %s: %w", cur.Status, storage.ErrConflict)
			}
			cur.Status, cur.UpdatedAt = d.to, now
			decided = *cur
			return storage.RegistrationEvent{Status: d.to, ActorID: officer.ID, Note: note, Time: now}, nil, nil
		}, hooks...)
		if errors.Is(err, storage.ErrConflict) {
			h.Logger.InfoContext(r.Context(), "decision lost", "registration_id", g.ID, "decision", d.name, "officer_id", officer.ID)
			return h.renderConflict(w, r, g.ID, "officer.conflict")
		}
		if err != nil {
			return fmt.Errorf("registration: %s %s: %w", d.name, g.ID, err)
		}
		redirect(w, r, "/officer/registrations/"+g.ID+"?notice=decided")
		return nil
	}
}

// officerNote checks a note for the registrant: required, valid UTF-8
// without control or format characters, white space collapsed, at most
// maxNoteLen runes. It returns the note or an error key.
func officerNote(s string) (string, string) {
	if !utf8.ValidString(s) {
		return "", "officer.note_invalid"
	}
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	if s == "" {
		return "", "officer.note_required"
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", "officer.note_invalid"
		}
	}
	if utf8.RuneCountInString(s) > maxNoteLen {
		return "", "officer.note_too_long"
	}
	return s, ""
}

// downloadTypes are the content types a document may be served with;
// anything else stored (by a bug or another writer) goes out as opaque
// bytes.
var downloadTypes = map[string]bool{TypePDF: true, TypeJPEG: true, TypePNG: true}

// downloadDocument answers GET /officer/documents/{id}. The letter is
// always an attachment, never rendered in our origin: nosniff stops type
// guessing, and the sandbox CSP strips script and same-origin rights should
// a browser render it anyway (ASVS 3.2.1, 5.4.1).
func (h *Handler) downloadDocument(w http.ResponseWriter, r *http.Request, officer storage.User) error {
	id := r.PathValue("id")
	if !validID(id) {
		return errNotFoundPage(fmt.Errorf("registration: malformed document id %q", truncateForLog(id)))
	}
	d, err := h.Registrations.DocumentByID(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotFoundPage(err)
	}
	if err != nil {
		return fmt.Errorf("registration: load document %s: %w", id, err)
	}
	ct := d.ContentType
	if !downloadTypes[ct] {
		ct = "application/octet-stream"
	}
	name := d.FileName
	if name == "" {
		name = SanitizeFileName("", ct)
	}
	h.audit(r, storage.AuditEvent{Action: "registration.document_download", ActorID: officer.ID, Subject: d.RegistrationID,
		Detail: map[string]string{"document_id": d.ID, "sha256": d.SHA256}})
	hdr := w.Header()
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Disposition", ContentDisposition(name))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(d.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(d.Data) // a client that went away is nothing to report
	}
	return nil
}
