package account

import "net/http"

// infoPage is the data of the help and contact pages, which are public:
// the Help Center explains how to register and sign in, so it must be
// readable before one can. Signed-in users also get the account menu.
type infoPage struct {
	SignedIn bool
	Nav      []navItem
}

func (h *Handler) infoPage(r *http.Request, current string) infoPage {
	if _, _, ok := h.CurrentSession(r); ok {
		return infoPage{SignedIn: true, Nav: nav(current)}
	}
	return infoPage{}
}

// showHelp answers GET /help: the Help Center (FAQ and guides).
func (h *Handler) showHelp(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "help", h.infoPage(r, "/help"))
}

// showContact answers GET /contact: the Contact Center.
func (h *Handler) showContact(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "contact", h.infoPage(r, "/contact"))
}
