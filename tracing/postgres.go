package tracing

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Postgres is a pgx tracer giving each statement of a traced request a
// client span (queries, Exec, BEGIN and COMMIT alike; batches as one), and
// each connection dialled for one a span of its own. Nil when tracing is
// off, so that nothing is set on the pool.
func (t *Tracing) Postgres() pgx.QueryTracer {
	if t == nil {
		return nil
	}
	return &pgxTracer{tracer: t.tracer}
}

// pgxTracer implements pgx.QueryTracer, pgx.BatchTracer and
// pgx.ConnectTracer.
type pgxTracer struct {
	tracer trace.Tracer
}

var (
	_ pgx.QueryTracer   = (*pgxTracer)(nil)
	_ pgx.BatchTracer   = (*pgxTracer)(nil)
	_ pgx.ConnectTracer = (*pgxTracer)(nil)
)

func (p *pgxTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !traced(ctx) {
		return ctx
	}
	// The statement's shape only: its parameters are users' data and secrets.
	op, table := summarize(data.SQL)
	summary := op
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, semconv.DBSystemNamePostgreSQL, semconv.DBOperationName(op))
	if table != "" {
		summary += " " + table
		attrs = append(attrs, semconv.DBCollectionName(table))
	}
	attrs = append(attrs, semconv.DBQuerySummary(summary))
	attrs = append(attrs, connAttributes(conn)...)
	ctx, _ = p.tracer.Start(ctx, summary, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

func (p *pgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.Err)
}

func (p *pgxTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !traced(ctx) {
		return ctx
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL, semconv.DBOperationName("BATCH"), semconv.DBQuerySummary("BATCH")}
	if data.Batch != nil {
		attrs = append(attrs, semconv.DBOperationBatchSize(data.Batch.Len()))
	}
	attrs = append(attrs, connAttributes(conn)...)
	ctx, _ = p.tracer.Start(ctx, "BATCH", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

func (p *pgxTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if data.Err != nil {
		trace.SpanFromContext(ctx).SetAttributes(semconv.ErrorTypeKey.String(errorType(data.Err)))
	}
}

func (p *pgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, data.Err)
}

func (p *pgxTracer) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	if !traced(ctx) {
		return ctx
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	if c := data.ConnConfig; c != nil {
		attrs = append(attrs, semconv.ServerAddress(c.Host), semconv.ServerPort(int(c.Port)), semconv.DBNamespace(c.Database))
	}
	ctx, _ = p.tracer.Start(ctx, "connect", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

func (p *pgxTracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	if data.Conn != nil && data.Err == nil {
		// Once per connection, traced or not: Conn.Config copies the whole
		// configuration, too dear for every statement.
		c := data.Conn.Config()
		data.Conn.PgConn().CustomData()[connAttrsKey] = []attribute.KeyValue{
			semconv.ServerAddress(c.Host), semconv.ServerPort(int(c.Port)), semconv.DBNamespace(c.Database)}
	}
	end(ctx, data.Err)
}

// connAttrsKey holds a connection's attributes in its pgconn custom data.
const connAttrsKey = "satupintu/tracing.attributes"

// connAttributes says where the statement went (never the user or the
// password of the connection string), as TraceConnectEnd noted it.
func connAttributes(conn *pgx.Conn) []attribute.KeyValue {
	if conn == nil {
		return nil
	}
	attrs, _ := conn.PgConn().CustomData()[connAttrsKey].([]attribute.KeyValue)
	return attrs
}

// end ends the span a Trace…Start put in ctx. Only spans this tracer
// started are ended: with no traced request there is none, and the span in
// ctx is the caller's.
func end(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if err != nil {
		typ := errorType(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(typ))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code))
		}
		span.SetStatus(codes.Error, typ) // the class: messages may quote input
	}
	span.End()
}

// errorType classifies err with a bounded value and without its message,
// which for Postgres may quote the offending input ("invalid input syntax
// for type uuid: …").
func errorType(err error) string {
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code // SQLSTATE
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return "timeout"
		}
		return "network"
	}
	return "_OTHER"
}

// maxIdentifier bounds a table name taken from SQL.
const maxIdentifier = 63 // Postgres's NAMEDATALEN - 1

// summarize gives a statement's operation (its first keyword, upper case)
// and, for the common shapes, the table it works on: the first FROM of a
// SELECT or DELETE (preferring the statement's own over a subquery's),
// INSERT INTO's table, UPDATE's. Statements
// come from our code, so their shapes are few and the values bounded.
func summarize(sql string) (op, table string) {
	words := sqlWords(sql)
	if len(words) == 0 {
		return "UNKNOWN", ""
	}
	op = strings.ToUpper(words[0].text)
	var after string
	switch op {
	case "SELECT", "DELETE":
		after = "FROM"
	case "INSERT":
		after = "INTO"
	case "UPDATE":
		if len(words) > 1 && words[1].depth == 0 {
			table = words[1].text
		}
	}
	if after != "" {
		// The statement's own FROM first; failing that (FROM a subquery),
		// the first one inside.
		table = following(words, after, true)
		if table == "" {
			table = following(words, after, false)
		}
	}
	if !identifier(table) {
		table = ""
	}
	return op, table
}

// following is the word after the first keyword kw (at the top level only,
// if topLevel) when both are at the same depth: a table, not a subquery.
func following(words []sqlWord, kw string, topLevel bool) string {
	for i, w := range words[:len(words)-1] {
		if (w.depth == 0 || !topLevel) && strings.EqualFold(w.text, kw) && words[i+1].depth == w.depth {
			return words[i+1].text
		}
	}
	return ""
}

// sqlWord is a word of a statement and how deep in parentheses it is.
type sqlWord struct {
	text  string
	depth int
}

// sqlWords splits sql into words outside string literals and comments.
// Literals are skipped, not kept: they are never needed for a summary.
func sqlWords(sql string) []sqlWord {
	var words []sqlWord
	depth := 0
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			i = skipPast(sql, i+1, "'")
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			i = skipPast(sql, i+2, "\n")
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			i = skipPast(sql, i+2, "*/")
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		case wordByte(c):
			j := i
			for j < len(sql) && wordByte(sql[j]) {
				j++
			}
			words = append(words, sqlWord{text: sql[i:j], depth: depth})
			i = j
		default:
			i++
		}
	}
	return words
}

func skipPast(s string, from int, end string) int {
	if k := strings.Index(s[from:], end); k >= 0 {
		return from + k + len(end)
	}
	return len(s)
}

func wordByte(c byte) bool {
	return c == '_' || c == '.' || c == '"' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// identifier reports whether s looks like a (possibly schema-qualified,
// possibly quoted) table name of a sane length.
func identifier(s string) bool {
	if s == "" || len(s) > 2*maxIdentifier+1 {
		return false
	}
	if c := s[0]; c >= '0' && c <= '9' {
		return false
	}
	return true
}
