package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"satupintu/storage"
	"satupintu/web"
)

// TestOpenAPIDocumentMatchesRoutes: the document is a valid OpenAPI 3.1
// document, every route the API serves is in it and every operation it
// describes is served.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	served := map[string]bool{}
	for _, rt := range (&API{}).Routes() {
		key := rt.Method + " " + rt.Path
		if served[key] {
			t.Errorf("route %s listed twice", key)
		}
		served[key] = true
		item := doc.Paths.Find(rt.Path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("route %s is not in the document", key)
			continue
		}
		o := item.GetOperation(rt.Method)
		public := o.Security != nil && len(*o.Security) == 0
		if public != rt.Public {
			t.Errorf("route %s: public %v in the document, %v served", key, public, rt.Public)
		}
		if !public {
			for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError} {
				if o.Responses.Status(status) == nil {
					t.Errorf("route %s documents no %d", key, status)
				}
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("documented %s %s is not served", method, path)
			}
		}
	}
	// Each path's templates are the route's wildcards.
	for path := range doc.Paths.Map() {
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, "{") && !slices.Contains([]string{"{id}", "{sid}", "{role}", "{alg}"}, seg) {
				t.Errorf("path %s: unexpected template %s", path, seg)
			}
		}
	}
}

type failingClients struct{ Clients }

func (failingClients) ListClients(context.Context) ([]storage.Client, error) {
	return nil, errors.New("database on fire")
}

// A failing store is a bare 500: no internal text, the request id.
func TestAPIInternalError(t *testing.T) {
	api := &API{Service: &Service{Clients: failingClients{}, Now: time.Now}, Audit: failingAudit{},
		Verify: func(context.Context, string) (TokenInfo, error) {
			return TokenInfo{ClientID: "ops", Scopes: []string{Scope}}, nil
		}}
	mux := http.NewServeMux()
	api.Mount(mux)
	req := httptest.NewRequest("GET", "/admin/api/v1/clients", nil)
	req.Header.Set("Authorization", "Bearer x")
	w := httptest.NewRecorder()
	web.WithRequestID(mux).ServeHTTP(w, req)
	var p problemJSON
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusInternalServerError ||
		p.Status != 500 || p.RequestID == "" || strings.Contains(w.Body.String(), "fire") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// failingAudit is an audit log whose database is gone.
type failingAudit struct{}

func (failingAudit) ListAuditFiltered(context.Context, storage.AuditFilter) ([]storage.AuditEvent, error) {
	return nil, errors.New("database connection reset")
}
