package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/mail"
	"satupintu/quota"
	"satupintu/storage"
)

// Submission. Its bound per address (or IPv6 /64) is Handler.SubmitLimit.
const (
	submitAttempts = 3 // service numbers tried before giving up (a collision is ~1 in 10^12 per pair)
	// submitLockTTL bounds how long one draft's submission holds its lock
	// if the process dies mid-way.
	submitLockTTL = time.Minute
	// defaultSubmitWait is how long a second click on "Yes, submit" waits
	// for the first one's result (Handler.submitWait).
	defaultSubmitWait = 5 * time.Second
	// submitLockPrefix + draft id is the counter used as that lock.
	submitLockPrefix = "reg-submit-lock:"
)

// submit answers "Yes, submit" on the confirmation page: everything is
// checked again (never trusting earlier steps), then the registration, its
// letter and its first event are stored in one transaction, and the
// browser goes to the success page.
//
// No enumeration: when the NIB or the email already has an account or a
// registration in progress, nothing is stored, and the answer is the very
// same redirect and page as for a new registration. What happened goes by
// mail to the address the registrant verified (wizard_verify.go): the
// service number, or "this email already has an account: sign in or reset
// the password" and its kin. A page never says whether an email, a
// username or a NIB is known. (The officer is not the one to tell: a
// duplicate would sit in the queue, and the registrant, who can act on
// it at once, would wait for nothing.)
func (h *Handler) submit(w http.ResponseWriter, r *http.Request, id string, d *draft) error {
	ctx := r.Context()
	c, bad := normalized(d)
	if c == nil {
		redirect(w, r, stepURL(steps[bad].slug))
		return nil
	}
	// One submission per draft at a time: a double click must not store
	// two registrations (the duplicate check below cannot see one being
	// written at the same moment), nor see the draft vanish under it. The
	// lock is kept after success; the done marker answers later clicks.
	// It comes before the challenge: both clicks carry one answer, which
	// only the first can use, so the second must wait for the first's result.
	lock := submitLockPrefix + id
	if n, err := h.Counters.Incr(ctx, lock, submitLockTTL); err != nil {
		return fmt.Errorf("registration: lock submission: %w", err)
	} else if n > 1 {
		return h.awaitSubmission(w, r, id, d)
	}
	unlock := func() {
		if err := h.Counters.ResetCounter(context.WithoutCancel(ctx), lock); err != nil {
			h.Logger.ErrorContext(ctx, "unlock registration submission", "error", err)
		}
	}

	// The challenge, before the rate limit counts the attempt and before any
	// lookup (ASVS 2.4.1; wizard_captcha.go).
	if alert, err := h.unsolvedCaptcha(r); err != nil || alert != "" {
		unlock()
		if err != nil {
			return err
		}
		h.auditRefusal(r, newAudit("registration.submit_refused", "captcha"))
		return h.renderConfirm(w, r, http.StatusOK, d, alert)
	}
	if err := h.take(w, r, h.SubmitLimit, "reg.rate_limited"); err != nil {
		unlock()
		if errors.Is(err, quota.ErrExceeded) { // the 429 page wraps it
			h.auditRefusal(r, newAudit("registration.submit_refused", "rate_limited"))
		}
		return err
	}

	// The letter is checked first, for every outcome alike, so that
	// "upload it again" never hints at which outcome it would have been.
	stored, err := h.documentStored(ctx, id, d)
	if err != nil {
		unlock()
		return err
	}
	if !stored {
		unlock()
		return h.documentLost(w, r, id, d)
	}

	v := c.Values
	email := v[FieldEmail]
	reason, err := h.alreadyRegistered(ctx, v[FieldNIB], email)
	if err != nil {
		unlock()
		return err
	}
	if reason != "" {
		// Received like any other; the mail says what to do instead.
		h.audit(r, newAudit("registration.submit_refused", reason))
		h.Logger.InfoContext(ctx, "registration not created: already registered", "reason", reason)
		if err := h.sendDuplicateMail(ctx, reason, c); err != nil {
			h.Logger.ErrorContext(ctx, "send already-registered mail", "error", err)
		}
		return h.closeSubmission(w, r, id, email)
	}

	joins, err := h.joinsOrganization(ctx, v[FieldNIB])
	if err != nil {
		unlock()
		return err
	}
	now := h.Now().UTC()
	meta := c.Document
	doc := storage.Document{
		ID:          storage.NewID(),
		FileName:    meta.FileName,
		ContentType: meta.ContentType,
		SHA256:      meta.SHA256,
		CreatedAt:   now,
	}
	reg := c.registration(storage.NewID(), "", doc.ID, now)
	doc.RegistrationID = reg.ID
	for attempt := 1; ; attempt++ {
		reg.ServiceNumber = NewServiceNumber(now)
		// The letter moves from the draft into the registration in the
		// same transaction (storage.DraftDocuments).
		// So is the mail with the service number: it is sent if and only
		// if the registration exists (reg is read when the hook runs).
		// The event too, with this attempt's number: a rolled-back
		// attempt leaves its own pending on a context no one uses again.
		actx := h.audited(r, storage.AuditEvent{Action: "registration.submit", Subject: reg.ID,
			Detail: map[string]string{"service_number": reg.ServiceNumber}})
		err = h.DraftDocuments.CreateRegistrationFromDraft(actx, reg, doc, id, now,
			h.mailHook(func() mail.Message { return h.receivedMail(reg, joins) }))
		if err == nil || !errors.Is(err, storage.ErrAlreadyExists) || attempt == submitAttempts {
			break
		}
		h.Logger.WarnContext(ctx, "service number taken, drawing another", "attempt", attempt)
	}
	if errors.Is(err, storage.ErrNotFound) {
		// The letter expired between the check and now.
		unlock()
		return h.documentLost(w, r, id, d)
	}
	if err != nil {
		unlock()
		return fmt.Errorf("registration: create registration: %w", err)
	}

	// The registration is stored: from here on a failure is logged, never
	// shown, or the registrant would think it was lost and try again.
	h.Logger.InfoContext(ctx, "registration submitted", "registration_id", reg.ID, "service_number", reg.ServiceNumber)
	return h.closeSubmission(w, r, id, email)
}

// closeSubmission ends a draft that was submitted, whatever came of it:
// the done marker for a second click, the draft and its letter deleted,
// and the success page.
func (h *Handler) closeSubmission(w http.ResponseWriter, r *http.Request, id, email string) error {
	ctx := r.Context()
	if err := h.Drafts.SaveDraft(ctx, doneKeyPrefix+id, []byte(email), doneTTL); err != nil {
		h.Logger.ErrorContext(ctx, "remember submitted draft", "error", err)
	}
	if err := h.deleteDraft(ctx, w, id); err != nil {
		h.Logger.ErrorContext(ctx, "delete submitted draft", "error", err)
	}
	return h.finishSubmission(w, r, email)
}

// documentLost sends the registrant back to the upload step: the letter
// expired or broke before the draft did, so it is asked for again rather
// than submitted without.
func (h *Handler) documentLost(w http.ResponseWriter, r *http.Request, id string, d *draft) error {
	d.Document, d.DocumentLost = nil, true
	if _, err := h.saveDraft(w, r, id, d); err != nil {
		return err
	}
	redirect(w, r, stepURL(StepDocument))
	return nil
}

// finishSubmission hands the address the outcome was mailed to to the
// success page through the done cookie and clears the draft cookie. The
// page is reached by a redirect so that reloading it shows it again
// instead of posting the form a second time.
func (h *Handler) finishSubmission(w http.ResponseWriter, r *http.Request, email string) error {
	if err := h.setCookie(w, h.draftCookie(), nil, -1); err != nil {
		return err
	}
	if err := h.setDone(w, email); err != nil {
		return err
	}
	redirect(w, r, stepURL(StepDone))
	return nil
}

// submitted returns the address draft id's submission was mailed to, if
// it was submitted within doneTTL.
func (h *Handler) submitted(ctx context.Context, id string) (string, bool) {
	if id == "" {
		return "", false
	}
	b, err := h.Drafts.Draft(ctx, doneKeyPrefix+id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			h.Logger.ErrorContext(ctx, "look up submitted draft", "error", err)
		}
		return "", false
	}
	return string(b), len(b) > 0
}

// awaitSubmission answers a submission of a draft whose other submission
// is in progress: it waits briefly for that one's service number. If the
// other one fails (a duplicate, an error), its lock is gone and the
// registrant can try again from the confirmation page.
func (h *Handler) awaitSubmission(w http.ResponseWriter, r *http.Request, id string, d *draft) error {
	ctx := r.Context()
	wait := h.submitWait
	if wait <= 0 {
		wait = defaultSubmitWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lock := submitLockPrefix + id
	for {
		if email, ok := h.submitted(ctx, id); ok {
			return h.finishSubmission(w, r, email)
		}
		// No marker and no lock: the other submission failed and said why
		// on its own page; this one need not wait out the timer.
		if n, err := h.Counters.Count(ctx, lock); err == nil && n == 0 {
			return h.renderConfirm(w, r, http.StatusConflict, d, "reg.submit_busy")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return h.renderConfirm(w, r, http.StatusConflict, d, "reg.submit_busy")
		case <-tick.C:
		}
	}
}

// alreadyRegistered reports why an email may not register again: an
// undecided registration or an account with the email. The page never
// shows it; the mail does (sendDuplicateMail). A NIB is no reason: a known
// NIB joins its organization, and two open registrations of one new NIB
// are both reviewed, the first approved creating the organization and the
// second joining it (join.go).
func (h *Handler) alreadyRegistered(ctx context.Context, _, email string) (string, error) {
	_, err := h.Registrations.OpenRegistrationFor(ctx, "", email)
	switch {
	case err == nil:
		return "open_registration", nil
	case !errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("registration: look up open registration: %w", err)
	}
	_, err = h.Users.UserByLogin(ctx, email)
	switch {
	case err == nil:
		return "user_exists", nil
	case !errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("registration: look up user: %w", err)
	}
	return "", nil
}
