package registration

import (
	"net/http"

	"satupintu/storage"
)

// Prefill is what an upstream identity provider (package upstream) asserted
// about a person who has no account yet: the wizard starts with their name
// and NIK filled in, and the registration remembers the upstream identity,
// so approval links the new user to it (storage.ApproveRegistration).
type Prefill struct {
	FullName, NIK               string
	VerifiedBy                  string // the provider's label
	UpstreamID, UpstreamSubject string
}

// draftUpstream is a Prefill as the draft keeps it. No form field can set
// it: only StartPrefilled does.
type draftUpstream struct {
	ID         string `json:"id"`
	Subject    string `json:"subject"`
	VerifiedBy string `json:"verified_by"`
	FullName   string `json:"full_name,omitempty"` // normalized as asserted
	NIK        string `json:"nik,omitempty"`
}

// StartPrefilled starts a new draft from p and sends the browser to the
// wizard. A creation like any other, it takes a unit of DraftLimit.
func (h *Handler) StartPrefilled(w http.ResponseWriter, r *http.Request, p Prefill) error {
	if err := h.init(); err != nil {
		return err
	}
	d := newDraft(h.Now().UTC())
	up := &draftUpstream{ID: p.UpstreamID, Subject: p.UpstreamSubject, VerifiedBy: p.VerifiedBy}
	if name, err := Name(FieldFullName, p.FullName, MaxFullName); err == nil {
		d.set(FieldFullName, name)
		up.FullName = name
	}
	if nik, err := NIK(p.NIK); err == nil {
		d.set(FieldIdentityType, "nik")
		d.set(FieldIdentityNumber, nik)
		up.NIK = nik
	}
	d.Upstream = up
	if _, err := h.saveDraft(w, r, "", d); err != nil {
		return err
	}
	redirect(w, r, "/register")
	return nil
}

// applyUpstream marks g with the draft's upstream identity; "verified by"
// only while the name and NIK are still the ones the provider asserted.
func (d *draft) applyUpstream(g *storage.Registration) {
	up := d.Upstream
	if up == nil {
		return
	}
	g.UpstreamID, g.UpstreamSubject = up.ID, up.Subject
	if up.FullName != "" && up.NIK != "" && g.FullName == up.FullName &&
		g.IdentityType == "nik" && g.IdentityNumber == up.NIK {
		g.VerifiedBy = up.VerifiedBy
	}
}
