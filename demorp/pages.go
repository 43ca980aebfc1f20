package demorp

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

// assets holds the templates and, under static/, the files served at
// /static/ (the mux pattern keeps templates/ unreachable).
//
//go:embed templates/*.html static/*
var assets embed.FS

// pages holds the templates, parsed once at start.
type pages struct {
	tmpl *template.Template
	csp  string
}

func parsePages(issuerOrigin string) (*pages, error) {
	tmpl, err := template.ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	for _, name := range []string{"home", "error"} {
		if tmpl.Lookup(name) == nil {
			return nil, fmt.Errorf("parse templates: no template %q", name)
		}
	}
	return &pages{
		tmpl: tmpl,
		// form-action must allow the provider: browsers apply it to the
		// redirect that follows the logout form's POST.
		csp: "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' " + issuerOrigin +
			"; frame-ancestors 'none'; base-uri 'none'",
	}, nil
}

// pageData is what the templates see.
type pageData struct {
	App       App
	SignedOut bool
	Flash     string
	CSRF      string
	Error     string
	User      *userView
}

type userView struct {
	Name         string
	OrgID        string // the organization's stable id
	OrgNIB       string
	OrgNPWP      string
	AppUsername  string // the app_username claim: this app's own account, once linked
	Claims       []claimRow
	Userinfo     string // pretty JSON
	IDToken      string // raw, for pasting into a JWT debugger
	AccessExpiry string
	HasRefresh   bool
}

type claimRow struct {
	Name  string
	Value string
	Block bool // pretty JSON, shown in <pre>
}

// render executes into a buffer first, so a template error becomes a clean
// error page instead of half a page.
func (h *handler) render(w http.ResponseWriter, status int, name string, data pageData) error {
	var buf bytes.Buffer
	if err := h.pages.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return fmt.Errorf("render %s: %w", name, err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show tokens and claims: never cache them.
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Security-Policy", h.pages.csp)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func newUserView(s session) *userView {
	v := &userView{
		Name:        displayName(s.Claims, s.Userinfo),
		OrgID:       orgField(s.Claims, s.Userinfo, "id"),
		OrgNIB:      orgField(s.Claims, s.Userinfo, "nib"),
		OrgNPWP:     orgField(s.Claims, s.Userinfo, "npwp"),
		AppUsername: stringClaim(s.Claims, s.Userinfo, "app_username"),
		Claims:      claimRows(s.Claims),
		IDToken:     s.IDToken,
		HasRefresh:  s.RefreshToken != "",
	}
	if !s.Expiry.IsZero() {
		v.AccessExpiry = s.Expiry.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if s.Userinfo != nil {
		if b, err := json.MarshalIndent(s.Userinfo, "", "  "); err == nil {
			v.Userinfo = string(b)
		}
	}
	return v
}

// displayName prefers the name claim, then falls back so the page never
// greets an empty string.
func displayName(claims, info map[string]any) string {
	for _, key := range []string{"name", "preferred_username", "email", "sub"} {
		for _, m := range []map[string]any{claims, info} {
			if s, ok := m[key].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

// stringClaim reads a string claim from the ID token or userinfo.
func stringClaim(claims, info map[string]any, name string) string {
	for _, m := range []map[string]any{claims, info} {
		if s, ok := m[name].(string); ok {
			return s
		}
	}
	return ""
}

// orgField reads one field of the `organization` claim object, from the ID
// token or, if the provider put it only there, from userinfo.
func orgField(claims, info map[string]any, field string) string {
	for _, m := range []map[string]any{claims, info} {
		if org, ok := m["organization"].(map[string]any); ok {
			if s, ok := org[field].(string); ok {
				return s
			}
		}
	}
	return ""
}

// timeClaims are NumericDate claims, shown with a readable UTC time.
func isTimeClaim(name string) bool {
	switch name {
	case "exp", "iat", "nbf", "auth_time", "updated_at":
		return true
	}
	return false
}

// claimRows turns the ID token payload into table rows sorted by name:
// objects (organization, address) as indented JSON, arrays (aud, amr)
// as compact JSON, timestamps with their UTC reading.
func claimRows(claims map[string]any) []claimRow {
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	slices.Sort(names)
	rows := make([]claimRow, 0, len(names))
	for _, name := range names {
		row := claimRow{Name: name}
		switch v := claims[name].(type) {
		case string:
			row.Value = v
		case json.Number:
			row.Value = v.String()
			if n, err := v.Int64(); err == nil && isTimeClaim(name) {
				row.Value += " (" + time.Unix(n, 0).UTC().Format("2006-01-02 15:04:05 UTC") + ")"
			}
		case map[string]any:
			b, _ := json.MarshalIndent(v, "", "  ")
			row.Value, row.Block = string(b), true
		default:
			b, _ := json.Marshal(v)
			row.Value = string(b)
		}
		rows = append(rows, row)
	}
	return rows
}

// decodeClaims reads the payload of an ID token that rp has already verified,
// keeping every claim (custom ones included) and numbers as written.
func decodeClaims(idToken string) (map[string]any, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return nil, errors.New("id token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("id token payload: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("id token payload: %w", err)
	}
	return claims, nil
}
