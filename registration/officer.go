package registration

import (
	"net/http"

	"satupintu/web"
)

// mountOfficer registers the officer review pages (stub until they land).
func (h *Handler) mountOfficer(mux *http.ServeMux, handle func(string, web.HandlerFunc)) {}
