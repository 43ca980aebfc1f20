package admin

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"satupintu/storage"
	"satupintu/storage/validate"
	"satupintu/web"
)

// usersPage is the data of "admin_users".
type usersPage struct {
	Nav      []navItem
	Notice   string
	By       string
	Kinds    []choice
	Query    string
	Searched bool
	Rows     []userRow
	Next     string // the next page's link; empty on the last
	ErrorKey string
}

type userRow struct {
	ID, Username, Name, Email string
	Disabled, Admin, Officer  bool
}

func (c *Console) searchUsers(w http.ResponseWriter, r *http.Request, op operator) error {
	q := r.URL.Query()
	by := q.Get("by")
	if !slices.Contains(SearchKinds, by) {
		by = storage.SearchName
	}
	p := usersPage{Nav: nav("/admin/users"), By: by, Query: q.Get("q")}
	for _, k := range SearchKinds {
		p.Kinds = append(p.Kinds, choice{k, k == by})
	}
	if p.Query != "" {
		p.Searched = true
		page, err := c.Service.SearchUsers(r.Context(), storage.UserSearch{By: by, Value: p.Query, After: q.Get("after"), Limit: 50})
		if err != nil {
			if pr, ok := err.(*Problem); ok {
				p.ErrorKey = pr.Key
				return c.render.Render(w, r, http.StatusUnprocessableEntity, "admin_users", p)
			}
			return err
		}
		for _, u := range page.Users {
			p.Rows = append(p.Rows, userRow{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email,
				Disabled: u.Disabled, Admin: u.HasRole(storage.RoleAdmin), Officer: u.HasRole(storage.RoleOfficer)})
		}
		if page.Next != "" {
			p.Next = "/admin/users?" + url.Values{"by": {by}, "q": {p.Query}, "after": {page.Next}}.Encode()
		}
	}
	return c.render.Render(w, r, http.StatusOK, "admin_users", p)
}

// userPage is the data of "admin_user".
type userPage struct {
	Nav                       []navItem
	U                         userView
	Created, Expires, Updated string
	ExpiresDate               string // the date input's value
	MFA                       bool
	Sessions                  []sessionRow
	Roles                     []roleRow
	Self                      bool
	Notice                    string
}

// userView is what the user page shows of an account: never its
// password hash, TOTP secret or recovery codes.
type userView struct {
	ID, Name, Username, Email, Phone string
	Disabled                         bool
}

type sessionRow struct {
	ID, Started, Expires, IP, UserAgent string
	Apps                                int
}

type roleRow struct {
	Role string
	Held bool
}

func (c *Console) showUser(w http.ResponseWriter, r *http.Request, op operator) error {
	u, ss, err := c.Service.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return problem(err)
	}
	p := userPage{Nav: nav("/admin/users"), U: userView{ID: u.ID, Name: u.Name, Username: u.Username, Email: u.Email,
		Phone: u.Phone, Disabled: u.Disabled}, Created: when(u.CreatedAt), Expires: when(u.ExpiresAt),
		Updated: when(u.UpdatedAt), MFA: u.MFAEnrolled(), Self: u.ID == op.User.ID, Notice: noticeOf(r)}
	if !u.ExpiresAt.IsZero() {
		p.ExpiresDate = u.ExpiresAt.In(wib).Format(time.DateOnly)
	}
	for _, s := range ss {
		ua := s.UserAgent
		if len(ua) > 80 {
			ua = ua[:80] + "…"
		}
		p.Sessions = append(p.Sessions, sessionRow{ID: s.SID, Started: when(s.CreatedAt), Expires: when(s.ExpiresAt),
			IP: s.IP, UserAgent: ua, Apps: len(s.ClientIDs)})
	}
	for _, role := range Roles {
		p.Roles = append(p.Roles, roleRow{role, u.HasRole(role)})
	}
	return c.render.Render(w, r, http.StatusOK, "admin_user", p)
}

// userAction runs fn on the user of the path and returns to their page
// with fn's notice.
func (c *Console) userAction(fn func(r *http.Request, op operator, id string) (string, error)) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, op operator) error {
		id := r.PathValue("id")
		notice, err := fn(r, op, id)
		if err != nil {
			return problem(err)
		}
		return done(w, r, "/admin/users/"+url.PathEscape(id), notice)
	}
}

func (c *Console) disableUser(r *http.Request, op operator, id string) (string, error) {
	return "disabled", c.Service.SetUserDisabled(r.Context(), op.Actor, id, true)
}

func (c *Console) enableUser(r *http.Request, op operator, id string) (string, error) {
	return "enabled", c.Service.SetUserDisabled(r.Context(), op.Actor, id, false)
}

// setExpiry reads a date (the account stops at its end, Jakarta time) or
// "clear"; a day already over is refused (disabling is for that).
func (c *Console) setExpiry(r *http.Request, op operator, id string) (string, error) {
	day := r.PostForm.Get("expires")
	if r.PostForm.Get("clear") == "yes" {
		day = "never"
	}
	// The CLI's rule (user set-expiry): the end of that day in WIB.
	at, err := validate.ExpiryDate(day, c.Now(), false)
	if err != nil {
		return "", &web.Error{Status: http.StatusUnprocessableEntity, MessageKey: "admin.user.expiry_invalid", Err: err}
	}
	return "expiry", c.Service.SetUserExpiry(r.Context(), op.Actor, id, at)
}

func (c *Console) unlockUser(r *http.Request, op operator, id string) (string, error) {
	return "unlocked", c.Service.UnlockUser(r.Context(), op.Actor, id)
}

func (c *Console) resetMFA(r *http.Request, op operator, id string) (string, error) {
	return "mfa", c.Service.ResetSecondFactor(r.Context(), op.Actor, id)
}

func (c *Console) sendReset(r *http.Request, op operator, id string) (string, error) {
	return "reset", c.Service.SendPasswordReset(r.Context(), op.Actor, id)
}

// endSessions ends one session (its sid in the form) or all.
func (c *Console) endSessions(r *http.Request, op operator, id string) (string, error) {
	_, err := c.Service.EndSessions(r.Context(), op.Actor, id, r.PostForm.Get("sid"))
	return "sessions", err
}

func (c *Console) setRole(r *http.Request, op operator, id string) (string, error) {
	return "role", c.Service.SetRole(r.Context(), op.Actor, id, r.PostForm.Get("role"), r.PostForm.Get("grant") == "yes")
}
