package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"satupintu/storage"
)

// maxExportAudit bounds the audit events in one export: the newest, which
// is years of an ordinary person's sign-ins; an officer's own decisions
// about others are in the log, not in their personal data.
const maxExportAudit = 5000

// The export's JSON. Field names are stable: people and their lawyers
// read these files, and tools parse them.
type (
	export struct {
		Format        string             `json:"format"` // "satupintu-personal-data/1"
		GeneratedAt   time.Time          `json:"generated_at"`
		Profile       exportProfile      `json:"profile"`
		Organization  *exportOrg         `json:"organization,omitempty"` // the default one
		Memberships   []exportMembership `json:"memberships"`
		Sessions      []exportSession    `json:"sessions"`
		AppLinks      []exportAppLink    `json:"app_links"`
		Consents      []exportConsent    `json:"consents"`
		Passkeys      []exportPasskey    `json:"passkeys"`
		UpstreamLinks []exportUpstream   `json:"upstream_links"`
		Registrations []exportRegistered `json:"registrations"`
		AuditEvents   []exportAudit      `json:"audit_events"`
	}
	exportProfile struct {
		ID                string    `json:"id"`
		Username          string    `json:"username"`
		Email             string    `json:"email"`
		EmailVerified     bool      `json:"email_verified"`
		Name              string    `json:"name"`
		Phone             string    `json:"phone"`
		Position          string    `json:"position"`
		Roles             []string  `json:"roles"`
		TwoStepSince      time.Time `json:"two_step_verification_since,omitzero"`
		PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
		ExpiresAt         time.Time `json:"account_expires_at,omitzero"`
		CreatedAt         time.Time `json:"created_at"`
		UpdatedAt         time.Time `json:"updated_at"`
	}
	exportOrg struct {
		ID           string          `json:"id"`
		NIB          string          `json:"nib"`
		NPWP         string          `json:"npwp"`
		Name         string          `json:"name"`
		TraderType   string          `json:"trader_type"`
		BusinessType string          `json:"business_type"`
		Address      storage.Address `json:"address"`
	}
	exportMembership struct {
		Organization exportOrg `json:"organization"`
		Role         string    `json:"role"`
		Since        time.Time `json:"since"`
	}
	exportSession struct {
		CreatedAt time.Time `json:"created_at"`
		ExpiresAt time.Time `json:"expires_at"`
		IP        string    `json:"ip"`
		UserAgent string    `json:"user_agent"`
		AMR       []string  `json:"amr"`
		Apps      []string  `json:"apps"`
	}
	exportAppLink struct {
		ClientID    string    `json:"client_id"`
		App         string    `json:"app"`
		AppUsername string    `json:"app_username"`
		LinkedAt    time.Time `json:"linked_at"`
	}
	// exportConsent is a live grant: an application that may act while the
	// person is away (Your Apps shows and withdraws them).
	exportConsent struct {
		ClientID  string    `json:"client_id"`
		App       string    `json:"app"`
		Scopes    []string  `json:"scopes"`
		Since     time.Time `json:"since"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	exportPasskey struct {
		Name       string    `json:"name"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at,omitzero"`
	}
	exportUpstream struct {
		Provider   string    `json:"provider"`
		Subject    string    `json:"subject"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at,omitzero"`
	}
	exportRegistered struct {
		Registration storage.Registration        `json:"registration"`
		History      []storage.RegistrationEvent `json:"history"`
		Document     *exportDocument             `json:"document,omitempty"`
	}
	exportDocument struct {
		FileName    string `json:"file_name"`
		ContentType string `json:"content_type"`
		SHA256      string `json:"sha256"`
		Data        []byte `json:"data_base64"`
	}
	exportAudit struct {
		Time     time.Time         `json:"time"`
		Action   string            `json:"action"`
		ActorID  string            `json:"actor_id"`
		Subject  string            `json:"subject"`
		ClientID string            `json:"client_id,omitempty"`
		IP       string            `json:"ip,omitempty"`
		Detail   map[string]string `json:"detail,omitempty"`
	}
)

// export answers GET /account/data/export: everything satupintu holds
// about the person, as one JSON file (the right of access and portability).
// Secrets are left out: hashes of the password and recovery codes, the
// TOTP secret, passkeys' public keys, session identifiers.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, u storage.User) error {
	x, err := h.collect(r.Context(), u)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return fmt.Errorf("privacy: encode export: %w", err)
	}
	h.audit(r, storage.AuditEvent{Action: "privacy.export", ActorID: u.ID, Subject: u.ID})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="satupintu-data-saya.json"`)
	_, err = w.Write(b)
	return err
}

// collect reads the person's data from every store.
func (h *Handler) collect(ctx context.Context, u storage.User) (export, error) {
	x := export{Format: "satupintu-personal-data/1", GeneratedAt: h.Now().UTC(),
		Profile: exportProfile{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
			Name: u.Name, Phone: u.Phone, Position: u.Position, Roles: u.Roles, TwoStepSince: u.MFAEnrolledAt,
			PasswordChangedAt: u.PasswordChangedAt, ExpiresAt: u.ExpiresAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt},
		Memberships: []exportMembership{}, Sessions: []exportSession{}, AppLinks: []exportAppLink{}, Consents: []exportConsent{}, Passkeys: []exportPasskey{},
		UpstreamLinks: []exportUpstream{}, Registrations: []exportRegistered{}, AuditEvents: []exportAudit{}}
	if u.OrganizationID != "" {
		o, err := h.Store.OrganizationByID(ctx, u.OrganizationID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return export{}, fmt.Errorf("privacy: organization: %w", err)
		}
		if err == nil {
			org := orgOf(o)
			x.Organization = &org
		}
	}
	ms, err := h.Store.MembershipsOf(ctx, u.ID)
	if err != nil {
		return export{}, fmt.Errorf("privacy: memberships: %w", err)
	}
	for _, m := range ms {
		o, err := h.Store.OrganizationByID(ctx, m.OrganizationID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return export{}, fmt.Errorf("privacy: organization of a membership: %w", err)
		}
		x.Memberships = append(x.Memberships, exportMembership{Organization: orgOf(o), Role: m.Role, Since: m.CreatedAt})
	}
	sessions, err := h.Sessions.UserSessions(ctx, u.ID)
	if err != nil {
		return export{}, fmt.Errorf("privacy: sessions: %w", err)
	}
	for _, s := range sessions {
		x.Sessions = append(x.Sessions, exportSession{CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, IP: s.IP,
			UserAgent: s.UserAgent, AMR: s.AMR, Apps: s.ClientIDs})
	}
	links, err := h.Store.AppLinksOf(ctx, u.ID)
	if err != nil {
		return export{}, fmt.Errorf("privacy: app links: %w", err)
	}
	for _, l := range links {
		x.AppLinks = append(x.AppLinks, exportAppLink{ClientID: l.ClientID, App: h.appName(ctx, l.ClientID), AppUsername: l.AppUsername, LinkedAt: l.LinkedAt})
	}
	grants, err := h.Store.UserRefreshTokens(ctx, u.ID, h.Now())
	if err != nil {
		return export{}, fmt.Errorf("privacy: grants: %w", err)
	}
	for _, g := range grants {
		x.Consents = append(x.Consents, exportConsent{ClientID: g.ClientID, App: h.appName(ctx, g.ClientID),
			Scopes: g.Scopes, Since: g.CreatedAt, ExpiresAt: g.ExpiresAt})
	}
	keys, err := h.Store.PasskeysOf(ctx, u.ID)
	if err != nil {
		return export{}, fmt.Errorf("privacy: passkeys: %w", err)
	}
	for _, k := range keys {
		x.Passkeys = append(x.Passkeys, exportPasskey{Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt})
	}
	ups, err := h.Store.UpstreamLinksOf(ctx, u.ID)
	if err != nil {
		return export{}, fmt.Errorf("privacy: upstream links: %w", err)
	}
	for _, l := range ups {
		x.UpstreamLinks = append(x.UpstreamLinks, exportUpstream{Provider: l.UpstreamID, Subject: l.Subject, CreatedAt: l.CreatedAt, LastUsedAt: l.LastUsedAt})
	}
	if x.Registrations, err = h.registrations(ctx, u); err != nil {
		return export{}, err
	}
	events, err := h.Store.AuditAbout(ctx, u.ID, maxExportAudit)
	if err != nil {
		return export{}, fmt.Errorf("privacy: audit events: %w", err)
	}
	for _, e := range events {
		x.AuditEvents = append(x.AuditEvents, exportAudit{Time: e.Time, Action: e.Action, ActorID: e.ActorID,
			Subject: e.Subject, ClientID: e.ClientID, IP: e.IP, Detail: e.Detail})
	}
	return x, nil
}

// registrations are the person's registrations with their history and
// current letter (retention may have deleted it).
func (h *Handler) registrations(ctx context.Context, u storage.User) ([]exportRegistered, error) {
	gs, err := h.Store.RegistrationsOf(ctx, u.ID, u.Email)
	if err != nil {
		return nil, fmt.Errorf("privacy: registrations: %w", err)
	}
	out := []exportRegistered{}
	for _, g := range gs {
		ev, err := h.Store.RegistrationEvents(ctx, g.ID)
		if err != nil {
			return nil, fmt.Errorf("privacy: registration history: %w", err)
		}
		item := exportRegistered{Registration: g, History: ev}
		if g.DocumentID != "" {
			d, err := h.Store.DocumentByID(ctx, g.DocumentID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, fmt.Errorf("privacy: registration letter: %w", err)
			}
			if err == nil {
				item.Document = &exportDocument{FileName: d.FileName, ContentType: d.ContentType, SHA256: d.SHA256, Data: d.Data}
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// appName is a client's name for the export, its id if it is gone.
func (h *Handler) appName(ctx context.Context, clientID string) string {
	if c, err := h.Store.ClientByID(ctx, clientID); err == nil {
		return c.Name
	}
	return clientID
}

func orgOf(o storage.Organization) exportOrg {
	return exportOrg{ID: o.ID, NIB: o.NIB, NPWP: o.NPWP, Name: o.Name, TraderType: o.TraderType,
		BusinessType: o.BusinessType, Address: o.Address}
}
