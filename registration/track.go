package registration

import "satupintu/web"

// mountTrack registers tracking by service number (stub until it lands).
func (h *Handler) mountTrack(handle func(string, web.HandlerFunc)) {}
