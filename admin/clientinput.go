package admin

import (
	"slices"
	"strings"

	"satupintu/storage"
)

// ClientInput is every field an operator edits on a client application:
// the console's form and the API's JSON body. Secrets and the pairwise
// sector are not in it: the service issues and derives them.
type ClientInput struct {
	Name                   string   `json:"name"`
	Description            string   `json:"description,omitempty"`
	LogoURL                string   `json:"logo_url,omitempty"`
	LaunchURL              string   `json:"launch_url,omitempty"`
	InitiateLoginURI       string   `json:"initiate_login_uri,omitempty"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	GrantTypes             []string `json:"grant_types"`
	AuthMethod             string   `json:"token_endpoint_auth_method"`
	Public                 bool     `json:"public"`
	Listed                 bool     `json:"listed"`
	AllowedTraderTypes     []string `json:"allowed_trader_types"`
	AccountLinkURL         string   `json:"account_link_url,omitempty"`
	RequireMFA             bool     `json:"require_mfa"`
	AccessTokenFormat      string   `json:"access_token_format,omitempty"`
	// AdminAPI lets the client obtain the admin scope (client_credentials
	// only): a script that runs this API.
	AdminAPI bool `json:"admin_api"`
}

// Bounds on what an input may hold, before the client rules look at it.
const (
	maxURIs = 20
	maxURL  = 2000
)

// inputOf is the input that leaves c as it is.
func inputOf(c storage.Client) ClientInput {
	return ClientInput{
		Name: c.Name, Description: c.Description, LogoURL: c.LogoURL, LaunchURL: c.LaunchURL,
		InitiateLoginURI: c.InitiateLoginURI, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		BackchannelLogoutURI: c.BackchannelLogoutURI, GrantTypes: c.GrantTypes, AuthMethod: c.EffectiveAuthMethod(),
		Public: c.Public, Listed: c.Listed, AllowedTraderTypes: c.AllowedTraderTypes, AccountLinkURL: c.AccountLinkURL,
		RequireMFA: c.RequireMFA, AccessTokenFormat: c.AccessTokenFormat, AdminAPI: c.AdminAPI,
	}
}

// apply copies in onto c, trimmed, within the input's size bounds; the
// client rules (validate.Client, through PrepareClient) judge the result.
func (in ClientInput) apply(c *storage.Client) error {
	lists := [][]string{in.RedirectURIs, in.PostLogoutRedirectURIs, in.GrantTypes, in.AllowedTraderTypes}
	for _, l := range lists {
		if len(l) > maxURIs {
			return invalid("too many entries in a list (at most 20)")
		}
	}
	for _, u := range append(slices.Concat(in.RedirectURIs, in.PostLogoutRedirectURIs),
		in.LogoURL, in.LaunchURL, in.InitiateLoginURI, in.BackchannelLogoutURI, in.AccountLinkURL) {
		if len(u) > maxURL {
			return invalid("a URL is longer than 2000 characters")
		}
	}
	c.Name = strings.TrimSpace(in.Name)
	c.Description = strings.TrimSpace(in.Description)
	c.LogoURL, c.LaunchURL = strings.TrimSpace(in.LogoURL), strings.TrimSpace(in.LaunchURL)
	c.InitiateLoginURI = strings.TrimSpace(in.InitiateLoginURI)
	c.RedirectURIs, c.PostLogoutRedirectURIs = cleanList(in.RedirectURIs), cleanList(in.PostLogoutRedirectURIs)
	c.BackchannelLogoutURI = strings.TrimSpace(in.BackchannelLogoutURI)
	c.GrantTypes = cleanList(in.GrantTypes)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	}
	c.Public = in.Public
	c.AuthMethod = strings.TrimSpace(in.AuthMethod)
	if c.Public {
		c.AuthMethod = storage.AuthMethodNone
	}
	c.Listed = in.Listed
	c.AllowedTraderTypes = cleanList(in.AllowedTraderTypes)
	c.AccountLinkURL = strings.TrimSpace(in.AccountLinkURL)
	c.RequireMFA = in.RequireMFA
	c.AdminAPI = in.AdminAPI
	c.AccessTokenFormat = strings.TrimSpace(in.AccessTokenFormat)
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = "opaque"
	}
	return nil
}

// cleanList trims each entry and drops empty ones and repeats; nil when
// nothing is left.
func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	return cleanList(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }))
}
