package admin

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"satupintu/storage"
	"satupintu/web"
)

// clientsPage is the data of "admin_clients".
type clientsPage struct {
	Nav    []navItem
	Query  string
	Rows   []clientRow
	Notice string
}

type clientRow struct {
	ID, Name, Kind, AuthMethod string
	Listed, Disabled           bool
	Updated                    string
}

func (c *Console) listClients(w http.ResponseWriter, r *http.Request, op operator) error {
	q := r.URL.Query().Get("q")
	if len(q) > 200 {
		q = q[:200]
	}
	cs, err := c.Service.ListClients(r.Context(), q)
	if err != nil {
		return err
	}
	p := clientsPage{Nav: nav("/admin/clients"), Query: q, Notice: noticeOf(r)}
	for _, x := range cs {
		kind := "admin.client.confidential"
		if x.Public {
			kind = "admin.client.public"
		}
		p.Rows = append(p.Rows, clientRow{ID: x.ID, Name: x.Name, Kind: kind, AuthMethod: x.EffectiveAuthMethod(),
			Listed: x.Listed, Disabled: x.Disabled, Updated: when(x.UpdatedAt)})
	}
	return c.render.Render(w, r, http.StatusOK, "admin_clients", p)
}

// clientPage is the data of "admin_client": the form to create (ID empty)
// or edit a client.
type clientPage struct {
	Nav                          []navItem
	ID                           string
	In                           ClientInput
	RedirectURIs, PostLogoutURIs string // the textareas, one URI per line
	Grants                       []choice
	Methods                      []choice
	Traders                      []choice
	Formats                      []choice
	Notice                       string
	ErrorKey                     string
	ErrorDetail                  string
	Secret                       string // after a create or a rotation only
	HasSecret                    bool
	Disabled                     bool
}

type choice struct {
	Value    string
	Selected bool
}

func (c *Console) clientPage(id string, in ClientInput) clientPage {
	p := clientPage{Nav: nav("/admin/clients"), ID: id, In: in,
		RedirectURIs: joinLines(in.RedirectURIs), PostLogoutURIs: joinLines(in.PostLogoutRedirectURIs),
	}
	for _, g := range Grants {
		p.Grants = append(p.Grants, choice{g, slices.Contains(in.GrantTypes, g)})
	}
	method := in.AuthMethod
	if method == "" {
		method = storage.AuthMethodSecretBasic
	}
	for _, m := range storage.AuthMethods {
		p.Methods = append(p.Methods, choice{m, m == method})
	}
	for _, t := range c.Service.TraderTypes {
		p.Traders = append(p.Traders, choice{t, slices.Contains(in.AllowedTraderTypes, t)})
	}
	for _, f := range []string{"opaque", "jwt"} {
		p.Formats = append(p.Formats, choice{f, f == in.AccessTokenFormat || (f == "opaque" && in.AccessTokenFormat == "")})
	}
	p.HasSecret = !in.Public && needsSecret(method)
	return p
}

func joinLines(l []string) string { return strings.Join(l, "\n") }

// Grants are the grant types the console offers.
var Grants = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken, storage.GrantClientCredentials,
	"urn:ietf:params:oauth:grant-type:device_code"}

func (c *Console) newClient(w http.ResponseWriter, r *http.Request, op operator) error {
	in := ClientInput{GrantTypes: []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		AuthMethod: storage.AuthMethodSecretBasic, AccessTokenFormat: "opaque"}
	return c.render.Render(w, r, http.StatusOK, "admin_client", c.clientPage("", in))
}

// clientForm reads the client form of a verified POST.
func clientForm(r *http.Request) ClientInput {
	f := r.PostForm
	return ClientInput{
		Name: f.Get("name"), Description: f.Get("description"), LogoURL: f.Get("logo_url"),
		LaunchURL: f.Get("launch_url"), InitiateLoginURI: f.Get("initiate_login_uri"),
		RedirectURIs: lines(f.Get("redirect_uris")), PostLogoutRedirectURIs: lines(f.Get("post_logout_redirect_uris")),
		BackchannelLogoutURI: f.Get("backchannel_logout_uri"), GrantTypes: f["grant_type"],
		AuthMethod: f.Get("auth_method"), Public: f.Get("public") == "yes", Listed: f.Get("listed") == "yes",
		AllowedTraderTypes: f["trader_type"], AccountLinkURL: f.Get("account_link_url"),
		RequireMFA: f.Get("require_mfa") == "yes", AccessTokenFormat: f.Get("access_token_format"),
		AdminAPI: f.Get("admin_api") == "yes",
	}
}

// formError re-renders the form with what was wrong, keeping what the
// operator typed.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, id string, in ClientInput, err error) error {
	var p *Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity {
		return problem(err)
	}
	page := c.clientPage(id, in)
	page.ErrorKey = p.Key
	if p.Field != nil {
		page.ErrorDetail = c.Pages.T(web.Locale(r), p.Field.Key, p.Field.Args...)
	}
	return c.render.Render(w, r, http.StatusUnprocessableEntity, "admin_client", page)
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request, op operator) error {
	in := clientForm(r)
	cl, secret, err := c.Service.CreateClient(r.Context(), op.Actor, in)
	if err != nil {
		return c.formError(w, r, "", in, err)
	}
	return c.showSecret(w, r, cl, secret)
}

// secretPage is the data of "admin_client_secret": the one time a secret
// is shown. The page is not cached (no-store) and never logged.
type secretPage struct {
	Nav        []navItem
	Notice     string
	ID, Name   string
	Secret     string
	AuthMethod string
}

func (c *Console) showSecret(w http.ResponseWriter, r *http.Request, cl storage.Client, secret string) error {
	if secret == "" {
		return done(w, r, "/admin/clients/"+cl.ID, "saved")
	}
	return c.render.Render(w, r, http.StatusOK, "admin_client_secret", secretPage{Nav: nav("/admin/clients"),
		ID: cl.ID, Name: cl.Name, Secret: secret, AuthMethod: cl.EffectiveAuthMethod()})
}

func (c *Console) showClient(w http.ResponseWriter, r *http.Request, op operator) error {
	cl, err := c.Service.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return problem(err)
	}
	p := c.clientPage(cl.ID, inputOf(cl))
	p.Notice, p.Disabled = noticeOf(r), cl.Disabled
	return c.render.Render(w, r, http.StatusOK, "admin_client", p)
}

func (c *Console) updateClient(w http.ResponseWriter, r *http.Request, op operator) error {
	id := r.PathValue("id")
	in := clientForm(r)
	cl, secret, err := c.Service.UpdateClient(r.Context(), op.Actor, id, in)
	if err != nil {
		return c.formError(w, r, id, in, err)
	}
	return c.showSecret(w, r, cl, secret)
}

func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, op operator) error {
	id := r.PathValue("id")
	cl, secret, err := c.Service.RotateSecret(r.Context(), op.Actor, id)
	if err != nil {
		return problem(err)
	}
	return c.showSecret(w, r, cl, secret)
}

// setClientDisabled disables or enables the client of the path.
func (c *Console) setClientDisabled(disabled bool) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, op operator) error {
		id := r.PathValue("id")
		if err := c.Service.SetClientDisabled(r.Context(), op.Actor, id, disabled); err != nil {
			return problem(err)
		}
		notice := "client_enabled"
		if disabled {
			notice = "client_disabled"
		}
		return done(w, r, "/admin/clients/"+url.PathEscape(id), notice)
	}
}

// deleteClient deletes after the operator typed the client's id: a
// deleted client's users lose their sign-in to it at once.
func (c *Console) deleteClient(w http.ResponseWriter, r *http.Request, op operator) error {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != id {
		return &web.Error{Status: http.StatusUnprocessableEntity, MessageKey: "admin.client.delete_confirm_mismatch"}
	}
	if err := c.Service.DeleteClient(r.Context(), op.Actor, id); err != nil {
		return problem(err)
	}
	return done(w, r, "/admin/clients", "deleted")
}
