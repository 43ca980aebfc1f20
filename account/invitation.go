package account

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"satupintu/password"
	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// Accepting an invitation (GET and POST /invitation). The link's holder
// proves they read the invited mailbox, as an activation link does, so a
// new account made here starts with a verified email. The invitee sets a
// name, a password and accepts the terms; someone whose email already has
// an account signs in first and accepts with one button, so no password is
// ever set on an existing account through a link.
//
// Every answer for an unknown, used, expired or cancelled link is the same
// page. The link page names the company and the inviting administrator:
// the holder of the link is who was meant to learn them.

// DefaultAcceptLimit bounds the anonymous acceptance attempts (each may
// create an account) per address: a link is single use, so an honest
// invitee needs one or two.
var DefaultAcceptLimit = quota.Limit{Name: "invite-accept", PerAddress: 20, Total: 5000, Window: time.Hour}

// invitationSecretLen is the length of base64url(32 bytes).
const invitationSecretLen = 43

func wellFormedInvitation(s string) bool {
	if len(s) != invitationSecretLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// invitationPage is the data of the "invitation" page.
type invitationPage struct {
	Token, OrgName, InvitedBy, Email string
	// Existing: the email has an account; SignedInAs is set when that
	// account is signed in here (and may accept), Mismatch when another is.
	Existing, Mismatch bool
	SignedInAs         string
	Name, Position     string
	ErrorKey           string
	NameErrorKey       string
	PasswordErrorKey   string
	PasswordErrorArg   int
	ConfirmErrorKey    string
	TermsErrorKey      string
	MinPasswordLength  int
	MaxPasswordLength  int
	NeedsOfficer       bool
}

// liveInvitation finds the invitation of secret; nil when the link is dead.
func (h *Handler) liveInvitation(ctx context.Context, secret string) (*storage.Invitation, error) {
	if !wellFormedInvitation(secret) {
		return nil, nil
	}
	inv, err := h.Invitations.LiveInvitation(ctx, invitationHash(secret), h.Now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("account: load invitation: %w", err)
	}
	return &inv, nil
}

func (h *Handler) invitationPage(r *http.Request, secret string, inv storage.Invitation) (invitationPage, error) {
	ctx := r.Context()
	page := invitationPage{Token: secret, Email: inv.Email, MinPasswordLength: password.MinLength,
		MaxPasswordLength: password.MaxLength, NeedsOfficer: h.InviteNeedsOfficer}
	org, err := h.Organizations.OrganizationByID(ctx, inv.OrganizationID)
	if err != nil {
		return page, fmt.Errorf("account: load organization: %w", err)
	}
	page.OrgName = org.Name
	if by, err := h.Users.UserByID(ctx, inv.InvitedBy); err == nil {
		page.InvitedBy = by.Name
	}
	_, err = h.Users.UserByLogin(ctx, inv.Email)
	switch {
	case err == nil:
		page.Existing = true
		if _, u, ok := h.CurrentSession(r); ok {
			page.SignedInAs = u.Username
			page.Mismatch = u.Email != inv.Email
		}
	case !errors.Is(err, storage.ErrNotFound):
		return page, fmt.Errorf("account: look up invitee: %w", err)
	}
	return page, nil
}

func (h *Handler) renderDeadInvitation(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusBadRequest, "invitation_invalid", nil)
}

// showInvitation answers GET /invitation?token=….
func (h *Handler) showInvitation(w http.ResponseWriter, r *http.Request) error {
	web.NoStore(w)
	secret := r.URL.Query().Get("token")
	inv, err := h.liveInvitation(r.Context(), secret)
	if err != nil {
		return err
	}
	if inv == nil {
		return h.renderDeadInvitation(w, r)
	}
	page, err := h.invitationPage(r, secret, *inv)
	if err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "invitation", page)
}

// acceptInvitation answers POST /invitation.
func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	web.NoStore(w)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx := r.Context()
	// Bounded before any work: an acceptance may create an account.
	if err := web.TakeQuota(w, r, h.AcceptLimit, h.Counters, "error.busy", h.Logger); err != nil {
		return err
	}
	secret := r.PostForm.Get("token")
	inv, err := h.liveInvitation(ctx, secret)
	if err != nil {
		return err
	}
	if inv == nil {
		h.Logger.InfoContext(ctx, "invitation link refused", "ip", web.RemoteIP(r))
		return h.renderDeadInvitation(w, r)
	}
	page, err := h.invitationPage(r, secret, *inv)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	var (
		user   storage.User
		create bool
	)
	if page.Existing {
		// Only the account that owns the invited address, signed in here.
		_, u, ok := h.CurrentSession(r)
		if !ok || u.Email != inv.Email {
			page.ErrorKey = "company.invitation.sign_in_first"
			return h.render.Render(w, r, http.StatusOK, "invitation", page)
		}
		user = u
	} else {
		user, err = h.newInvitee(r, &page, now)
		if err != nil || page.ErrorKey != "" {
			if err != nil {
				return err
			}
			return h.render.Render(w, r, http.StatusOK, "invitation", page)
		}
		create = true
	}
	ev := storage.AuditEvent{Action: "company.invite_accept", ActorID: user.ID, Subject: inv.OrganizationID,
		Detail: map[string]string{"invitation_id": inv.ID, "new_account": strconv.FormatBool(create),
			"awaits_officer": strconv.FormatBool(create && h.InviteNeedsOfficer)}}
	accepted, err := h.Invitations.AcceptInvitation(h.forms.Audited(r, ev), inv.TokenHash, now, user, create)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Used or cancelled between the check and now.
		return h.renderDeadInvitation(w, r)
	case errors.Is(err, storage.ErrAlreadyExists):
		page.ErrorKey = "company.invitation.taken"
		return h.render.Render(w, r, http.StatusConflict, "invitation", page)
	case err != nil:
		return fmt.Errorf("account: accept invitation: %w", err)
	}
	h.Logger.InfoContext(ctx, "invitation accepted", "organization_id", accepted.OrganizationID, "user_id", user.ID)
	return h.render.Render(w, r, http.StatusOK, "invitation_done", struct {
		Username, OrgName string
		NeedsOfficer      bool
	}{user.Username, page.OrgName, create && h.InviteNeedsOfficer})
}

// newInvitee checks the form of a new account and builds it; problems go
// to page (ErrorKey set), not to the error.
func (h *Handler) newInvitee(r *http.Request, page *invitationPage, now time.Time) (storage.User, error) {
	ctx := r.Context()
	page.Name, page.Position = truncate(r.PostForm.Get("name"), 120), truncate(r.PostForm.Get("position"), 120)
	name, nameProblem := h.CheckName(r.PostForm.Get("name"))
	if nameProblem != nil {
		page.NameErrorKey = nameProblem.Key
	}
	position := ""
	if p := r.PostForm.Get("position"); p != "" {
		var problem *Problem
		if position, problem = h.CheckPosition(p); problem != nil {
			page.NameErrorKey = problem.Key
		}
	}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm") // as typed (ASVS 6.2.8)
	var pe *password.PolicyError
	switch err := password.CheckPolicy(pw); {
	case errors.As(err, &pe):
		page.PasswordErrorKey, page.PasswordErrorArg = pe.Key, pe.Arg
	case err != nil:
		return storage.User{}, fmt.Errorf("account: password policy: %w", err)
	case pw != confirm:
		page.ConfirmErrorKey = "activate.confirm_mismatch"
	}
	if r.PostForm.Get("terms") != "yes" {
		page.TermsErrorKey = "company.invitation.terms_required"
	}
	if page.NameErrorKey != "" || page.PasswordErrorKey != "" || page.ConfirmErrorKey != "" || page.TermsErrorKey != "" {
		page.ErrorKey = "activate.fix_fields"
		return storage.User{}, nil
	}
	username, err := h.NewUsername(ctx, page.Email)
	if err != nil {
		return storage.User{}, fmt.Errorf("account: username: %w", err)
	}
	hash, err := password.Hash(pw, password.OWASP)
	if err != nil {
		return storage.User{}, fmt.Errorf("account: hash password: %w", err)
	}
	return storage.User{
		ID: storage.NewID(), Username: username, Email: page.Email, EmailVerified: true, Name: name,
		Position: position, PasswordHash: hash, PasswordChangedAt: now,
		// With the setting on, an officer enables the account before it
		// can sign in (`satupintu user enable`).
		Disabled:  h.InviteNeedsOfficer,
		CreatedAt: now, UpdatedAt: now,
	}, nil
}
