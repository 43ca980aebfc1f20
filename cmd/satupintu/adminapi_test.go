package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	adminui "satupintu/admin"
	"satupintu/storage"
)

// apiCaller calls the admin API of tp and holds every request and answer
// against the OpenAPI document with kin-openapi.
type apiCaller struct {
	tp     *testProvider
	router routers.Router
}

func newAPICaller(t *testing.T, tp *testProvider) *apiCaller {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(adminui.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// kin-openapi v0.153.0 checks a 3.1 document's schemas as JSON Schema
	// 2020-12 (openapi3filter switches by the document's version), so
	// type arrays such as ["string", "null"] are enforced. The document
	// names the server "/": the legacy router matches on the path alone.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The test provider's service client becomes an admin-API client, as
	// `client create --admin-api` makes one.
	if err := tp.durable.UpdateClient(t.Context(), "service", func(c *storage.Client) error { c.AdminAPI = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return &apiCaller{tp: tp, router: router}
}

// apiAnswer is one response of the API.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %s", a.status, a.body)
	}
}

// problem is an RFC 9457 answer.
type problem struct {
	Type, Title, Detail string
	Status              int
}

func (a apiAnswer) problem(t *testing.T, status int) problem {
	t.Helper()
	if a.status != status || !strings.HasPrefix(a.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("answer %d %q %s, want %d problem+json", a.status, a.header.Get("Content-Type"), a.body, status)
	}
	var p problem
	a.decode(t, &p)
	if p.Status != status || p.Title == "" || p.Type == "" {
		t.Fatalf("problem %+v", p)
	}
	return p
}

// call sends method path with token (none if empty) and body (JSON-encoded
// unless a string, sent as is with contentType). With strict, the request
// must satisfy the document (invalid requests the API must refuse are sent
// with strict false); the answer always must.
func (c *apiCaller) call(t *testing.T, token, method, path string, body any, strict bool, contentType ...string) apiAnswer {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	newReq := func() *http.Request {
		var r io.Reader
		if raw != nil {
			r = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, c.tp.issuer+path, r)
		if err != nil {
			t.Fatal(err)
		}
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
			if len(contentType) > 0 {
				req.Header.Set("Content-Type", contentType[0])
			}
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req
	}
	vreq := newReq()
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if strict {
		if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
			t.Fatalf("%s %s: request breaks the document: %v", method, path, err)
		}
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := apiAnswer{status: resp.StatusCode, header: resp.Header, body: b}
	err = openapi3filter.ValidateResponse(t.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Fatalf("%s %s: answer %d breaks the document: %v\n%s", method, path, resp.StatusCode, err, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: Cache-Control %q", method, path, cc)
	}
	return out
}

// adminToken is a client_credentials token of client app with scope.
func adminToken(t *testing.T, tp *testProvider, app, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	tok := tp.tokenRequest(app, form)
	if tok.status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client_credentials for %s: %d %+v", app, tok.status, tok)
	}
	return tok.AccessToken
}

// auditBy finds the stored event of action about subject and checks the
// API client is its actor.
func auditBy(t *testing.T, tp *testProvider, action, subject, clientID string) {
	t.Helper()
	evs, err := tp.durable.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Action == action && e.Subject == subject {
			if e.ActorID != clientID || e.ClientID != clientID || e.IP == "" {
				t.Errorf("event %s: actor %q client %q ip %q, want the API client %q", action, e.ActorID, e.ClientID, e.IP, clientID)
			}
			return
		}
	}
	t.Errorf("no %s event about %s", action, subject)
}

func TestAdminAPIAuthentication(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	// A second service client, to ask without the admin scope.
	// A client not flagged for the admin API never gets the admin scope.
	tp.addClient("reporting", false, storage.GrantClientCredentials)
	t.Run("a client not flagged for the admin API is refused the scope", func(t *testing.T) {
		if r := tp.tokenRequest("reporting", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}); r.status != http.StatusBadRequest || r.AccessToken != "" {
			t.Fatalf("%d %+v", r.status, r)
		}
	})

	t.Run("the document is public", func(t *testing.T) {
		a := api.call(t, "", "GET", "/admin/api/openapi.json", nil, true)
		if a.status != http.StatusOK || !bytes.Equal(a.body, adminui.OpenAPIDocument()) {
			t.Fatalf("%d", a.status)
		}
	})
	t.Run("no token", func(t *testing.T) {
		a := api.call(t, "", "GET", "/admin/api/v1/clients", nil, true)
		a.problem(t, http.StatusUnauthorized)
		if ch := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || strings.Contains(ch, "error=") {
			t.Errorf("challenge %q, want Bearer without an error code (RFC 6750 §3.1)", ch)
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		a := api.call(t, "not-a-token", "GET", "/admin/api/v1/clients", nil, true)
		a.problem(t, http.StatusUnauthorized)
		if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("challenge %q", ch)
		}
	})
	t.Run("a token without the admin scope", func(t *testing.T) {
		for _, app := range []string{"service", "reporting"} {
			a := api.call(t, adminToken(t, tp, app, ""), "GET", "/admin/api/v1/clients", nil, true)
			a.problem(t, http.StatusForbidden)
			if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="admin"`) {
				t.Errorf("%s: challenge %q", app, ch)
			}
		}
	})
	t.Run("a person's token", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f)
		tok := tp.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {tp.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
		if tok.AccessToken == "" {
			t.Fatalf("code exchange: %+v", tok)
		}
		api.call(t, tok.AccessToken, "GET", "/admin/api/v1/clients", nil, true).problem(t, http.StatusForbidden)
	})
	t.Run("a token in the query is not read", func(t *testing.T) {
		tok := adminToken(t, tp, "service", "admin")
		api.call(t, "", "GET", "/admin/api/v1/keys?access_token="+url.QueryEscape(tok), nil, false).problem(t, http.StatusUnauthorized)
	})
	t.Run("expired token", func(t *testing.T) {
		tok := adminToken(t, tp, "service", "admin")
		if a := api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true); a.status != http.StatusOK {
			t.Fatalf("fresh token: %d %s", a.status, a.body)
		}
		tp.clock.Advance(15*time.Minute + time.Second) // op's default access-token lifetime
		a := api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true)
		a.problem(t, http.StatusUnauthorized)
		if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("challenge %q", ch)
		}
	})
	t.Run("unknown route is a problem", func(t *testing.T) {
		resp, err := http.Get(tp.issuer + "/admin/api/v1/nothing")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

type apiClientJSON struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	ClientSecret string   `json:"client_secret"`
}

func TestAdminAPIClients(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")

	var list struct{ Clients []apiClientJSON }
	a := api.call(t, tok, "GET", "/admin/api/v1/clients", nil, true)
	a.decode(t, &list)
	if a.status != http.StatusOK || len(list.Clients) != 4 {
		t.Fatalf("list: %d %s", a.status, a.body)
	}
	if bytes.Contains(a.body, []byte("argon2")) || bytes.Contains(a.body, []byte("secret_hash")) {
		t.Fatalf("the list shows secret hashes: %s", a.body)
	}

	in := map[string]any{"name": "Aplikasi Baru", "redirect_uris": []string{"https://baru.example/cb"},
		"grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}}
	a = api.call(t, tok, "POST", "/admin/api/v1/clients", in, true)
	var created apiClientJSON
	a.decode(t, &created)
	if a.status != http.StatusCreated || created.ID == "" || created.ClientSecret == "" ||
		a.header.Get("Location") != "/admin/api/v1/clients/"+created.ID {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	auditBy(t, tp, "client.create", created.ID, "service")
	// The secret it showed works.
	if r := tp.tokenRequestAuth(url.Values{"grant_type": {"client_credentials"}}, created.ID, created.ClientSecret); r.status != http.StatusOK {
		t.Fatalf("the new client's secret: %d %+v", r.status, r)
	}

	t.Run("read shows no secret", func(t *testing.T) {
		a := api.call(t, tok, "GET", "/admin/api/v1/clients/"+created.ID, nil, true)
		var c apiClientJSON
		a.decode(t, &c)
		if a.status != http.StatusOK || c.Name != "Aplikasi Baru" || c.ClientSecret != "" {
			t.Fatalf("%d %s", a.status, a.body)
		}
	})
	t.Run("update", func(t *testing.T) {
		in := map[string]any{"name": "Aplikasi Lama", "redirect_uris": []string{"https://baru.example/cb2"},
			"grant_types": []string{"authorization_code"}, "listed": true, "description": "Satu baris",
			"launch_url": "https://baru.example/"}
		a := api.call(t, tok, "PUT", "/admin/api/v1/clients/"+created.ID, in, true)
		var c apiClientJSON
		a.decode(t, &c)
		if a.status != http.StatusOK || c.Name != "Aplikasi Lama" || c.RedirectURIs[0] != "https://baru.example/cb2" {
			t.Fatalf("%d %s", a.status, a.body)
		}
		stored, _ := tp.durable.ClientByID(t.Context(), created.ID)
		if stored.Name != "Aplikasi Lama" || !stored.Listed {
			t.Fatalf("stored %+v", stored)
		}
		auditBy(t, tp, "client.update", created.ID, "service")
	})
	t.Run("rotate the secret", func(t *testing.T) {
		a := api.call(t, tok, "POST", "/admin/api/v1/clients/"+created.ID+"/secret", nil, true)
		var s struct {
			ClientSecret string `json:"client_secret"`
		}
		a.decode(t, &s)
		if a.status != http.StatusOK || s.ClientSecret == "" || s.ClientSecret == created.ClientSecret {
			t.Fatalf("%d %s", a.status, a.body)
		}
		auditBy(t, tp, "client.rotate_secret", created.ID, "service")
		api.call(t, tok, "POST", "/admin/api/v1/clients/spa/secret", nil, true).problem(t, http.StatusConflict)
	})
	t.Run("malformed JSON", func(t *testing.T) {
		p := api.call(t, tok, "POST", "/admin/api/v1/clients", `{"name": "x",`, false).problem(t, http.StatusBadRequest)
		if p.Detail == "" {
			t.Errorf("no detail: %+v", p)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		p := api.call(t, tok, "POST", "/admin/api/v1/clients", map[string]any{"name": "x", "secret_hash": "y"}, false).
			problem(t, http.StatusBadRequest)
		if !strings.Contains(p.Detail, "secret_hash") {
			t.Errorf("detail %q does not name the field", p.Detail)
		}
	})
	t.Run("wrong type, wrong media type, two values", func(t *testing.T) {
		api.call(t, tok, "POST", "/admin/api/v1/clients", map[string]any{"name": 7}, false).problem(t, http.StatusBadRequest)
		api.call(t, tok, "POST", "/admin/api/v1/clients", `{"name":"x"}`, false, "text/plain").problem(t, http.StatusUnsupportedMediaType)
		api.call(t, tok, "POST", "/admin/api/v1/clients", `{"name":"x"} {}`, false).problem(t, http.StatusBadRequest)
		big := `{"name":"` + strings.Repeat("x", adminui.MaxAPIBody) + `"}`
		api.call(t, tok, "POST", "/admin/api/v1/clients", big, false).problem(t, http.StatusRequestEntityTooLarge)
	})
	t.Run("bad redirect URI is 422 with the reason", func(t *testing.T) {
		in := map[string]any{"name": "Jahat", "redirect_uris": []string{"javascript:alert(1)"}}
		p := api.call(t, tok, "POST", "/admin/api/v1/clients", in, true).problem(t, http.StatusUnprocessableEntity)
		if !strings.Contains(p.Detail, "javascript:alert(1)") {
			t.Errorf("detail %q", p.Detail)
		}
	})
	t.Run("unknown id is 404", func(t *testing.T) {
		api.call(t, tok, "GET", "/admin/api/v1/clients/nobody", nil, true).problem(t, http.StatusNotFound)
		api.call(t, tok, "PUT", "/admin/api/v1/clients/nobody", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}}, true).
			problem(t, http.StatusNotFound)
		api.call(t, tok, "DELETE", "/admin/api/v1/clients/nobody", nil, true).problem(t, http.StatusNotFound)
		api.call(t, tok, "POST", "/admin/api/v1/clients/nobody/secret", nil, true).problem(t, http.StatusNotFound)
	})
	t.Run("delete", func(t *testing.T) {
		if a := api.call(t, tok, "DELETE", "/admin/api/v1/clients/"+created.ID, nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		api.call(t, tok, "GET", "/admin/api/v1/clients/"+created.ID, nil, true).problem(t, http.StatusNotFound)
		auditBy(t, tp, "client.delete", created.ID, "service")
	})
	t.Run("the admin client deleted, its token stops", func(t *testing.T) {
		tp.addClient("ops", false, storage.GrantClientCredentials)
		if err := tp.durable.UpdateClient(t.Context(), "ops", func(c *storage.Client) error { c.AdminAPI = true; return nil }); err != nil {
			t.Fatal(err)
		}
		ops := adminToken(t, tp, "ops", "admin")
		if a := api.call(t, tok, "DELETE", "/admin/api/v1/clients/ops", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d", a.status)
		}
		api.call(t, ops, "GET", "/admin/api/v1/clients", nil, true).problem(t, http.StatusUnauthorized)
	})
}

func TestAdminAPIUsers(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")
	ctx := t.Context()
	u := tp.user
	base := "/admin/api/v1/users/" + u.ID
	newSession := func() storage.Session {
		t.Helper()
		s := storage.Session{ID: storage.NewID(), SID: storage.NewID(), UserID: u.ID, AuthTime: tp.clock.Now(),
			AMR: []string{storage.AMRPassword}, UserAgent: "uji", IP: "192.0.2.9", CreatedAt: tp.clock.Now(),
			ExpiresAt: tp.clock.Now().Add(time.Hour)}
		if err := tp.ephemeral.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("search", func(t *testing.T) {
		a := api.call(t, tok, "GET", "/admin/api/v1/users?by=username&q=budi", nil, true)
		var page struct {
			Users []struct{ ID string }
		}
		a.decode(t, &page)
		if a.status != http.StatusOK || len(page.Users) != 1 || page.Users[0].ID != u.ID {
			t.Fatalf("%d %s", a.status, a.body)
		}
		api.call(t, tok, "GET", "/admin/api/v1/users?by=shoe&q=budi", nil, false).problem(t, http.StatusUnprocessableEntity)
	})
	t.Run("read shows the session's sid, never its id or secrets", func(t *testing.T) {
		s := newSession()
		a := api.call(t, tok, "GET", base, nil, true)
		if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(s.SID)) {
			t.Fatalf("%d %s", a.status, a.body)
		}
		for _, leak := range []string{s.ID, u.PasswordHash, "argon2id"} {
			if bytes.Contains(a.body, []byte(leak)) {
				t.Fatalf("the answer holds %q: %s", leak, a.body)
			}
		}
	})
	t.Run("end one session, then all", func(t *testing.T) {
		s := newSession()
		var ended struct{ Ended int }
		a := api.call(t, tok, "DELETE", base+"/sessions/"+s.SID, nil, true)
		a.decode(t, &ended)
		if a.status != http.StatusOK || ended.Ended != 1 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		api.call(t, tok, "DELETE", base+"/sessions/"+s.SID, nil, true).problem(t, http.StatusNotFound)
		newSession()
		a = api.call(t, tok, "DELETE", base+"/sessions", nil, true)
		a.decode(t, &ended)
		if a.status != http.StatusOK || ended.Ended < 1 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if ss, _ := tp.ephemeral.UserSessions(ctx, u.ID); len(ss) != 0 {
			t.Fatalf("%d sessions left", len(ss))
		}
		auditBy(t, tp, "session.end", u.ID, "service")
	})
	t.Run("disable ends sessions; enable", func(t *testing.T) {
		newSession()
		if a := api.call(t, tok, "POST", base+"/disable", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		got, _ := tp.durable.UserByID(ctx, u.ID)
		ss, _ := tp.ephemeral.UserSessions(ctx, u.ID)
		if !got.Disabled || len(ss) != 0 {
			t.Fatalf("disabled %v, %d sessions", got.Disabled, len(ss))
		}
		auditBy(t, tp, "user.disable", u.ID, "service")
		api.call(t, tok, "POST", base+"/enable", nil, true)
		if got, _ := tp.durable.UserByID(ctx, u.ID); got.Disabled {
			t.Fatal("still disabled")
		}
	})
	t.Run("expiry: set, past refused, cleared", func(t *testing.T) {
		at := tp.clock.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		if a := api.call(t, tok, "PUT", base+"/expiry", map[string]any{"expires_at": at.Format(time.RFC3339)}, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if got, _ := tp.durable.UserByID(ctx, u.ID); !got.ExpiresAt.Equal(at) {
			t.Fatalf("expires %v, want %v", got.ExpiresAt, at)
		}
		p := api.call(t, tok, "PUT", base+"/expiry", map[string]any{"expires_at": "2001-01-01T00:00:00Z"}, true).
			problem(t, http.StatusUnprocessableEntity)
		if p.Detail == "" {
			t.Error("no detail")
		}
		api.call(t, tok, "PUT", base+"/expiry", map[string]any{"expires_at": "soon"}, false).problem(t, http.StatusBadRequest)
		api.call(t, tok, "PUT", base+"/expiry", map[string]any{"expires_at": nil}, true)
		if got, _ := tp.durable.UserByID(ctx, u.ID); !got.ExpiresAt.IsZero() {
			t.Fatal("expiry not cleared")
		}
	})
	t.Run("unlock", func(t *testing.T) {
		if a := api.call(t, tok, "POST", base+"/unlock", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		auditBy(t, tp, "user.unlock", u.ID, "service")
	})
	t.Run("second factor reset", func(t *testing.T) {
		err := tp.durable.UpdateUser(ctx, u.ID, func(x *storage.User) error {
			x.TOTPSecret, x.MFAEnrolledAt, x.RecoveryCodes = []byte("sealed"), tp.clock.Now(), []string{"h1"}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if a := api.call(t, tok, "POST", base+"/mfa-reset", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if got, _ := tp.durable.UserByID(ctx, u.ID); got.MFAEnrolled() || got.TOTPSecret != nil {
			t.Fatal("second factor kept")
		}
	})
	t.Run("password reset mails a link", func(t *testing.T) {
		if a := api.call(t, tok, "POST", base+"/password-reset", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		tp.mails.WaitFor(t, u.Email, 2*time.Minute)
	})
	t.Run("roles", func(t *testing.T) {
		if a := api.call(t, tok, "PUT", base+"/roles/officer", nil, true); a.status != http.StatusNoContent {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if got, _ := tp.durable.UserByID(ctx, u.ID); !got.HasRole(storage.RoleOfficer) {
			t.Fatal("no officer role")
		}
		api.call(t, tok, "DELETE", base+"/roles/officer", nil, true)
		if got, _ := tp.durable.UserByID(ctx, u.ID); got.HasRole(storage.RoleOfficer) {
			t.Fatal("officer role kept")
		}
		api.call(t, tok, "PUT", base+"/roles/superuser", nil, false).problem(t, http.StatusUnprocessableEntity)
	})
	t.Run("unknown user is 404", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", ""}, {"POST", "/disable"}, {"POST", "/unlock"}, {"POST", "/mfa-reset"}, {"POST", "/password-reset"},
			{"DELETE", "/sessions"}, {"PUT", "/roles/officer"},
		} {
			api.call(t, tok, c.method, "/admin/api/v1/users/nobody"+c.path, nil, true).problem(t, http.StatusNotFound)
		}
	})
}

func TestAdminAPIKeys(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")
	var keys struct {
		Keys []struct{ ID, Algorithm, State string }
	}
	a := api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true)
	a.decode(t, &keys)
	if a.status != http.StatusOK || len(keys.Keys) == 0 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	before := len(keys.Keys)
	a = api.call(t, tok, "POST", "/admin/api/v1/keys/RS256/rotate", nil, true)
	var rotated struct{ ID, Algorithm string }
	a.decode(t, &rotated)
	if a.status != http.StatusCreated || rotated.ID == "" || rotated.Algorithm != "RS256" {
		t.Fatalf("%d %s", a.status, a.body)
	}
	api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true).decode(t, &keys)
	if len(keys.Keys) != before+1 {
		t.Fatalf("%d keys after rotation, want %d", len(keys.Keys), before+1)
	}
	auditBy(t, tp, "key.rotate", rotated.ID, "service")
	api.call(t, tok, "POST", "/admin/api/v1/keys/HS256/rotate", nil, false).problem(t, http.StatusUnprocessableEntity)
}

// Unflagging a client stops the admin tokens it already holds.
func TestAdminAPIUnflaggedClientTokenStops(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")
	if a := api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true); a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if err := tp.durable.UpdateClient(t.Context(), "service", func(c *storage.Client) error { c.AdminAPI = false; return nil }); err != nil {
		t.Fatal(err)
	}
	api.call(t, tok, "GET", "/admin/api/v1/keys", nil, true).problem(t, http.StatusUnauthorized)
}

func TestAdminAPIOrganizationsSettingsAudit(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")

	t.Run("organizations: search, read, correct", func(t *testing.T) {
		var found struct {
			Organizations []struct{ ID, NIB string } `json:"organizations"`
		}
		a := api.call(t, tok, "GET", "/admin/api/v1/organizations?by=nib&q="+tp.org.NIB, nil, true)
		a.decode(t, &found)
		if a.status != http.StatusOK || len(found.Organizations) != 1 || found.Organizations[0].ID != tp.org.ID {
			t.Fatalf("%d %s", a.status, a.body)
		}
		a = api.call(t, tok, "GET", "/admin/api/v1/organizations/"+tp.org.ID, nil, true)
		if a.status != http.StatusOK || !strings.Contains(string(a.body), tp.user.ID) {
			t.Fatalf("%d %s", a.status, a.body)
		}
		in := map[string]any{"nib": tp.org.NIB, "npwp": tp.org.NPWP, "name": "PT Koreksi API"}
		if a := api.call(t, tok, "PUT", "/admin/api/v1/organizations/"+tp.org.ID, in, true); a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.body)
		}
		auditBy(t, tp, "organization.correct", tp.org.ID, "service")
		in["nib"] = "12"
		api.call(t, tok, "PUT", "/admin/api/v1/organizations/"+tp.org.ID, in, true).problem(t, http.StatusUnprocessableEntity)
		api.call(t, tok, "GET", "/admin/api/v1/organizations/nobody", nil, true).problem(t, http.StatusNotFound)
	})

	t.Run("settings: read, replace, stale version refused", func(t *testing.T) {
		var s map[string]any
		a := api.call(t, tok, "GET", "/admin/api/v1/settings", nil, true)
		a.decode(t, &s)
		if a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.body)
		}
		s["contact_hours"] = map[string]any{"id": "Senin–Jumat 08.00–16.00 WIB", "en": "Mon–Fri 08:00–16:00 WIB"}
		if a := api.call(t, tok, "PUT", "/admin/api/v1/settings", s, true); a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.body)
		}
		auditBy(t, tp, "settings.update", "settings", "service")
		// s still has the old version.
		api.call(t, tok, "PUT", "/admin/api/v1/settings", s, true).problem(t, http.StatusConflict)
		if st, _ := tp.durable.Settings(t.Context()); st.ContactHours.EN != "Mon–Fri 08:00–16:00 WIB" || st.Version != 1 {
			t.Fatalf("stored %+v", st)
		}
	})

	t.Run("audit: filtered, paged", func(t *testing.T) {
		var page struct {
			Events []struct {
				ID      int64  `json:"id"`
				Action  string `json:"action"`
				ActorID string `json:"actor_id"`
				Hash    string `json:"hash"`
			} `json:"events"`
			NextBefore int64 `json:"next_before"`
		}
		a := api.call(t, tok, "GET", "/admin/api/v1/audit?actor=service&limit=1", nil, true)
		a.decode(t, &page)
		if a.status != http.StatusOK || len(page.Events) != 1 || page.Events[0].ActorID != "service" || len(page.Events[0].Hash) != 64 || page.NextBefore == 0 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		first := page.Events[0].ID
		a = api.call(t, tok, "GET", fmt.Sprintf("/admin/api/v1/audit?actor=service&limit=1&before=%d", page.NextBefore), nil, true)
		a.decode(t, &page)
		if len(page.Events) != 1 || page.Events[0].ID >= first {
			t.Fatalf("second page %s", a.body)
		}
		api.call(t, tok, "GET", "/admin/api/v1/audit?since=yesterday", nil, false).problem(t, http.StatusBadRequest)
	})
}

func TestAdminAPIClientDisable(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")
	if a := api.call(t, tok, "POST", "/admin/api/v1/clients/app-one/disable", nil, true); a.status != http.StatusNoContent {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var c struct {
		Disabled bool `json:"disabled"`
	}
	api.call(t, tok, "GET", "/admin/api/v1/clients/app-one", nil, true).decode(t, &c)
	if !c.Disabled {
		t.Fatal("not disabled")
	}
	auditBy(t, tp, "client.disable", "app-one", "service")
	if a := api.call(t, tok, "POST", "/admin/api/v1/clients/app-one/enable", nil, true); a.status != http.StatusNoContent {
		t.Fatalf("%d %s", a.status, a.body)
	}
	api.call(t, tok, "POST", "/admin/api/v1/clients/nobody/disable", nil, true).problem(t, http.StatusNotFound)
}

// The last enabled admin can be neither demoted nor disabled.
func TestAdminAPIKeepsTheLastAdmin(t *testing.T) {
	tp := newTestProvider(t)
	api := newAPICaller(t, tp)
	tok := adminToken(t, tp, "service", "admin")
	if err := tp.durable.UpdateUser(t.Context(), tp.user.ID, func(u *storage.User) error {
		u.Roles = []string{storage.RoleAdmin}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	api.call(t, tok, "DELETE", "/admin/api/v1/users/"+tp.user.ID+"/roles/admin", nil, true).problem(t, http.StatusConflict)
	api.call(t, tok, "POST", "/admin/api/v1/users/"+tp.user.ID+"/disable", nil, true).problem(t, http.StatusConflict)
	if u, _ := tp.durable.UserByID(t.Context(), tp.user.ID); !u.HasRole(storage.RoleAdmin) || u.Disabled {
		t.Fatalf("the last admin changed: %+v", u)
	}
}
