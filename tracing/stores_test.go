package tracing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"satupintu/storage"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis"
	"satupintu/storage/redis/redistest"
	"satupintu/tracing"
)

// parent starts the span a request would have.
func parent(t *testing.T, tr *tracing.Tracing) (context.Context, trace.Span) {
	t.Helper()
	return tr.Provider().Tracer("test").Start(t.Context(), "request")
}

// noSecret fails if any span's name or attribute contains one of secrets.
func noSecret(t *testing.T, spans []sdktrace.ReadOnlySpan, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		for _, secret := range secrets {
			if strings.Contains(s.Name(), secret) || strings.Contains(s.Status().Description, secret) {
				t.Errorf("span %q carries %q", s.Name(), secret)
			}
			for k, v := range attrMap(s.Attributes()) {
				if strings.Contains(v, secret) {
					t.Errorf("span %q attribute %s=%q carries %q", s.Name(), k, v, secret)
				}
			}
		}
	}
}

func TestPostgresStatementsAreChildSpans(t *testing.T) {
	tr, rec := recorder(t)
	u := postgrestest.URL(t)
	st, err := postgres.Open(t.Context(), u, postgres.WithTracer(tr.Postgres()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Opening (ping, migrations) ran outside any request: no spans.
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans without a request", n)
	}

	const email = "rahasia.sekali@contoh.co.id"
	ctx, req := parent(t, tr)
	if _, err := st.UserByLogin(ctx, email); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UserByLogin: %v", err)
	}
	req.End()
	spans := rec.Ended()
	var sel sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == req.SpanContext().SpanID() && strings.HasPrefix(s.Name(), "SELECT") {
			sel = s
		}
	}
	if sel == nil {
		t.Fatalf("no SELECT span under the request: %v", names(spans))
	}
	a := attrMap(sel.Attributes())
	if sel.Name() != "SELECT users" || a["db.system.name"] != "postgresql" || a["db.operation.name"] != "SELECT" ||
		a["db.collection.name"] != "users" || a["db.query.summary"] != "SELECT users" || sel.SpanKind() != trace.SpanKindClient ||
		a["server.address"] == "" || a["db.namespace"] == "" {
		t.Errorf("span %q: %v", sel.Name(), a)
	}
	noSecret(t, spans, email, "rahasia")
}

func TestRedisCommandsAreChildSpans(t *testing.T) {
	tr, rec := recorder(t)
	st, _ := redistest.Open(t, redis.WithHook(tr.Redis()))
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans without a request (ping, script loading)", n)
	}
	const key, value = "tokenKey-9f8e7d", "nilai-rahasia-123"
	ctx, req := parent(t, tr)
	if err := st.PutOnce(ctx, key, []byte(value), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TakeOnce(ctx, "missing-"+key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("TakeOnce of a missing key: %v", err)
	}
	req.End()
	spans := rec.Ended()
	var children []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == req.SpanContext().SpanID() {
			children = append(children, s)
		}
	}
	if len(children) != 2 {
		t.Fatalf("%d child spans, want 2: %v", len(children), names(spans))
	}
	for _, s := range children {
		a := attrMap(s.Attributes())
		if a["db.system.name"] != "redis" || a["db.operation.name"] != s.Name() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q: %v", s.Name(), a)
		}
		// A missing key is an answer, not a failure.
		if s.Status().Code.String() == "Error" {
			t.Errorf("span %q failed: %v", s.Name(), s.Status())
		}
	}
	noSecret(t, spans, key, value)
}

func TestRedisPipelineIsOneSpan(t *testing.T) {
	tr, rec := recorder(t)
	opt, err := goredis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	rdb.AddHook(tr.Redis())
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		redistest.Open(t) // skips (or fails under SATUPINTU_TEST_REQUIRE) as the other Redis tests do
		t.Fatal(err)
	}
	ctx, req := parent(t, tr)
	key := "satupintu-test:tracing:" + req.SpanContext().SpanID().String()
	t.Cleanup(func() { rdb.Del(context.WithoutCancel(t.Context()), key) })
	_, err = rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, key, "v", time.Minute)
		p.Get(ctx, key)
		p.HGet(ctx, key, "f") // WRONGTYPE
		return nil
	})
	if err == nil {
		t.Fatal("a pipeline with a WRONGTYPE command succeeded")
	}
	req.End()
	var pipe sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Parent().SpanID() == req.SpanContext().SpanID() {
			pipe = s
		}
	}
	if pipe == nil {
		t.Fatalf("no pipeline span: %v", names(rec.Ended()))
	}
	a := attrMap(pipe.Attributes())
	if pipe.Name() != "PIPELINE" || a["db.query.summary"] != "SET GET HGET" || a["db.operation.batch.size"] != "3" ||
		a["error.type"] != "WRONGTYPE" || pipe.Status().Code.String() != "Error" {
		t.Errorf("span %q %v: %v", pipe.Name(), pipe.Status(), a)
	}
	noSecret(t, rec.Ended(), key)
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
