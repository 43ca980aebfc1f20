package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis/redistest"
)

// otlpReceiver is an OTLP/HTTP collector in the test process: it keeps the
// spans and resources every export sends.
type otlpReceiver struct {
	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []map[string]string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP traces export", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		res := map[string]string{}
		for _, a := range rs.GetResource().GetAttributes() {
			res[a.Key] = a.Value.GetStringValue()
		}
		o.resources = append(o.resources, res)
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

// attr is a span attribute as text, or "".
func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if _, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(a.Value.GetIntValue())
			}
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// A token request on Postgres + Redis, traced: the server span is named by
// the route and continues the caller's trace, the zitadel/oidc and store
// spans hang under it, and no span carries the secret or the token.
func TestTracingFollowsATokenRequest(t *testing.T) {
	dbURL := postgrestest.URL(t)
	_, prefix := redistest.Open(t)
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	// The SDK reads its settings from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		t.Setenv(k, "")
	}
	// zitadel/oidc's tracer follows the first provider ever installed in
	// the process; only then can its spans be expected here.
	zitadelTraced := fmt.Sprintf("%T", otel.GetTracerProvider()) == "*global.tracerProvider"

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{"SATUPINTU_ADDR": addr, "SATUPINTU_ISSUER": "http://" + addr, "SATUPINTU_DATA_DIR": t.TempDir(),
		"SATUPINTU_DATABASE_URL": dbURL, "SATUPINTU_REDIS_URL": redistest.URL(), "SATUPINTU_REDIS_PREFIX": prefix,
		"SATUPINTU_METRICS_ADDR": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	getenv := func(k string) string { return vars[k] }

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"client", "create", "--name", "Layanan", "--grant-type", "client_credentials", "--json"},
		strings.NewReader(""), &out, &errb, getenv); code != 0 {
		t.Fatalf("client create: %d %s", code, errb.String())
	}
	var client clientJSON
	if err := json.Unmarshal(out.Bytes(), &client); err != nil {
		t.Fatal(err)
	}

	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, &serveErr, getenv) }()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not come up: %v", err)
		}
	}

	const traceID, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, _ := http.NewRequest("POST", "http://"+addr+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	req.SetBasicAuth(url.QueryEscape(client.ClientID), url.QueryEscape(client.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}

	cancel() // serve flushes its spans before it returns
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, serveErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.resources) == 0 || recv.resources[0]["service.name"] != "satupintu" {
		t.Errorf("resources %v: want service.name satupintu", recv.resources)
	}
	byID := map[string]*tracepb.Span{}
	var server *tracepb.Span
	for _, s := range recv.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		if hex.EncodeToString(s.TraceId) == traceID && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span in the caller's trace among %d spans", len(recv.spans))
	}
	if server.Name != "POST /oauth/token" || attr(server, "http.route") != "/oauth/token" ||
		attr(server, "http.response.status_code") != "200" || hex.EncodeToString(server.ParentSpanId) != callerSpan {
		t.Errorf("server span %q route %q status %s parent %x", server.Name, attr(server, "http.route"),
			attr(server, "http.response.status_code"), server.ParentSpanId)
	}
	// under reports whether s descends from the server span.
	under := func(s *tracepb.Span) bool {
		for p := hex.EncodeToString(s.ParentSpanId); p != ""; {
			if p == hex.EncodeToString(server.SpanId) {
				return true
			}
			ps, ok := byID[p]
			if !ok {
				return false
			}
			p = hex.EncodeToString(ps.ParentSpanId)
		}
		return false
	}
	found := map[string]int{}
	for _, s := range recv.spans {
		if attr(s, "http.route") == "/healthz" {
			t.Error("a health probe was traced")
		}
		system := attr(s, "db.system.name")
		if system != "" && len(s.ParentSpanId) == 0 {
			t.Errorf("%s span %q without a request", system, s.Name)
		}
		if hex.EncodeToString(s.TraceId) != traceID || s == server {
			continue
		}
		if !under(s) {
			t.Errorf("span %q is in the trace but not under the request", s.Name)
		}
		switch {
		case system != "":
			found[system]++
			if s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("%s span %q of kind %v", system, s.Name, s.Kind)
			}
		case s.Name == "ClientCredentialsExchange":
			found["zitadel"]++
		}
	}
	// The client comes from Postgres, the opaque token goes to Redis.
	if found["redis"] == 0 {
		t.Errorf("no Redis span under the request: %v", found)
	}
	if found["postgresql"] == 0 {
		t.Errorf("no Postgres span under the request: %v", found)
	}
	if zitadelTraced && found["zitadel"] == 0 {
		t.Errorf("no zitadel/oidc span under the request: %v", found)
	}
	for _, s := range recv.spans {
		texts := []string{s.Name, s.Status.GetMessage()}
		for _, a := range s.Attributes {
			texts = append(texts, a.Value.GetStringValue())
		}
		for _, text := range texts {
			for _, secret := range []string{client.ClientSecret, tok.AccessToken} {
				if strings.Contains(text, secret) {
					t.Errorf("span %q carries a secret: %q", s.Name, text)
				}
			}
		}
	}
}

// Without OTEL_* settings serve installs nothing: the same logger, no
// store options, no global provider.
func TestTracingOffInstallsNothing(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	before := otel.GetTracerProvider()
	tr, got, flush, err := startTracing(t.Context(), func(string) string { return "" }, logger)
	if err != nil || tr != nil || got != logger {
		t.Fatalf("startTracing = %v, %p, %v; want nil, the same logger, nil", tr, got, err)
	}
	flush()
	if pg, rd := storeTracing(tr); len(pg) != 0 || len(rd) != 0 {
		t.Errorf("store options with tracing off: %d for Postgres, %d for Redis", len(pg), len(rd))
	}
	if otel.GetTracerProvider() != before {
		t.Error("the global tracer provider changed")
	}
	if _, _, _, err := startTracing(t.Context(), func(k string) string {
		return map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}[k]
	}, logger); err == nil {
		t.Error("an unsupported exporter was accepted")
	}
}
