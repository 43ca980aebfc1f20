package admin

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
)

// clientAction disables or enables the client of the path.
func (a *API) clientAction(disabled bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, actor Actor) error {
		if err := a.Service.SetClientDisabled(r.Context(), actor, r.PathValue("id"), disabled); err != nil {
			return err
		}
		return noContent(w)
	}
}

// apiAuditEvent is one audit event as the API shows it.
type apiAuditEvent struct {
	ID       int64             `json:"id"`
	Time     time.Time         `json:"time"`
	Action   string            `json:"action"`
	Outcome  string            `json:"outcome"`
	ActorID  string            `json:"actor_id"`
	Subject  string            `json:"subject"`
	ClientID string            `json:"client_id"`
	IP       string            `json:"ip"`
	Detail   map[string]string `json:"detail"`
	Hash     string            `json:"hash"`
}

// maxAPIAuditPage bounds one page of GET /audit.
const maxAPIAuditPage = 500

// listAudit answers GET /audit: newest first, filtered, keyset-paged by
// before (the next page's cursor is next_before).
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ Actor) error {
	q := r.URL.Query()
	f := storage.AuditFilter{ActorID: q.Get("actor"), Action: q.Get("action"), Subject: q.Get("target"), ClientID: q.Get("client"), Limit: 100}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.From}, {"until", &f.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return malformed(p.name + " must be an RFC 3339 time")
			}
			*p.to = t
		}
	}
	for _, p := range []struct {
		name string
		to   *int64
	}{{"before", &f.Before}, {"limit", new(int64)}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				return malformed(p.name + " must be a positive integer")
			}
			*p.to = n
			if p.name == "limit" {
				f.Limit = int(min(n, maxAPIAuditPage))
			}
		}
	}
	for _, s := range []string{f.ActorID, f.Action, f.Subject, f.ClientID} {
		if len(s) > storage.MaxAuditField {
			return malformed("a filter is longer than 512 bytes")
		}
	}
	es, err := a.Audit.ListAuditFiltered(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Events     []apiAuditEvent `json:"events"`
		NextBefore int64           `json:"next_before,omitempty"`
	}{Events: make([]apiAuditEvent, 0, len(es))}
	for _, e := range es {
		d := e.Detail
		if d == nil {
			d = map[string]string{}
		}
		out.Events = append(out.Events, apiAuditEvent{ID: e.ID, Time: e.Time.UTC(), Action: e.Action, Outcome: e.Outcome,
			ActorID: e.ActorID, Subject: e.Subject, ClientID: e.ClientID, IP: e.IP, Detail: d, Hash: hex.EncodeToString(e.Hash)})
	}
	if len(es) == f.Limit {
		out.NextBefore = es[len(es)-1].ID
	}
	return writeJSON(w, http.StatusOK, out)
}

// apiOrganization is a company as the API shows it.
type apiOrganization struct {
	ID           string          `json:"id"`
	NIB          string          `json:"nib"`
	NPWP         string          `json:"npwp"`
	Name         string          `json:"name"`
	TraderType   string          `json:"trader_type"`
	BusinessType string          `json:"business_type"`
	Address      storage.Address `json:"address"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

func orgOut(o storage.Organization) apiOrganization {
	return apiOrganization{ID: o.ID, NIB: o.NIB, NPWP: o.NPWP, Name: o.Name, TraderType: o.TraderType,
		BusinessType: o.BusinessType, Address: o.Address, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC()}
}

func (a *API) searchOrganizations(w http.ResponseWriter, r *http.Request, _ Actor) error {
	q := r.URL.Query()
	os, err := a.Service.SearchOrganizations(r.Context(), q.Get("by"), q.Get("q"))
	if err != nil {
		return err
	}
	out := make([]apiOrganization, 0, len(os))
	for _, o := range os {
		out = append(out, orgOut(o))
	}
	return writeJSON(w, http.StatusOK, struct {
		Organizations []apiOrganization `json:"organizations"`
	}{out})
}

func (a *API) getOrganization(w http.ResponseWriter, r *http.Request, _ Actor) error {
	v, err := a.Service.Organization(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	type member struct {
		UserID    string    `json:"user_id"`
		Username  string    `json:"username"`
		Name      string    `json:"name"`
		Role      string    `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}
	type registration struct {
		ID            string    `json:"id"`
		ServiceNumber string    `json:"service_number"`
		Status        string    `json:"status"`
		FullName      string    `json:"full_name"`
		SubmittedAt   time.Time `json:"submitted_at"`
	}
	out := struct {
		apiOrganization
		Members       []member       `json:"members"`
		Registrations []registration `json:"registrations"`
	}{apiOrganization: orgOut(v.Org), Members: []member{}, Registrations: []registration{}}
	for _, m := range v.Members {
		out.Members = append(out.Members, member{m.UserID, m.User.Username, m.User.Name, m.Role, m.CreatedAt.UTC()})
	}
	for _, g := range v.Registrations {
		out.Registrations = append(out.Registrations, registration{g.ID, g.ServiceNumber, string(g.Status), g.FullName, g.SubmittedAt.UTC()})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) correctOrganization(w http.ResponseWriter, r *http.Request, actor Actor) error {
	var in OrgInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := a.Service.CorrectOrganization(r.Context(), actor, id, in); err != nil {
		return err
	}
	v, err := a.Service.Organization(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, orgOut(v.Org))
}

// apiSettings is the settings with their version, which a PUT sends back.
type apiSettings struct {
	Version        int64              `json:"version"`
	ServiceName    storage.Text       `json:"service_name"`
	ContactEmail   storage.Text       `json:"contact_email"`
	ContactPhone   storage.Text       `json:"contact_phone"`
	ContactHours   storage.Text       `json:"contact_hours"`
	ContactAddress storage.Text       `json:"contact_address"`
	FAQ            []storage.FAQEntry `json:"faq"`
	Links          []storage.HelpLink `json:"links"`
	Banner         storage.Banner     `json:"banner"`
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request, _ Actor) error {
	s, err := a.Service.Settings(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(s))
}

func settingsOut(s storage.Settings) apiSettings {
	out := apiSettings{Version: s.Version, ServiceName: s.ServiceName, ContactEmail: s.ContactEmail, ContactPhone: s.ContactPhone,
		ContactHours: s.ContactHours, ContactAddress: s.ContactAddress, FAQ: s.FAQ, Links: s.Links, Banner: s.Banner}
	if out.FAQ == nil {
		out.FAQ = []storage.FAQEntry{}
	}
	if out.Links == nil {
		out.Links = []storage.HelpLink{}
	}
	return out
}

// putSettings replaces the settings; version must be the one read, or the
// answer is 409 and nothing changes.
func (a *API) putSettings(w http.ResponseWriter, r *http.Request, actor Actor) error {
	var in apiSettings
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	next := storage.Settings{ServiceName: in.ServiceName, ContactEmail: in.ContactEmail, ContactPhone: in.ContactPhone,
		ContactHours: in.ContactHours, ContactAddress: in.ContactAddress, FAQ: in.FAQ, Links: in.Links, Banner: in.Banner}
	err := a.Service.UpdateSettings(r.Context(), actor, in.Version, next)
	var se *storage.SettingsError
	if errors.As(err, &se) {
		fields := make([]string, len(se.Problems))
		for i, p := range se.Problems {
			fields[i] = p.Field + ": " + p.MessageKey
		}
		return invalid(strings.Join(fields, "; "))
	}
	if err != nil {
		return err
	}
	s, err := a.Service.Settings(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(s))
}
