package web

import (
	"context"
	"net/http"
	"time"

	"satupintu/storage"
)

// Audited returns r's context carrying e, time and address filled as
// Record does, for the one durable write e records: the store appends e
// in that write's transaction (storage.WithAudit), so e exists if and
// only if the change does. Pass it to that write only: any other write
// with it would take e. Such an action returns no event in its Done.
func (f *Forms) Audited(r *http.Request, e storage.AuditEvent) context.Context {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	e.Time = now().UTC()
	e.IP = RemoteIP(r)
	return storage.WithAudit(r.Context(), e)
}
