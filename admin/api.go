package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// Scope is the OAuth scope a client_credentials token needs for the API.
const Scope = "admin"

// MaxAPIBody bounds a request body of the API; a client is tens of
// short strings.
const MaxAPIBody = 64 << 10

// TokenInfo is what a verified bearer token grants.
type TokenInfo struct {
	ClientID string
	UserID   string // set for a token a person obtained; the API refuses it
	Scopes   []string
}

// ErrInvalidToken is Verify's answer for a token that is unknown,
// expired, revoked or otherwise unusable (RFC 6750 §3.1 invalid_token);
// any other error of Verify is the server's own (500).
var ErrInvalidToken = errors.New("admin: invalid access token")

// API serves the operations of Service as JSON under /admin/api/v1/,
// described by the OpenAPI document at /admin/api/openapi.json. Set the
// fields, then call Mount once.
type API struct {
	Service *Service
	// Verify resolves a bearer access token (op.Provider.VerifyAccessToken).
	Verify func(ctx context.Context, token string) (TokenInfo, error)
	// Audit is the log GET /audit reads.
	Audit  AuditLog
	Now    func() time.Time
	Logger *slog.Logger

	once sync.Once
}

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument is the API's OpenAPI 3.1 document, as served.
func OpenAPIDocument() []byte { return openAPIDocument }

// Route is one operation of the API: the ServeMux pattern's method and
// path (whose {name} wildcards are the document's path templates).
type Route struct {
	Method, Path string
	Public       bool // served without a token (the document itself)
	handle       apiHandler
}

type apiHandler func(w http.ResponseWriter, r *http.Request, actor Actor) error

const (
	apiPrefix = "/admin/api/v1"
	// DocumentPath is where the OpenAPI document is served.
	DocumentPath = "/admin/api/openapi.json"
)

// Routes lists every route of the API, in one place: Mount serves them,
// and a test holds them against the OpenAPI document both ways.
func (a *API) Routes() []Route {
	return []Route{
		{Method: "GET", Path: DocumentPath, Public: true, handle: a.serveDocument},
		{Method: "GET", Path: apiPrefix + "/clients", handle: a.listClients},
		{Method: "POST", Path: apiPrefix + "/clients", handle: a.createClient},
		{Method: "GET", Path: apiPrefix + "/clients/{id}", handle: a.getClient},
		{Method: "PUT", Path: apiPrefix + "/clients/{id}", handle: a.updateClient},
		{Method: "DELETE", Path: apiPrefix + "/clients/{id}", handle: a.deleteClient},
		{Method: "POST", Path: apiPrefix + "/clients/{id}/secret", handle: a.rotateSecret},
		{Method: "POST", Path: apiPrefix + "/clients/{id}/disable", handle: a.clientAction(true)},
		{Method: "POST", Path: apiPrefix + "/clients/{id}/enable", handle: a.clientAction(false)},
		{Method: "GET", Path: apiPrefix + "/users", handle: a.searchUsers},
		{Method: "GET", Path: apiPrefix + "/users/{id}", handle: a.getUser},
		{Method: "POST", Path: apiPrefix + "/users/{id}/disable", handle: a.userAction(func(ctx context.Context, ac Actor, id string) error {
			return a.Service.SetUserDisabled(ctx, ac, id, true)
		})},
		{Method: "POST", Path: apiPrefix + "/users/{id}/enable", handle: a.userAction(func(ctx context.Context, ac Actor, id string) error {
			return a.Service.SetUserDisabled(ctx, ac, id, false)
		})},
		{Method: "POST", Path: apiPrefix + "/users/{id}/unlock", handle: a.userAction(a.Service.UnlockUser)},
		{Method: "POST", Path: apiPrefix + "/users/{id}/mfa-reset", handle: a.userAction(a.Service.ResetSecondFactor)},
		{Method: "POST", Path: apiPrefix + "/users/{id}/password-reset", handle: a.userAction(a.Service.SendPasswordReset)},
		{Method: "PUT", Path: apiPrefix + "/users/{id}/expiry", handle: a.setExpiry},
		{Method: "DELETE", Path: apiPrefix + "/users/{id}/sessions", handle: a.endSessions},
		{Method: "DELETE", Path: apiPrefix + "/users/{id}/sessions/{sid}", handle: a.endSessions},
		{Method: "PUT", Path: apiPrefix + "/users/{id}/roles/{role}", handle: a.setRole(true)},
		{Method: "DELETE", Path: apiPrefix + "/users/{id}/roles/{role}", handle: a.setRole(false)},
		{Method: "GET", Path: apiPrefix + "/organizations", handle: a.searchOrganizations},
		{Method: "GET", Path: apiPrefix + "/organizations/{id}", handle: a.getOrganization},
		{Method: "PUT", Path: apiPrefix + "/organizations/{id}", handle: a.correctOrganization},
		{Method: "GET", Path: apiPrefix + "/settings", handle: a.getSettings},
		{Method: "PUT", Path: apiPrefix + "/settings", handle: a.putSettings},
		{Method: "GET", Path: apiPrefix + "/audit", handle: a.listAudit},
		{Method: "GET", Path: apiPrefix + "/keys", handle: a.listKeys},
		{Method: "POST", Path: apiPrefix + "/keys/{alg}/rotate", handle: a.rotateKey},
	}
}

// Mount registers every route of Routes on mux, and a problem answer for
// any other path under /admin/api/. None of them reads a cookie: the
// console's session and CSRF checks do not apply, a bearer token does.
func (a *API) Mount(mux *http.ServeMux) {
	if a.Service == nil || a.Verify == nil || a.Audit == nil {
		panic("admin: API needs Service, Verify and Audit")
	}
	a.once.Do(func() {
		if a.Now == nil {
			a.Now = time.Now
		}
		if a.Logger == nil {
			a.Logger = slog.New(slog.DiscardHandler)
		}
	})
	for _, rt := range a.Routes() {
		mux.Handle(rt.Method+" "+rt.Path, a.handler(rt))
	}
	mux.Handle("/admin/api/", a.handler(Route{Public: true, handle: func(http.ResponseWriter, *http.Request, Actor) error {
		return &Problem{Status: http.StatusNotFound, Title: "no such route"}
	}}))
}

// handler authenticates the call (unless rt is public), runs it, and
// answers its error as problem JSON; the log gets one line per call.
func (a *API) handler(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.NoStore(w)
		sw := web.NewStatusWriter(w)
		var actor Actor
		err := func() error {
			if rt.Public {
				return nil
			}
			var err error
			actor, err = a.authenticate(r)
			return err
		}()
		if err == nil {
			err = rt.handle(sw, r, actor)
		}
		if err != nil {
			a.writeError(sw, r, err)
		}
		a.Logger.InfoContext(r.Context(), "admin api call", "method", r.Method, "route", r.Pattern,
			"status", sw.Status(), "client_id", actor.ClientID, "request_id", web.RequestID(r.Context()))
	})
}

// authError is a refused token: 401 or 403 with an RFC 6750 §3 challenge.
type authError struct {
	status    int
	challenge string
	title     string
}

func (e *authError) Error() string { return e.title }

// authenticate checks the bearer token: present (in the header only,
// RFC 6750 §2.1), valid, a client's own, with the admin scope.
func (a *API) authenticate(r *http.Request) (Actor, error) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		// RFC 6750 §3.1: no error code when the request has no token.
		return Actor{}, &authError{status: http.StatusUnauthorized, challenge: `Bearer realm="satupintu-admin"`,
			title: "a bearer access token is required"}
	}
	info, err := a.Verify(r.Context(), token)
	if errors.Is(err, ErrInvalidToken) {
		return Actor{}, &authError{status: http.StatusUnauthorized,
			challenge: `Bearer realm="satupintu-admin", error="invalid_token"`, title: "the access token is invalid or expired"}
	}
	if err != nil {
		return Actor{}, fmt.Errorf("admin: verify access token: %w", err)
	}
	// Only a client's own token (client_credentials) with the scope: a
	// person's token speaks for the person, who uses the console.
	if info.UserID != "" || !slices.Contains(info.Scopes, Scope) {
		return Actor{}, &authError{status: http.StatusForbidden,
			challenge: `Bearer realm="satupintu-admin", error="insufficient_scope", scope="` + Scope + `"`,
			title:     "the access token lacks the admin scope"}
	}
	return Actor{ClientID: info.ClientID, IP: web.RemoteIP(r)}, nil
}

// problemJSON is an RFC 9457 problem details object.
type problemJSON struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"` // extension member: find the log line
}

// writeError answers err as problem JSON: a Problem or a refused token
// as itself, anything else as a bare 500 whose detail only the log sees.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	rid := web.RequestID(r.Context())
	p := problemJSON{Type: "about:blank", RequestID: rid}
	var (
		prob *Problem
		ae   *authError
	)
	switch {
	case errors.As(err, &ae):
		w.Header().Set("WWW-Authenticate", ae.challenge)
		p.Status, p.Title = ae.status, ae.title
	case errors.As(err, &prob):
		p.Status, p.Title, p.Detail = prob.Status, prob.Title, prob.Detail
		if prob.Key != "" {
			p.Type = "urn:satupintu:problem:" + prob.Key
		}
	default:
		a.Logger.ErrorContext(r.Context(), "admin api call failed", "route", r.Pattern, "request_id", rid, "error", err)
		p.Status, p.Title = http.StatusInternalServerError, "internal server error"
		if errors.Is(err, storage.ErrUnavailable) {
			// A database outage is worth a retry, never a 500.
			w.Header().Set("Retry-After", web.RetryAfter)
			p.Status, p.Title = http.StatusServiceUnavailable, "temporarily unavailable"
		}
	}
	writeJSONAs(w, "application/problem+json", p.Status, p)
}

// IsAPIPath reports whether path is the API's: the server's own refusals
// (a body over the limit, a dependency down) answer it with WriteProblem
// rather than a page.
func IsAPIPath(path string) bool { return strings.HasPrefix(path, "/admin/api/") }

// WriteProblem answers r with a bare problem of status, as the API's own
// errors are; the caller logs.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", web.RetryAfter)
	}
	web.NoStore(w)
	writeJSONAs(w, "application/problem+json", status, problemJSON{Type: "about:blank",
		Title: strings.ToLower(http.StatusText(status)), Status: status, RequestID: web.RequestID(r.Context())})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	writeJSONAs(w, "application/json", status, v)
	return nil
}

func writeJSONAs(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // our own types: cannot happen
		b, status = []byte(`{"type":"about:blank","title":"internal server error","status":500}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Problems of a request the API cannot read.
func malformed(detail string) error {
	return &Problem{Status: http.StatusBadRequest, Key: "admin.api.malformed", Title: "malformed request", Detail: detail}
}

// decodeBody reads r's JSON body into v: application/json, at most
// MaxAPIBody, one value, no field v does not have (a misspelt field is an
// error, not a silently kept default).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &Problem{Status: http.StatusUnsupportedMediaType, Key: "admin.api.media_type",
			Title: "unsupported media type", Detail: "send the body as application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAPIBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return malformed("the body holds more than one JSON value")
		}
		return nil
	}
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &Problem{Status: http.StatusRequestEntityTooLarge, Key: "admin.api.too_large",
			Title: "request body too large", Detail: fmt.Sprintf("at most %d bytes", MaxAPIBody)}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return malformed(fmt.Sprintf("field %q has the wrong type", typeErr.Field))
	case errors.As(err, &typeErr):
		return malformed("the body must be a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for it; the text names the field only.
		return malformed(strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, new(*time.ParseError)):
		return malformed("times are RFC 3339, e.g. 2027-01-31T17:00:00+07:00")
	default:
		// A value's own decoder refused it, or the client stopped
		// sending: either way the body is at fault, and says no more.
		return malformed("the body could not be read")
	}
}

func (a *API) serveDocument(w http.ResponseWriter, _ *http.Request, _ Actor) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDocument)
	return nil
}

// ---- clients

// apiClient is a client as the API shows it: never its secret hash,
// sealed secret or keys. ClientSecret is set only in the answer that
// issued it.
type apiClient struct {
	ID string `json:"id"`
	ClientInput
	SubjectType      string    `json:"subject_type,omitempty"`
	SectorIdentifier string    `json:"sector_identifier,omitempty"`
	Disabled         bool      `json:"disabled"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	ClientSecret     string    `json:"client_secret,omitempty"`
}

func clientOut(c storage.Client, secret string) apiClient {
	in := inputOf(c)
	// Lists are arrays, never null.
	for _, l := range []*[]string{&in.RedirectURIs, &in.PostLogoutRedirectURIs, &in.GrantTypes, &in.AllowedTraderTypes} {
		if *l == nil {
			*l = []string{}
		}
	}
	return apiClient{ID: c.ID, ClientInput: in, SubjectType: c.SubjectType, SectorIdentifier: c.SectorIdentifier,
		Disabled: c.Disabled, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), ClientSecret: secret}
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, _ Actor) error {
	cs, err := a.Service.ListClients(r.Context(), r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	out := make([]apiClient, 0, len(cs))
	for _, c := range cs {
		out = append(out, clientOut(c, ""))
	}
	return writeJSON(w, http.StatusOK, struct {
		Clients []apiClient `json:"clients"`
	}{out})
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, _ Actor) error {
	c, err := a.Service.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, clientOut(c, ""))
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, actor Actor) error {
	var in ClientInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	c, secret, err := a.Service.CreateClient(r.Context(), actor, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/clients/"+c.ID)
	return writeJSON(w, http.StatusCreated, clientOut(c, secret))
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, actor Actor) error {
	var in ClientInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	c, secret, err := a.Service.UpdateClient(r.Context(), actor, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, clientOut(c, secret))
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, actor Actor) error {
	if err := a.Service.DeleteClient(r.Context(), actor, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, actor Actor) error {
	_, secret, err := a.Service.RotateSecret(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		ClientSecret string `json:"client_secret"`
	}{secret})
}

// ---- users

// apiUser is an account as the API shows it: never its password hash,
// TOTP secret or recovery codes; whether they exist only.
type apiUser struct {
	ID             string     `json:"id"`
	Username       string     `json:"username"`
	Email          string     `json:"email"`
	EmailVerified  bool       `json:"email_verified"`
	Name           string     `json:"name"`
	Phone          string     `json:"phone"`
	Position       string     `json:"position"`
	OrganizationID string     `json:"organization_id"`
	Roles          []string   `json:"roles"`
	Disabled       bool       `json:"disabled"`
	ExpiresAt      *time.Time `json:"expires_at"` // null: never
	HasPassword    bool       `json:"has_password"`
	MFAEnrolled    bool       `json:"mfa_enrolled"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// apiSession is a live sign-in session: its sid (what relying parties
// know it by), never its id, which the cookie carries as a bearer secret.
type apiSession struct {
	SID       string    `json:"sid"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	ClientIDs []string  `json:"client_ids"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func userOut(u storage.User) apiUser {
	out := apiUser{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Phone: u.Phone, Position: u.Position, OrganizationID: u.OrganizationID, Roles: nonNil(u.Roles),
		Disabled: u.Disabled, HasPassword: u.PasswordHash != "", MFAEnrolled: u.MFAEnrolled(),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
	if !u.ExpiresAt.IsZero() {
		t := u.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) searchUsers(w http.ResponseWriter, r *http.Request, _ Actor) error {
	q := r.URL.Query()
	page, err := a.Service.SearchUsers(r.Context(), storage.UserSearch{By: q.Get("by"), Value: q.Get("q"), After: q.Get("after")})
	if err != nil {
		return err
	}
	out := make([]apiUser, 0, len(page.Users))
	for _, u := range page.Users {
		out = append(out, userOut(u))
	}
	return writeJSON(w, http.StatusOK, struct {
		Users []apiUser `json:"users"`
		Next  string    `json:"next,omitempty"`
	}{out, page.Next})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ Actor) error {
	u, ss, err := a.Service.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	sessions := make([]apiSession, 0, len(ss))
	for _, s := range ss {
		sessions = append(sessions, apiSession{SID: s.SID, AuthTime: s.AuthTime.UTC(), AMR: nonNil(s.AMR),
			ClientIDs: nonNil(s.ClientIDs), UserAgent: s.UserAgent, IP: s.IP, CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC()})
	}
	return writeJSON(w, http.StatusOK, struct {
		apiUser
		Sessions []apiSession `json:"sessions"`
	}{userOut(u), sessions})
}

// userAction runs an operation on the user of the path; 204 when done.
func (a *API) userAction(fn func(ctx context.Context, actor Actor, id string) error) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, actor Actor) error {
		if err := fn(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		return noContent(w)
	}
}

func (a *API) setExpiry(w http.ResponseWriter, r *http.Request, actor Actor) error {
	var in struct {
		ExpiresAt *time.Time `json:"expires_at"` // null: never
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	var at time.Time
	if in.ExpiresAt != nil {
		at = *in.ExpiresAt
	}
	if err := a.Service.SetUserExpiry(r.Context(), actor, r.PathValue("id"), at); err != nil {
		return err
	}
	return noContent(w)
}

// endSessions ends every session of the user, or the one the path names
// (404 when the user has no live session by that sid).
func (a *API) endSessions(w http.ResponseWriter, r *http.Request, actor Actor) error {
	sid := r.PathValue("sid")
	n, err := a.Service.EndSessions(r.Context(), actor, r.PathValue("id"), sid)
	if err != nil {
		return err
	}
	if sid != "" && n == 0 {
		return ErrNotFound
	}
	return writeJSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{n})
}

func (a *API) setRole(grant bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, actor Actor) error {
		if err := a.Service.SetRole(r.Context(), actor, r.PathValue("id"), r.PathValue("role"), grant); err != nil {
			return err
		}
		return noContent(w)
	}
}

// ---- signing keys

type apiKey struct {
	ID          string     `json:"id"`
	Algorithm   string     `json:"algorithm"`
	State       string     `json:"state"`
	Sealed      bool       `json:"sealed"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	NotAfter    *time.Time `json:"not_after"` // null: no end set
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, _ Actor) error {
	keys, err := a.Service.ListKeys(r.Context())
	if err != nil {
		return err
	}
	out := make([]apiKey, 0, len(keys))
	for _, k := range keys {
		ak := apiKey{ID: k.ID, Algorithm: k.Algorithm, State: k.State, Sealed: k.Sealed,
			CreatedAt: k.Created.UTC(), ActivatesAt: k.Activates.UTC()}
		if !k.NotAfter.IsZero() {
			t := k.NotAfter.UTC()
			ak.NotAfter = &t
		}
		out = append(out, ak)
	}
	return writeJSON(w, http.StatusOK, struct {
		Keys []apiKey `json:"keys"`
	}{out})
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request, actor Actor) error {
	alg := r.PathValue("alg")
	id, err := a.Service.RotateKey(r.Context(), actor, alg)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, struct {
		ID        string `json:"id"`
		Algorithm string `json:"algorithm"`
	}{id, alg})
}
