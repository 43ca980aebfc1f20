package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// The company page ("Perusahaan"): every member sees the company data and
// the member list; the company's administrator (storage.MemberAdmin)
// invites staff by email, resends or cancels invitations, removes members
// and hands the role on; an officer may view any company and set a
// member's role. Whether the viewer may act is decided here, on the server,
// for every request: the forms a page shows are no permission (ASVS 8.2.1).

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 72 * time.Hour

// maxInvitesPerDay bounds the invitations (each one a mail) one
// administrator sends a day, so a stolen admin session cannot flood
// mailboxes from our domain.
const maxInvitesPerDay = 50

// Memberships is the slice of storage.Memberships the company pages use.
type Memberships interface {
	Membership(ctx context.Context, orgID, userID string) (storage.Membership, error)
	MembershipsOf(ctx context.Context, userID string) ([]storage.Membership, error)
	Members(ctx context.Context, orgID string) ([]storage.Membership, error)
	SetMemberRole(ctx context.Context, orgID, userID, role string) error
	TransferAdmin(ctx context.Context, orgID, from, to string) error
	RemoveMembership(ctx context.Context, orgID, userID string) error
	ChooseOrganization(ctx context.Context, userID, clientID, orgID string, at time.Time) error
	ChosenOrganization(ctx context.Context, userID, clientID string) (string, error)
}

// memberView is one row of the member list.
type memberView struct {
	UserID, Name, Username, Email, Position string
	Admin, Self, AwaitsOfficer              bool
}

// invitationView is one pending invitation.
type invitationView struct {
	ID, Email, Expires string
	Expired            bool
}

// companyPage is the data of the "account_company" page.
type companyPage struct {
	Nav         []navItem
	Orgs        []orgChoice // the user's organizations, when several
	Company     *companyView
	OrgID       string
	Members     []memberView
	Invitations []invitationView
	IsAdmin     bool // the viewer administers this company
	IsOfficer   bool
	Notice      string
	ErrorKey    string
	EmailValue  string
}

// orgChoice is one of the user's organizations in a list.
type orgChoice struct {
	ID, Name, NIB string
	Current       bool
}

// companyNotices are the ?done= values of the company page.
var companyNotices = map[string]string{
	"invited":     "company.notice.invited",
	"resent":      "company.notice.resent",
	"cancelled":   "company.notice.cancelled",
	"removed":     "company.notice.removed",
	"transferred": "company.notice.transferred",
	"role":        "company.notice.role",
	"confirmed":   "company.notice.confirmed",
}

// companyAccess is what the viewer may do in an organization.
type companyAccess struct {
	org       storage.Organization
	member    bool
	admin     bool
	officer   bool
	viewerID  string
	viewer    storage.User
	viewerSID string
}

// access loads orgID and the viewer's rights in it. Someone who is neither
// a member nor an officer gets the same 404 as for an unknown id: the page
// does not confirm which companies exist.
func (h *Handler) access(ctx context.Context, who signedIn, orgID string) (companyAccess, error) {
	a := companyAccess{officer: who.user.HasRole(storage.RoleOfficer), viewerID: who.user.ID, viewer: who.user,
		viewerSID: who.session.ID}
	notFound := &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found",
		Err: fmt.Errorf("account: no company %q for %s", truncate(orgID, 64), who.user.ID)}
	if !validID(orgID) {
		return a, notFound
	}
	m, err := h.Memberships.Membership(ctx, orgID, who.user.ID)
	switch {
	case err == nil:
		a.member, a.admin = true, m.Role == storage.MemberAdmin
	case !errors.Is(err, storage.ErrNotFound):
		return a, fmt.Errorf("account: load membership: %w", err)
	case !a.officer:
		return a, notFound
	}
	a.org, err = h.Organizations.OrganizationByID(ctx, orgID)
	if errors.Is(err, storage.ErrNotFound) {
		return a, notFound
	}
	if err != nil {
		return a, fmt.Errorf("account: load organization: %w", err)
	}
	return a, nil
}

// validID reports whether s can be a stored id (storage.NewID's alphabet),
// so that anything else is refused before it reaches the store.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// showCompany answers GET /company: the user's company (?org= picks
// another of theirs; an officer may name any).
func (h *Handler) showCompany(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	return h.renderCompany(w, r, who, r.URL.Query().Get("org"), http.StatusOK, func(p *companyPage) {
		p.Notice = companyNotices[r.URL.Query().Get("done")]
	})
}

func (h *Handler) renderCompany(w http.ResponseWriter, r *http.Request, who signedIn, orgID string, status int, edit func(*companyPage)) error {
	ctx := r.Context()
	mine, err := h.Memberships.MembershipsOf(ctx, who.user.ID)
	if err != nil {
		return fmt.Errorf("account: list memberships: %w", err)
	}
	if orgID == "" {
		orgID = who.user.OrganizationID
		if orgID == "" && len(mine) > 0 {
			orgID = mine[0].OrganizationID
		}
	}
	page := companyPage{Nav: nav("/company"), OrgID: orgID}
	if orgID == "" {
		// A staff account, or someone removed from every company.
		return h.render.Render(w, r, status, "account_company", page)
	}
	a, err := h.access(ctx, who, orgID)
	if err != nil {
		return err
	}
	page.IsAdmin, page.IsOfficer = a.admin, a.officer
	if len(mine) > 1 {
		for _, m := range mine {
			o, err := h.Organizations.OrganizationByID(ctx, m.OrganizationID)
			if err != nil {
				return fmt.Errorf("account: load organization: %w", err)
			}
			page.Orgs = append(page.Orgs, orgChoice{ID: o.ID, Name: o.Name, NIB: o.NIB, Current: o.ID == orgID})
		}
	}
	page.Company = h.companyView(a.org)
	members, err := h.Memberships.Members(ctx, orgID)
	if err != nil {
		return fmt.Errorf("account: list members: %w", err)
	}
	for _, m := range members {
		u, err := h.Users.UserByID(ctx, m.UserID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("account: load member: %w", err)
		}
		page.Members = append(page.Members, memberView{UserID: u.ID, Name: u.Name, Username: u.Username,
			Email: u.Email, Position: u.Position, Admin: m.Role == storage.MemberAdmin, Self: u.ID == who.user.ID,
			AwaitsOfficer: u.Disabled && u.PasswordHash != ""})
	}
	if a.admin {
		invs, err := h.Invitations.PendingInvitations(ctx, orgID)
		if err != nil {
			return fmt.Errorf("account: list invitations: %w", err)
		}
		now := h.Now()
		for _, v := range invs {
			page.Invitations = append(page.Invitations, invitationView{ID: v.ID, Email: v.Email,
				Expires: formatTime(v.ExpiresAt), Expired: !now.Before(v.ExpiresAt)})
		}
	}
	if edit != nil {
		edit(&page)
	}
	return h.render.Render(w, r, status, "account_company", page)
}

// adminPost checks a company administrator's form: CSRF, the session, and
// that the viewer administers the organization named in the path.
func (h *Handler) adminPost(w http.ResponseWriter, r *http.Request) (signedIn, companyAccess, bool, error) {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return who, companyAccess{}, false, err
	}
	a, err := h.access(r.Context(), who, r.PathValue("org"))
	if err != nil {
		return who, a, false, err
	}
	if !a.admin {
		h.Logger.WarnContext(r.Context(), "company action refused: not the administrator",
			"user_id", who.user.ID, "organization_id", a.org.ID, "path", r.URL.Path)
		return who, a, false, &web.Error{Status: http.StatusForbidden, MessageKey: "company.error.not_admin",
			Err: errors.New("account: not the company's administrator")}
	}
	return who, a, true, nil
}

func companyURL(orgID, done string) string {
	return "/company?org=" + orgID + "&done=" + done
}

// newInvitationSecret returns a link secret (256 bits) and its hash, the
// only form stored.
func newInvitationSecret() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, invitationHash(secret)
}

func invitationHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// invite answers POST /company/{org}/invitations.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.adminPost(w, r)
	if !ok {
		return err
	}
	ctx := r.Context()
	email, bad := normalizeEmail(r.PostForm.Get("email"))
	fail := func(key string) error {
		return h.renderCompany(w, r, who, a.org.ID, http.StatusOK, func(p *companyPage) {
			p.ErrorKey, p.EmailValue = key, truncate(r.PostForm.Get("email"), 254)
		})
	}
	if bad {
		return fail("company.error.email")
	}
	// A member already: nothing to invite. Said to the administrator, who
	// sees the member list anyway.
	if u, err := h.Users.UserByLogin(ctx, email); err == nil {
		if _, err := h.Memberships.Membership(ctx, a.org.ID, u.ID); err == nil {
			return fail("company.error.already_member")
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("account: look up invitee: %w", err)
	}
	if n, err := h.Counters.Incr(ctx, "company-invite:"+who.user.ID, 24*time.Hour); err != nil {
		return fmt.Errorf("account: count invitations: %w", err)
	} else if n > maxInvitesPerDay {
		return fail("company.error.too_many")
	}
	now := h.Now().UTC()
	secret, hash := newInvitationSecret()
	inv := storage.Invitation{ID: storage.NewID(), OrganizationID: a.org.ID, Email: email, Role: storage.MemberStaff,
		InvitedBy: who.user.ID, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	if err := h.Invitations.CreateInvitation(ctx, inv); err != nil {
		return fmt.Errorf("account: create invitation: %w", err)
	}
	// The event says whether the mail went out, known only after the
	// invitation is stored: appended on its own.
	sent := h.mailInvitation(ctx, inv, a.org, who.user, secret)
	h.audit(r, storage.AuditEvent{Action: "company.invite", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"invitation_id": inv.ID, "email": email, "mail": sent}})
	redirect(w, r, companyURL(a.org.ID, "invited"))
	return nil
}

// mailInvitation sends the invitation and reports "sent" or "failed" for
// the audit log; a failure is logged, and the administrator can resend.
func (h *Handler) mailInvitation(ctx context.Context, inv storage.Invitation, org storage.Organization, by storage.User, secret string) string {
	if err := h.sendInvitationMail(ctx, inv, org, by, secret); err != nil {
		h.Logger.ErrorContext(ctx, "send invitation email", "invitation_id", inv.ID, "error", err)
		return "failed"
	}
	return "sent"
}

// normalizeEmail trims and lower-cases an address and reports whether it
// is unusable: one plain address, no display name, at most 254 bytes.
func normalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 254 {
		return "", true
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", true
	}
	return s, false
}

// pendingInvitation finds the organization's pending invitation named in
// the path, or a 404.
func (h *Handler) pendingInvitation(ctx context.Context, orgID, id string) (storage.Invitation, error) {
	invs, err := h.Invitations.PendingInvitations(ctx, orgID)
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("account: list invitations: %w", err)
	}
	for _, v := range invs {
		if v.ID == id {
			return v, nil
		}
	}
	return storage.Invitation{}, &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found",
		Err: fmt.Errorf("account: no pending invitation %q", truncate(id, 64))}
}

// resendInvitation answers POST /company/{org}/invitations/{id}/resend: a
// new link for another 72 hours; the old link stops working.
func (h *Handler) resendInvitation(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.adminPost(w, r)
	if !ok {
		return err
	}
	ctx := r.Context()
	inv, err := h.pendingInvitation(ctx, a.org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if n, err := h.Counters.Incr(ctx, "company-invite:"+who.user.ID, 24*time.Hour); err != nil {
		return fmt.Errorf("account: count invitations: %w", err)
	} else if n > maxInvitesPerDay {
		return h.renderCompany(w, r, who, a.org.ID, http.StatusOK, func(p *companyPage) { p.ErrorKey = "company.error.too_many" })
	}
	secret, hash := newInvitationSecret()
	inv.TokenHash, inv.ExpiresAt = hash, h.Now().UTC().Add(InvitationTTL)
	if err := h.Invitations.RenewInvitation(ctx, a.org.ID, inv.ID, hash, inv.ExpiresAt); err != nil {
		return fmt.Errorf("account: renew invitation: %w", err)
	}
	// As for invite: the mail's outcome comes after the write.
	sent := h.mailInvitation(ctx, inv, a.org, who.user, secret)
	h.audit(r, storage.AuditEvent{Action: "company.invite_resend", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"invitation_id": inv.ID, "mail": sent}})
	redirect(w, r, companyURL(a.org.ID, "resent"))
	return nil
}

// cancelInvitation answers POST /company/{org}/invitations/{id}/cancel.
func (h *Handler) cancelInvitation(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.adminPost(w, r)
	if !ok {
		return err
	}
	id := r.PathValue("id")
	ev := storage.AuditEvent{Action: "company.invite_cancel", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"invitation_id": id}}
	err = h.Invitations.DeleteInvitation(h.forms.Audited(r, ev), a.org.ID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	}
	if err != nil {
		return fmt.Errorf("account: cancel invitation: %w", err)
	}
	redirect(w, r, companyURL(a.org.ID, "cancelled"))
	return nil
}

// removeMember answers POST /company/{org}/members/{user}/remove. The
// removed person's sessions end and their refresh tokens are revoked at
// once, and their access tokens for this company turn inactive (op checks
// the membership), so a dismissed employee cannot go on acting for the
// company until a token expires. The administrator cannot remove
// themselves: a company is never left without one (transfer first).
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.adminPost(w, r)
	if !ok {
		return err
	}
	ctx := r.Context()
	userID := r.PathValue("user")
	if userID == who.user.ID {
		return h.renderCompany(w, r, who, a.org.ID, http.StatusConflict, func(p *companyPage) { p.ErrorKey = "company.error.remove_self" })
	}
	u, err := h.Users.UserByID(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("account: load member: %w", err)
	}
	if err == nil {
		err = h.Memberships.RemoveMembership(ctx, a.org.ID, userID)
	}
	if errors.Is(err, storage.ErrNotFound) || !validID(userID) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: fmt.Errorf("account: no member %q", truncate(userID, 64))}
	}
	if err != nil {
		return fmt.Errorf("account: remove member: %w", err)
	}
	if err := h.endAccess(ctx, userID); err != nil {
		// The membership is gone; the tokens still are checked against it.
		h.Logger.ErrorContext(ctx, "end removed member's sessions", "user_id", userID, "error", err)
	}
	sent := "sent"
	if err := h.sendRemovalMail(ctx, u, a.org); err != nil {
		h.Logger.ErrorContext(ctx, "send removal email", "user_id", userID, "error", err)
		sent = "failed"
	}
	// Several writes (membership, refresh tokens) and the mail's outcome:
	// the event is appended on its own.
	h.audit(r, storage.AuditEvent{Action: "company.member_remove", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"user_id": userID, "mail": sent}})
	redirect(w, r, companyURL(a.org.ID, "removed"))
	return nil
}

// endAccess ends every session of userID and revokes their refresh tokens,
// as a password reset does (login/reset.go), telling op of each session for
// its logout fan-out.
func (h *Handler) endAccess(ctx context.Context, userID string) error {
	sessions, err := h.Sessions.UserSessions(ctx, userID)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	for _, s := range sessions {
		if err := h.Sessions.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end session: %w", err)
		}
		if h.OnSessionEnd != nil {
			h.OnSessionEnd(ctx, s)
		}
	}
	if err := h.RefreshTokens.RevokeUserRefreshTokens(ctx, userID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// transferAdmin answers POST /company/{org}/members/{user}/make-admin: the
// administrator hands the role to another member and becomes a member.
func (h *Handler) transferAdmin(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.adminPost(w, r)
	if !ok {
		return err
	}
	to := r.PathValue("user")
	ev := storage.AuditEvent{Action: "company.admin_transfer", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"from": who.user.ID, "to": to}}
	err = h.Memberships.TransferAdmin(h.forms.Audited(r, ev), a.org.ID, who.user.ID, to)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	case errors.Is(err, storage.ErrConflict):
		return h.renderCompany(w, r, who, a.org.ID, http.StatusConflict, func(p *companyPage) { p.ErrorKey = "company.error.not_admin" })
	case err != nil:
		return fmt.Errorf("account: transfer admin: %w", err)
	}
	redirect(w, r, companyURL(a.org.ID, "transferred"))
	return nil
}

// officerPost checks an officer's form on a company: CSRF, the session and
// the officer role.
func (h *Handler) officerPost(w http.ResponseWriter, r *http.Request) (signedIn, companyAccess, bool, error) {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return who, companyAccess{}, false, err
	}
	if !who.user.HasRole(storage.RoleOfficer) {
		return who, companyAccess{}, false, &web.Error{Status: http.StatusForbidden, MessageKey: "company.error.not_officer",
			Err: errors.New("account: this company action needs an officer")}
	}
	a, err := h.access(r.Context(), who, r.PathValue("org"))
	if err != nil {
		return who, a, false, err
	}
	return who, a, true, nil
}

// confirmMember answers POST /company/{org}/members/{user}/confirm: with
// InviteNeedsOfficer on, an officer enables the account an invitation
// made, once it is a member of this company.
func (h *Handler) confirmMember(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.officerPost(w, r)
	if !ok {
		return err
	}
	ctx := r.Context()
	userID := r.PathValue("user")
	if _, err := h.Memberships.Membership(ctx, a.org.ID, userID); errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	} else if err != nil {
		return fmt.Errorf("account: load membership: %w", err)
	}
	ev := storage.AuditEvent{Action: "company.member_confirm", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"user_id": userID}}
	err = h.Users.UpdateUser(h.forms.Audited(r, ev), userID, func(u *storage.User) error {
		u.Disabled, u.UpdatedAt = false, h.Now().UTC()
		return nil
	})
	if err != nil {
		return fmt.Errorf("account: enable member: %w", err)
	}
	redirect(w, r, companyURL(a.org.ID, "confirmed"))
	return nil
}

// setRole answers POST /company/{org}/members/{user}/role: an officer sets
// a member's role (role=admin or member), for a company whose
// administrator left or cannot act.
func (h *Handler) setRole(w http.ResponseWriter, r *http.Request) error {
	who, a, ok, err := h.officerPost(w, r)
	if !ok {
		return err
	}
	role, userID := r.PostForm.Get("role"), r.PathValue("user")
	if !storage.ValidMemberRole(role) {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: fmt.Errorf("account: role %q", truncate(role, 32))}
	}
	ev := storage.AuditEvent{Action: "company.role_set", ActorID: who.user.ID, Subject: a.org.ID,
		Detail: map[string]string{"user_id": userID, "role": role}}
	err = h.Memberships.SetMemberRole(h.forms.Audited(r, ev), a.org.ID, userID, role)
	if errors.Is(err, storage.ErrNotFound) {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	}
	if err != nil {
		return fmt.Errorf("account: set role: %w", err)
	}
	redirect(w, r, companyURL(a.org.ID, "role"))
	return nil
}
