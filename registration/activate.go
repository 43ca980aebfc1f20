package registration

import "satupintu/web"

// mountActivation registers account activation (stub until it lands).
func (h *Handler) mountActivation(handle func(string, web.HandlerFunc)) {}
