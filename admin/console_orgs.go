package admin

import (
	"net/http"
	"net/url"

	"satupintu/storage"
	"satupintu/web"
)

// orgsPage is the data of "admin_orgs".
type orgsPage struct {
	Nav      []navItem
	Notice   string
	By       string
	Query    string
	Searched bool
	Rows     []storage.Organization
	ErrorKey string
}

func (c *Console) searchOrgs(w http.ResponseWriter, r *http.Request, op operator) error {
	q := r.URL.Query()
	p := orgsPage{Nav: nav("/admin/organizations"), By: q.Get("by"), Query: q.Get("q")}
	if p.By != OrgByNPWP {
		p.By = OrgByNIB
	}
	if p.Query != "" {
		p.Searched = true
		rows, err := c.Service.SearchOrganizations(r.Context(), p.By, p.Query)
		if err != nil {
			return problem(err)
		}
		p.Rows = rows
	}
	return c.render.Render(w, r, http.StatusOK, "admin_orgs", p)
}

// orgPage is the data of "admin_org".
type orgPage struct {
	Nav           []navItem
	Notice        string
	V             OrganizationView
	Members       []memberRow
	Registrations []registrationRow
	In            OrgInput
	ErrorKey      string
	ErrorDetail   string
}

type memberRow struct {
	UserID, Name, Username, Role, Since string
}

type registrationRow struct {
	ID, ServiceNumber, Status, Name, Submitted string
}

func (c *Console) orgPage(r *http.Request, id string) (orgPage, error) {
	v, err := c.Service.Organization(r.Context(), id)
	if err != nil {
		return orgPage{}, problem(err)
	}
	p := orgPage{Nav: nav("/admin/organizations"), V: v, Notice: noticeOf(r),
		In: OrgInput{NIB: v.Org.NIB, NPWP: v.Org.NPWP, Name: v.Org.Name, BusinessType: v.Org.BusinessType, Address: v.Org.Address}}
	for _, m := range v.Members {
		p.Members = append(p.Members, memberRow{UserID: m.UserID, Name: m.User.Name, Username: m.User.Username, Role: m.Role, Since: when(m.CreatedAt)})
	}
	for _, g := range v.Registrations {
		p.Registrations = append(p.Registrations, registrationRow{ID: g.ID, ServiceNumber: g.ServiceNumber,
			Status: "review.status." + string(g.Status), Name: g.FullName, Submitted: when(g.SubmittedAt)})
	}
	return p, nil
}

func (c *Console) showOrg(w http.ResponseWriter, r *http.Request, op operator) error {
	p, err := c.orgPage(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render.Render(w, r, http.StatusOK, "admin_org", p)
}

func (c *Console) correctOrg(w http.ResponseWriter, r *http.Request, op operator) error {
	id := r.PathValue("id")
	f := r.PostForm
	in := OrgInput{NIB: f.Get("nib"), NPWP: f.Get("npwp"), Name: f.Get("name"), BusinessType: f.Get("business_type"),
		Address: storage.Address{Street: f.Get("street"), City: f.Get("city"), Province: f.Get("province"),
			PostalCode: f.Get("postal_code"), Country: f.Get("country")}}
	err := c.Service.CorrectOrganization(r.Context(), op.Actor, id, in)
	if pr, ok := err.(*Problem); ok && pr.Status == http.StatusUnprocessableEntity {
		p, perr := c.orgPage(r, id)
		if perr != nil {
			return perr
		}
		p.In, p.ErrorKey = in, pr.Key
		if pr.Field != nil {
			p.ErrorDetail = c.Pages.T(web.Locale(r), pr.Field.Key, pr.Field.Args...)
		} else {
			p.ErrorDetail = pr.Detail
		}
		return c.render.Render(w, r, http.StatusUnprocessableEntity, "admin_org", p)
	}
	if err != nil {
		return problem(err)
	}
	return done(w, r, "/admin/organizations/"+url.PathEscape(id), "saved")
}
