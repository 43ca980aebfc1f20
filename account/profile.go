package account

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"satupintu/storage"
)

// Form field names of the profile. They are the only fields POST /profile
// reads: whatever else a request carries (role, email, organization_id,
// expires_at, …) is ignored, so no one can give themselves a privileged
// value (mass assignment, ASVS 8.2.3). The email changes on its own page,
// with a code (email.go); the company data is the officers' to change.
const (
	fieldName     = "name"
	fieldPhone    = "phone"
	fieldPosition = "position"
)

// companyView is the "Data Perusahaan" block of the 2011 portal profile.
type companyView struct {
	Name, NIB, NPWP, BusinessType string
	TraderType, TraderTypeKey     string // the key when the catalog has a label
	BusinessTypeKey               string
	Street, City, Province        string
	PostalCode, Country           string
}

// profilePage is the data of the "account_profile" page.
type profilePage struct {
	Nav      []navItem
	Company  *companyView // nil for staff accounts
	Name     string
	Username string
	Email    string
	Expires  string // empty: never
	// The editable fields, as stored or as just posted.
	Phone, Position                 string
	PhoneError, PosError, NameError *Problem
	EmailChange                     bool // the address can be changed (email.go)
	ErrorKey, Notice                string
	MaxPhone, MaxPosition           int
	// The security section: links to the MFA and password pages.
	MFAEnrolled       bool
	PasswordChangedAt string // empty: unknown
}

// printedNPWP formats a 15-digit NPWP as it is printed on the card,
// 99.999.999.9-999.999; the 16-digit form (a NIK) is shown as it is.
func printedNPWP(s string) string {
	if len(s) != 15 || strings.Trim(s, "0123456789") != "" {
		return s
	}
	return s[0:2] + "." + s[2:5] + "." + s[5:8] + "." + s[8:9] + "-" + s[9:12] + "." + s[12:15]
}

func (h *Handler) newProfilePage(r *http.Request, u storage.User) (profilePage, error) {
	page := profilePage{
		Nav: nav("/profile"), Name: u.Name, Username: u.Username, Email: u.Email,
		Phone: u.Phone, Position: u.Position, MaxPhone: 32, MaxPosition: 120,
		MFAEnrolled: u.MFAEnrolled(), EmailChange: h.EmailChange != nil,
	}
	if !u.ExpiresAt.IsZero() {
		page.Expires = u.ExpiresAt.In(jakarta).Format("2006-01-02")
	}
	page.PasswordChangedAt = formatTime(u.PasswordChangedAt)
	if u.OrganizationID == "" {
		return page, nil
	}
	o, err := h.Organizations.OrganizationByID(r.Context(), u.OrganizationID)
	if errors.Is(err, storage.ErrNotFound) {
		return page, nil
	}
	if err != nil {
		return profilePage{}, fmt.Errorf("account: load organization: %w", err)
	}
	page.Company = h.companyView(o)
	return page, nil
}

// companyView shows an organization on the profile and the company page.
func (h *Handler) companyView(o storage.Organization) *companyView {
	c := &companyView{
		Name: o.Name, NIB: o.NIB, NPWP: printedNPWP(o.NPWP), BusinessType: o.BusinessType,
		TraderType: o.TraderType, Street: o.Address.Street, City: o.Address.City,
		Province: o.Address.Province, PostalCode: o.Address.PostalCode, Country: o.Address.Country,
	}
	// The registration catalog labels the trader and business type codes
	// (README, claims); an unknown code is shown as it is.
	if key := "reg.trader." + o.TraderType; o.TraderType != "" && h.Pages.Catalog().Has(key) {
		c.TraderTypeKey = key
	}
	if key := "reg.business." + o.BusinessType; o.BusinessType != "" && h.Pages.Catalog().Has(key) {
		c.BusinessTypeKey = key
	}
	return c
}

// showProfile answers GET /profile.
func (h *Handler) showProfile(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	page, err := h.newProfilePage(r, who.user)
	if err != nil {
		return err
	}
	page.Notice = notices[r.URL.Query().Get("done")]
	return h.render.Render(w, r, http.StatusOK, "account_profile", page)
}

// errProfileMoved rolls back a profile update that found other changes
// under the row lock than its event names.
var errProfileMoved = errors.New("account: profile changed meanwhile")

// submitProfile answers POST /profile: the user changes their name, phone
// number and position, and nothing else.
func (h *Handler) submitProfile(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	page, err := h.newProfilePage(r, who.user)
	if err != nil {
		return err
	}
	page.Name, page.Phone, page.Position = r.PostForm.Get(fieldName), r.PostForm.Get(fieldPhone), r.PostForm.Get(fieldPosition)
	name, nerr := h.CheckName(page.Name)
	phone, perr := h.CheckPhone(page.Phone)
	position, poserr := h.CheckPosition(page.Position)
	if nerr != nil || perr != nil || poserr != nil {
		page.NameError, page.PhoneError, page.PosError = nerr, perr, poserr
		page.ErrorKey = "account.profile.fix_fields"
		return h.render.Render(w, r, http.StatusUnprocessableEntity, "account_profile", page)
	}

	// The event names the fields changed and is stored with the change,
	// so they are known before: from the user as loaded, checked again
	// under the row lock. Should they differ there (another tab saved
	// meanwhile), that attempt rolls back, its event unwritten, and the
	// next names what the lock saw.
	changes := func(u storage.User) []string {
		var out []string
		if u.Name != name {
			out = append(out, fieldName)
		}
		if u.Phone != phone {
			out = append(out, fieldPhone)
		}
		if u.Position != position {
			out = append(out, fieldPosition)
		}
		return out
	}
	want := changes(who.user)
	for attempt := 1; len(want) > 0; attempt++ {
		ev := storage.AuditEvent{Action: "profile.update", ActorID: who.user.ID, Subject: who.user.ID,
			Detail: map[string]string{"fields": strings.Join(want, ",")}}
		var got []string
		err = h.Users.UpdateUser(h.forms.Audited(r, ev), who.user.ID, func(u *storage.User) error {
			if got = changes(*u); !slices.Equal(got, want) {
				return errProfileMoved
			}
			u.Name, u.Phone, u.Position, u.UpdatedAt = name, phone, position, h.Now().UTC()
			return nil
		})
		if !errors.Is(err, errProfileMoved) || attempt == 3 {
			break
		}
		want = got
	}
	if err != nil {
		return fmt.Errorf("account: update profile: %w", err)
	}
	redirect(w, r, "/profile?done=saved")
	return nil
}
