package audit

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"satupintu/storage"
)

// Lister pages through filtered events, newest first.
type Lister interface {
	ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// Writer writes events in one export format.
type Writer interface {
	Write(es []storage.AuditEvent) error
	// Flush ends the export (a CSV export of no events still has its header).
	Flush() error
}

// Export writes every event matching f (its Limit is the page size,
// 1000 if not set), newest first, page by page, and returns how many.
func Export(ctx context.Context, src Lister, f storage.AuditFilter, w Writer) (int64, error) {
	if f.Limit <= 0 {
		f.Limit = pageSize
	}
	var n int64
	for {
		es, err := src.ListAuditFiltered(ctx, f)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if err := w.Write(es); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		n += int64(len(es))
		if len(es) < f.Limit {
			return n, w.Flush()
		}
		f.Before = es[len(es)-1].ID
	}
}

// csvHeader names the CSV columns.
var csvHeader = []string{"id", "time", "action", "outcome", "actor_id", "subject", "client_id", "ip", "detail", "prev_hash", "hash"}

// CSVWriter writes events as CSV with a header row.
type CSVWriter struct {
	w      *csv.Writer
	headed bool
}

func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

func (c *CSVWriter) Write(es []storage.AuditEvent) error {
	if !c.headed {
		c.headed = true
		if err := c.w.Write(csvHeader); err != nil {
			return err
		}
	}
	for _, e := range es {
		detail := ""
		if len(e.Detail) > 0 {
			b, err := json.Marshal(e.Detail)
			if err != nil {
				return err
			}
			detail = string(b)
		}
		row := []string{strconv.FormatInt(e.ID, 10), formatTime(e.Time), e.Action, e.Outcome, e.ActorID, e.Subject,
			e.ClientID, e.IP, detail, hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash)}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := c.w.Write(row); err != nil {
			return err
		}
	}
	return c.w.Error()
}

func (c *CSVWriter) Flush() error {
	if !c.headed {
		if err := c.Write(nil); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CSV
// injection, OWASP): a cell starting with = + - @ tab or CR gets a leading
// single quote. Fields may carry what a client sent (a login name).
func csvSafe(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}

// WriteCSV writes es as CSV, header first.
func WriteCSV(w io.Writer, es []storage.AuditEvent) error {
	c := NewCSVWriter(w)
	if err := c.Write(es); err != nil {
		return err
	}
	return c.Flush()
}

// jsonEvent is one JSON line.
type jsonEvent struct {
	ID       int64             `json:"id"`
	Time     string            `json:"time"`
	Action   string            `json:"action"`
	Outcome  string            `json:"outcome"`
	ActorID  string            `json:"actor_id"`
	Subject  string            `json:"subject"`
	ClientID string            `json:"client_id"`
	IP       string            `json:"ip"`
	Detail   map[string]string `json:"detail,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

// JSONLinesWriter writes one JSON object per event and line.
type JSONLinesWriter struct{ enc *json.Encoder }

func NewJSONLinesWriter(w io.Writer) *JSONLinesWriter {
	return &JSONLinesWriter{enc: json.NewEncoder(w)}
}

func (j *JSONLinesWriter) Write(es []storage.AuditEvent) error {
	for _, e := range es {
		if err := j.enc.Encode(jsonEvent{ID: e.ID, Time: formatTime(e.Time), Action: e.Action, Outcome: e.Outcome,
			ActorID: e.ActorID, Subject: e.Subject, ClientID: e.ClientID, IP: e.IP, Detail: e.Detail,
			PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}); err != nil {
			return err
		}
	}
	return nil
}

func (j *JSONLinesWriter) Flush() error { return nil }

// WriteJSONLines writes es as JSON lines.
func WriteJSONLines(w io.Writer, es []storage.AuditEvent) error {
	return NewJSONLinesWriter(w).Write(es)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
