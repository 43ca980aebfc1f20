package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"satupintu/audit"
	"satupintu/storage"
)

// AuditLog is the filtered, keyset-paged audit log the console reads.
type AuditLog interface {
	ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// auditPageSize is the events on one console page.
const auditPageSize = 50

// auditPage is the data of "admin_audit".
type auditPage struct {
	Nav                           []navItem
	Notice                        string
	Actor, Action, Target, Client string
	Since, Until                  string // the date inputs' values
	Rows                          []auditRow
	Next, ExportCSV, ExportJSONL  string
	ErrorKey                      string
}

type auditRow struct {
	ID                                                int64
	Time, Action, Outcome, Actor, Subject, IP, Client string
	Detail                                            string
}

// auditFilter reads the filter of an audit page or export from its query;
// dates are whole days in Jakarta time, until inclusive.
func auditFilter(q url.Values) (storage.AuditFilter, error) {
	clip := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > storage.MaxAuditField {
			s = s[:storage.MaxAuditField]
		}
		return s
	}
	f := storage.AuditFilter{ActorID: clip(q.Get("actor")), Action: clip(q.Get("action")), Subject: clip(q.Get("target")),
		ClientID: clip(q.Get("client"))}
	if s := q.Get("since"); s != "" {
		d, err := time.ParseInLocation(time.DateOnly, s, wib)
		if err != nil {
			return f, fmt.Errorf("since: %w", err)
		}
		f.From = d
	}
	if s := q.Get("until"); s != "" {
		d, err := time.ParseInLocation(time.DateOnly, s, wib)
		if err != nil {
			return f, fmt.Errorf("until: %w", err)
		}
		f.To = d.AddDate(0, 0, 1)
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return f, fmt.Errorf("before: %q", s)
		}
		f.Before = n
	}
	return f, nil
}

// filterQuery is f as a query string, for the next page and the exports.
func filterQuery(q url.Values, set map[string]string) string {
	v := url.Values{}
	for _, k := range []string{"actor", "action", "target", "client", "since", "until"} {
		if s := q.Get(k); s != "" {
			v.Set(k, s)
		}
	}
	for k, s := range set {
		v.Set(k, s)
	}
	return v.Encode()
}

func (c *Console) showAudit(w http.ResponseWriter, r *http.Request, op operator) error {
	q := r.URL.Query()
	p := auditPage{Nav: nav("/admin/audit"), Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"),
		Client: q.Get("client"), Since: q.Get("since"), Until: q.Get("until")}
	f, err := auditFilter(q)
	if err != nil {
		p.ErrorKey = "admin.audit.bad_filter"
		return c.render.Render(w, r, http.StatusUnprocessableEntity, "admin_audit", p)
	}
	f.Limit = auditPageSize
	es, err := c.Audit.ListAuditFiltered(r.Context(), f)
	if err != nil {
		return fmt.Errorf("admin: audit page: %w", err)
	}
	for _, e := range es {
		p.Rows = append(p.Rows, auditRow{ID: e.ID, Time: e.Time.In(wib).Format("2006-01-02 15:04:05"), Action: e.Action,
			Outcome: e.Outcome, Actor: e.ActorID, Subject: e.Subject, IP: e.IP, Client: e.ClientID, Detail: detailText(e.Detail)})
	}
	if len(es) == auditPageSize {
		p.Next = "/admin/audit?" + filterQuery(q, map[string]string{"before": strconv.FormatInt(es[len(es)-1].ID, 10)})
	}
	p.ExportCSV = "/admin/audit/export?" + filterQuery(q, map[string]string{"format": "csv"})
	p.ExportJSONL = "/admin/audit/export?" + filterQuery(q, map[string]string{"format": "jsonl"})
	return c.render.Render(w, r, http.StatusOK, "admin_audit", p)
}

// detailText is an event's detail as key=value pairs, by key.
func detailText(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, " ")
}

// exportAudit streams every event the filter selects as CSV or JSON
// lines. The export itself is recorded: who took the log away, and what.
func (c *Console) exportAudit(w http.ResponseWriter, r *http.Request, op operator) error {
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		return problem(&Problem{Status: http.StatusUnprocessableEntity, Key: "admin.audit.bad_filter", Title: "bad filter", Detail: err.Error()})
	}
	f.Before = 0
	var (
		out      audit.Writer
		typ, ext string
	)
	switch q.Get("format") {
	case "csv":
		out, typ, ext = audit.NewCSVWriter(w), "text/csv; charset=utf-8", "csv"
	case "jsonl":
		out, typ, ext = audit.NewJSONLinesWriter(w), "application/jsonl; charset=utf-8", "jsonl"
	default:
		return problem(invalid("format must be csv or jsonl"))
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="satupintu-audit-%s.%s"`, c.Now().In(wib).Format("20060102-1504"), ext))
	n, err := audit.Export(r.Context(), c.Audit, f, out)
	detail := map[string]string{"filter": filterQuery(q, nil), "format": ext, "events": strconv.FormatInt(n, 10)}
	if err != nil {
		// Headers are out: the log gets the detail, the file ends short.
		c.Logger.ErrorContext(r.Context(), "audit export failed", "error", err)
		detail["error"] = "cut short"
	}
	c.Service.record(r.Context(), c.Service.event(op.Actor, "audit.export", "audit", detail))
	return nil
}
