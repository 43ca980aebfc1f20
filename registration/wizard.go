package registration

import "satupintu/web"

// mountWizard registers the sign-up wizard (stub until the wizard lands).
func (h *Handler) mountWizard(handle func(string, web.HandlerFunc)) {}
