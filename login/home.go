package login

import (
	"net/http"

	"satupintu/storage"
)

// homePage is the data of the "home" page.
type homePage struct {
	SignedIn bool
	Name     string
	Officer  bool // links to the registration review queue
}

// showHome answers GET /: a greeting and a sign-out button for a signed-in
// user, an introduction and a sign-in link otherwise.
func (h *Handler) showHome(w http.ResponseWriter, r *http.Request) error {
	var page homePage
	if _, u, ok := h.CurrentSession(r); ok {
		page.SignedIn = true
		page.Officer = u.HasRole(storage.RoleOfficer)
		page.Name = u.Name
		if page.Name == "" {
			page.Name = u.Username
		}
	}
	return h.render.Render(w, r, http.StatusOK, "home", page)
}
