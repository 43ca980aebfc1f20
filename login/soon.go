package login

import (
	"net/http"

	"satupintu/web"
)

// Placeholders for registration and tracking, linked from the sign-in page.
// The registration package replaces them: delete this file and its call in
// Mount then.

// soonPage is the data of the "soon" page.
type soonPage struct {
	TitleKey string
}

func (h *Handler) mountComingSoon(handle func(pattern string, fn web.HandlerFunc)) {
	handle("GET /register", h.comingSoon("soon.register"))
	handle("GET /track", h.comingSoon("soon.track"))
}

func (h *Handler) comingSoon(titleKey string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return h.render.Render(w, r, http.StatusOK, "soon", soonPage{TitleKey: titleKey})
	}
}
