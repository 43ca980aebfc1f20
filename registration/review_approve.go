package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"satupintu/mail"
	"satupintu/storage"
)

// Approval: the organization, the user, the activation token and the
// activation email (in the outbox) are created with the decision in one
// transaction (ApproveRegistration). The outbox retries the email until
// the mail server takes it; the officer can still send a new link.

// mailTimeout bounds queueing one email that belongs to no transaction.
const mailTimeout = 30 * time.Second

// approve answers POST /officer/registrations/{id}/approve.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request, officer storage.User) error {
	ctx := r.Context()
	g, err := h.officerPost(w, r)
	if err != nil {
		return err
	}
	// ApproveRegistration itself only refuses decided registrations; the
	// review step comes first, so approving needs in_review.
	if !g.Status.CanBecome(storage.StatusApproved) {
		return h.renderConflict(w, r, g.ID, "officer.conflict")
	}
	// Checked before anything is built so the officer gets the specific
	// message; ApproveRegistration checks again inside its transaction.
	if taken, err := h.accountTaken(ctx, g); err != nil {
		return err
	} else if taken {
		return h.renderConflict(w, r, g.ID, "officer.exists")
	}
	username, err := h.newUsername(ctx, g.Email)
	if err != nil {
		return err
	}

	now := h.Now().UTC()
	org := storage.Organization{
		ID: storage.NewID(), NIB: g.NIB, NPWP: g.NPWP, Name: g.OrgName,
		TraderType: g.TraderType, BusinessType: g.BusinessType, Address: g.Address,
		CreatedAt: now, UpdatedAt: now,
	}
	// No password yet and the email unverified: the activation link sets
	// the one and proves the other.
	user := storage.User{
		ID: storage.NewID(), Username: username, Email: g.Email, Name: g.FullName,
		Phone: g.Phone, Position: g.Position, OrganizationID: org.ID,
		CreatedAt: now, UpdatedAt: now,
	}
	secret, token := newActivationToken(user.ID, now)
	ev := storage.RegistrationEvent{Status: storage.StatusApproved, ActorID: officer.ID, Time: now}
	activation := h.mailHook(func() mail.Message {
		return h.activationMessage(activationMail{
			To: user.Email, Name: user.Name, OrgName: org.Name, ServiceNumber: g.ServiceNumber,
			Username: user.Username, Secret: secret, Expires: token.ExpiresAt,
		})
	})
	// The event is stored with the approval, so which organization the
	// user joins is read before: ApproveRegistration joins the one with
	// this NIB (UNIQUE) if there is one, else creates org. Only an
	// approval creating that NIB in between would make the store join
	// where the event says created; that is logged below.
	joined := false
	if o, err := h.Organizations.OrganizationByNIB(ctx, g.NIB); err == nil {
		joined, org = true, o
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("registration: look up organization by NIB: %w", err)
	}
	audited := h.audited(r, storage.AuditEvent{Action: "registration.approve", ActorID: officer.ID, Subject: g.ID,
		Detail: map[string]string{
			"service_number": g.ServiceNumber, "organization_id": org.ID, "user_id": user.ID,
			"username": user.Username, "activation_mail": "queued", "joined": fmt.Sprint(joined),
		}})
	err = h.Registrations.ApproveRegistration(audited, g.ID, org, user, token, ev, activation)
	switch {
	case errors.Is(err, storage.ErrConflict):
		h.Logger.InfoContext(ctx, "decision lost", "registration_id", g.ID, "decision", "approve", "officer_id", officer.ID)
		return h.renderConflict(w, r, g.ID, "officer.conflict")
	case errors.Is(err, storage.ErrAlreadyExists):
		h.Logger.InfoContext(ctx, "approval refused: account exists", "registration_id", g.ID, "error", err)
		return h.renderConflict(w, r, g.ID, "officer.exists")
	case err != nil:
		return fmt.Errorf("registration: approve %s: %w", g.ID, err)
	}
	if done, err := h.Registrations.RegistrationByID(ctx, g.ID); err != nil {
		h.Logger.ErrorContext(ctx, "reload approved registration", "registration_id", g.ID, "error", err)
	} else if done.OrganizationID != org.ID {
		h.Logger.WarnContext(ctx, "approval joined an organization created meanwhile", "registration_id", g.ID,
			"organization_id", done.OrganizationID, "audited_organization_id", org.ID)
	}
	redirect(w, r, "/officer/registrations/"+g.ID+"?notice=approved")
	return nil
}

// accountTaken reports whether approval would collide with an existing
// account (by email). An existing organization (by NIB) is joined.
func (h *Handler) accountTaken(ctx context.Context, g storage.Registration) (bool, error) {
	if _, err := h.Users.UserByLogin(ctx, g.Email); err == nil {
		return true, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("registration: check email: %w", err)
	}
	return false, nil
}

// resendActivation answers POST /officer/registrations/{id}/resend-activation:
// a new token and a new email for an approved account not yet activated.
// Earlier links stay valid until they expire; whichever is used first
// activates the account, and activation refuses the rest.
func (h *Handler) resendActivation(w http.ResponseWriter, r *http.Request, officer storage.User) error {
	ctx := r.Context()
	g, err := h.officerPost(w, r)
	if err != nil {
		return err
	}
	if g.Status != storage.StatusApproved || g.UserID == "" {
		return h.renderConflict(w, r, g.ID, "officer.conflict")
	}
	u, err := h.Users.UserByID(ctx, g.UserID)
	if err != nil {
		return fmt.Errorf("registration: load account %s: %w", g.UserID, err)
	}
	if u.PasswordHash != "" {
		return h.renderConflict(w, r, g.ID, "officer.already_active")
	}
	now := h.Now().UTC()
	secret, token := newActivationToken(u.ID, now)
	activation := h.mailHook(func() mail.Message {
		return h.activationMessage(activationMail{
			To: u.Email, Name: u.Name, OrgName: g.OrgName, ServiceNumber: g.ServiceNumber,
			Username: u.Username, Secret: secret, Expires: token.ExpiresAt,
		})
	})
	ev := storage.AuditEvent{Action: "registration.resend_activation", ActorID: officer.ID, Subject: g.ID,
		Detail: map[string]string{"user_id": u.ID, "activation_mail": "queued"}}
	if err := h.Tokens.CreateActionToken(h.audited(r, ev), token, activation); err != nil {
		return fmt.Errorf("registration: create activation token: %w", err)
	}
	redirect(w, r, "/officer/registrations/"+g.ID+"?notice=mail_sent")
	return nil
}

// maxUsernameBase leaves room for the suffix within a comfortable length.
const maxUsernameBase = 30

// usernameBase derives a username from an email's local part: lower case,
// only [a-z0-9._-], no leading or trailing punctuation. "Budi.Santoso+ppjk"
// becomes "budi.santosoppjk"; a local part with nothing usable gives "user".
func usernameBase(email string) string {
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	var b strings.Builder
	for i := 0; i < len(local); i++ {
		c := lowerASCII(local[i])
		if isDigit(c) || c >= 'a' && c <= 'z' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
		}
	}
	s := trimName(b.String())
	if len(s) > maxUsernameBase {
		s = trimName(s[:maxUsernameBase])
	}
	if s == "" {
		s = "user"
	}
	return s
}

// newUsername returns a username for email that no account uses yet: the
// base, or the base with a short random suffix. A race with another
// approval taking the same name between this check and the insert ends in
// ErrAlreadyExists, which the officer sees and can simply retry.
func (h *Handler) newUsername(ctx context.Context, email string) (string, error) {
	return FreeUsername(ctx, h.Users, email)
}

// UserFinder looks a login up; FreeUsername needs nothing more.
type UserFinder interface {
	UserByLogin(ctx context.Context, login string) (storage.User, error)
}

// FreeUsername is newUsername for every package that makes accounts from an
// email address (an accepted invitation, through cmd/satupintu), so that
// all usernames have one shape.
func FreeUsername(ctx context.Context, users UserFinder, email string) (string, error) {
	base := usernameBase(email)
	for i := range 8 {
		name := base
		if i > 0 {
			// rand.Text is base32 (A–Z, 2–7); four characters are 20 bits.
			name = base + "-" + strings.ToLower(rand.Text()[:4])
		}
		_, err := users.UserByLogin(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", fmt.Errorf("registration: check username: %w", err)
		}
	}
	return "", fmt.Errorf("registration: no free username for %q", base)
}

// activationMail is what the activation email says.
type activationMail struct {
	To, Name, OrgName, ServiceNumber, Username string
	Secret                                     string // goes into the link only; never logged
	Expires                                    time.Time
}

// activationMessage is the activation email, Indonesian first, then
// English.
func (h *Handler) activationMessage(m activationMail) mail.Message {
	link := h.link("/activate?token=" + m.Secret)
	expires := jakartaTime(m.Expires)
	return h.bilingual(m.To, "review.mail.subject", func(lang string) string {
		return h.Pages.T(lang, "review.mail.body", m.Name, m.OrgName, m.ServiceNumber, m.Username, link, expires)
	})
}
