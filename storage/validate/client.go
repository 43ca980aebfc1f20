package validate

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"satupintu/storage"
)

// Client field names, as the admin API's JSON names them; the CLI maps
// them to its flags.
const (
	FieldClientName             = "name"
	FieldGrantTypes             = "grant_types"
	FieldRedirectURIs           = "redirect_uris"
	FieldPostLogoutRedirectURIs = "post_logout_redirect_uris"
	FieldAccessTokenFormat      = "access_token_format"
	FieldIDTokenAlg             = "id_token_signed_response_alg"
	FieldDescription            = "description"
	FieldLogoURL                = "logo_url"
	FieldLaunchURL              = "launch_url"
	FieldAccountLinkURL         = "account_link_url"
	FieldBackchannelLogoutURI   = "backchannel_logout_uri"
	FieldInitiateLoginURI       = "initiate_login_uri"
	FieldJWKSURI                = "jwks_uri"
	FieldJWKS                   = "jwks"
	FieldTraderTypes            = "allowed_trader_types"
	FieldAuthMethod             = "token_endpoint_auth_method"
	FieldSubjectType            = "subject_type"
	FieldSectorIdentifierURI    = "sector_identifier_uri"
	FieldAdminAPI               = "admin_api"
)

// Catalog keys of client and URI refusals (templates/messages/*/validate.json).
const (
	KeyURIAbsolute              = "validate.uri.absolute"               // not an absolute URI/URL
	KeyURIFragment              = "validate.uri.fragment"               // has a #fragment
	KeyURIHTTPS                 = "validate.uri.https"                  // http off loopback, or another scheme where only https goes
	KeyURIScheme                = "validate.uri.scheme"                 // javascript:, data:, file:, vbscript:
	KeyURIUserinfo              = "validate.uri.userinfo"               // user:password@
	KeyGrantType                = "validate.client.grant_type"          // not a known grant
	KeyRedirectRequired         = "validate.client.redirect_required"   // authorization_code without redirect URIs
	KeyPublicClientCredentials  = "validate.client.public_credentials"  // a public client with client_credentials
	KeyAccessTokenFormat        = "validate.client.access_token_format" // not opaque or jwt
	KeyIDTokenAlg               = "validate.client.id_token_alg"        // not a signing algorithm the provider has
	KeyDescription              = "validate.client.description"         // over 500 runes or several lines
	KeyLaunchRequired           = "validate.client.launch_required"     // listed without a launch URL
	KeyTraderType               = "validate.client.trader_type"         // not a trader type code
	KeyAuthMethod               = "validate.client.auth_method"         // not a known method
	KeyPublicAuthMethod         = "validate.client.public_auth_method"  // a public client authenticating
	KeyConfidentialNone         = "validate.client.confidential_none"   // a confidential client with method none
	KeyJWKSRequired             = "validate.client.jwks_required"       // private_key_jwt without keys
	KeyJWKSUnexpected           = "validate.client.jwks_unexpected"     // keys for another method, or both forms
	KeySubjectType              = "validate.client.subject_type"        // not public or pairwise
	KeySectorURIWithoutPairwise = "validate.client.sector_uri_pairwise" // sector identifier URI of a public-subject client
	KeyAdminAPI                 = "validate.client.admin_api"           // admin API without client_credentials or a secret
	KeyUsername                 = "validate.user.username"              // empty, too long, blanks, @ or control characters
	KeyRole                     = "validate.user.role"                  // not officer or admin
	KeyExpiryDate               = "validate.user.expiry_date"           // not YYYY-MM-DD or never
	KeyExpiryPast               = "validate.user.expiry_past"           // a day already over
	maxURI                      = 2000                                  // longer than any real redirect URI, short of abuse
	maxClientName               = 200
	maxDescription              = 500
)

// ClientKeys lists every key Client, URI checks, User and ExpiryDate can
// return besides ValueKeys, for the catalogs' test.
func ClientKeys() []string {
	return []string{KeyURIAbsolute, KeyURIFragment, KeyURIHTTPS, KeyURIScheme, KeyURIUserinfo,
		KeyGrantType, KeyRedirectRequired, KeyPublicClientCredentials, KeyAccessTokenFormat, KeyIDTokenAlg,
		KeyDescription, KeyLaunchRequired, KeyTraderType, KeyAuthMethod, KeyPublicAuthMethod, KeyConfidentialNone,
		KeyJWKSRequired, KeyJWKSUnexpected, KeySubjectType, KeySectorURIWithoutPairwise, KeyAdminAPI,
		KeyUsername, KeyRole, KeyExpiryDate, KeyExpiryPast}
}

func detailErr(field, key string, args []any, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Key: key, Args: args, Detail: fmt.Sprintf(format, a...)}
}

// GrantTypes are the grants a client may register.
func GrantTypes() []string {
	return []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken, storage.GrantClientCredentials, storage.GrantDeviceCode}
}

// SigningAlgorithms are the JWS algorithms the provider signs with (op
// holds the keys; a test there keeps the lists equal).
func SigningAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// TraderTypes are the trader type codes (the registration wizard's options
// carry their labels; a test there keeps the lists equal).
func TraderTypes() []string {
	return []string{"importir", "eksportir", "importir_eksportir", "ppjk", "pengangkut", "pengusaha_tps", "kawasan_berikat", "lainnya"}
}

// IsLoopback reports whether host names this machine (RFC 8252 §7.3:
// native apps and the demo listen there over plain http).
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// hostileBytes refuses what no URI we register needs and what fools
// people or parsers: control characters, blanks, backslashes (which some
// browsers read as slashes) and non-ASCII (look-alike hosts).
func hostileBytes(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

// RedirectURI checks a registered redirect or post-logout redirect URI as
// RFC 6749 §3.1.2 and RFC 9700 §2.6 ask: absolute, no fragment, https
// unless loopback; a private-use scheme (com.example.app:/cb, RFC 8252
// §7.1) is allowed for native apps, script and data schemes never. field
// names the list it came from. Matching is exact (op), so no pattern.
func RedirectURI(field, raw string) (string, error) {
	if raw == "" || len(raw) > maxURI || hostileBytes(raw) {
		return "", detailErr(field, KeyURIAbsolute, nil, "%q is not an absolute URI", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme == "https" || u.Scheme == "http") && u.Host == "" {
		return "", detailErr(field, KeyURIAbsolute, nil, "%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", detailErr(field, KeyURIFragment, nil, "%q must not contain a fragment", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return "", detailErr(field, KeyURIHTTPS, nil, "%q must use https (http only for localhost)", raw)
		}
	case "javascript", "data", "file", "vbscript", "blob", "about":
		return "", detailErr(field, KeyURIScheme, nil, "%q uses a forbidden scheme", raw)
	}
	if u.User != nil {
		return "", detailErr(field, KeyURIUserinfo, nil, "%q must not contain user information", raw)
	}
	return raw, nil
}

// AppURL checks a URL the server calls or a page links to (logo, launch,
// account link, back-channel logout, initiate login, jwks_uri, sector
// identifier): absolute https, http only on loopback, no user information
// or fragment (ASVS 1.2.2, 1.3.6).
func AppURL(field, raw string) (string, error) {
	if len(raw) > maxURI || hostileBytes(raw) {
		return "", detailErr(field, KeyURIAbsolute, nil, "%q is not an absolute URL", raw)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "", detailErr(field, KeyURIAbsolute, nil, "%q is not an absolute URL", raw)
	case u.Scheme == "http" && !IsLoopback(u.Hostname()), u.Scheme != "http" && u.Scheme != "https":
		return "", detailErr(field, KeyURIHTTPS, nil, "%q must use https (http only for localhost)", raw)
	case u.User != nil:
		return "", detailErr(field, KeyURIUserinfo, nil, "%q must not contain user information or a fragment", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", detailErr(field, KeyURIFragment, nil, "%q must not contain user information or a fragment", raw)
	}
	return raw, nil
}

// LaunchURL checks the URL Your Apps opens a client at (AppURL).
func LaunchURL(raw string) (string, error) { return AppURL(FieldLaunchURL, raw) }

// BackchannelLogoutURI checks where a client receives logout tokens (OIDC
// Back-Channel Logout 1.0 §2.2): AppURL's rules.
func BackchannelLogoutURI(raw string) (string, error) { return AppURL(FieldBackchannelLogoutURI, raw) }

// PostLogoutRedirectURI checks one post-logout redirect URI (RedirectURI).
func PostLogoutRedirectURI(raw string) (string, error) {
	return RedirectURI(FieldPostLogoutRedirectURIs, raw)
}

// Client checks every rule a registered client must keep, whoever writes
// it (CLI, admin API, console): the fields' forms and how they fit
// together. It reads the client as it would be stored (after defaults: an
// empty GrantTypes is refused, not defaulted). The keys (JWKS content,
// the sector identifier's list) need the network or op and are checked
// where they are read.
func Client(c storage.Client) error {
	name := strings.TrimSpace(c.Name)
	if name == "" {
		return detailErr(FieldClientName, KeyRequired, nil, "is required (at most %d characters)", maxClientName)
	}
	if _, err := Name(FieldClientName, c.Name, maxClientName); err != nil {
		fe := err.(*FieldError)
		fe.Detail = fmt.Sprintf("is required (at most %d characters, no control characters)", maxClientName)
		return fe
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(GrantTypes(), g) {
			return detailErr(FieldGrantTypes, KeyGrantType, nil, "%q is not one of %s", g, strings.Join(GrantTypes(), ", "))
		}
	}
	if len(c.GrantTypes) == 0 {
		return detailErr(FieldGrantTypes, KeyGrantType, nil, "at least one of %s is required", strings.Join(GrantTypes(), ", "))
	}
	if slices.Contains(c.GrantTypes, storage.GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return detailErr(FieldRedirectURIs, KeyRedirectRequired, nil, "is required for the authorization_code grant")
	}
	if c.Public && slices.Contains(c.GrantTypes, storage.GrantClientCredentials) {
		return detailErr(FieldGrantTypes, KeyPublicClientCredentials, nil, "a public client cannot use client_credentials")
	}
	for _, u := range c.RedirectURIs {
		if _, err := RedirectURI(FieldRedirectURIs, u); err != nil {
			return err
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if _, err := RedirectURI(FieldPostLogoutRedirectURIs, u); err != nil {
			return err
		}
	}
	if c.AccessTokenFormat != "" && c.AccessTokenFormat != "opaque" && c.AccessTokenFormat != "jwt" {
		return detailErr(FieldAccessTokenFormat, KeyAccessTokenFormat, nil, "%q must be opaque or jwt", c.AccessTokenFormat)
	}
	if c.IDTokenSignedResponseAlg != "" && !slices.Contains(SigningAlgorithms(), c.IDTokenSignedResponseAlg) {
		return detailErr(FieldIDTokenAlg, KeyIDTokenAlg, nil, "%q must be one of %s", c.IDTokenSignedResponseAlg, strings.Join(SigningAlgorithms(), ", "))
	}
	if err := clientAuth(c); err != nil {
		return err
	}
	if err := clientSubject(c); err != nil {
		return err
	}
	if c.AdminAPI && (c.Public || !slices.Equal(c.GrantTypes, []string{storage.GrantClientCredentials})) {
		// The admin scope acts for the operators, never for a user: only a
		// service that proves a secret or key, with no user grant at all.
		return detailErr(FieldAdminAPI, KeyAdminAPI, nil, "is only for a confidential client whose only grant type is client_credentials")
	}
	return listing(c)
}

// clientAuth checks the token endpoint authentication fields.
func clientAuth(c storage.Client) error {
	if c.AuthMethod != "" && !slices.Contains(storage.AuthMethods, c.AuthMethod) {
		return detailErr(FieldAuthMethod, KeyAuthMethod, nil, "%q is not one of %s", c.AuthMethod, strings.Join(storage.AuthMethods, ", "))
	}
	method := c.EffectiveAuthMethod()
	switch {
	case c.Public && method != storage.AuthMethodNone:
		return detailErr(FieldAuthMethod, KeyPublicAuthMethod, nil, "a public client authenticates with none, not %s", method)
	case !c.Public && method == storage.AuthMethodNone:
		return detailErr(FieldAuthMethod, KeyConfidentialNone, nil, "none is only for public clients")
	case c.JWKS != "" && c.JWKSURI != "":
		return detailErr(FieldJWKS, KeyJWKSUnexpected, nil, "give the keys or their URL, not both")
	case method == storage.AuthMethodPrivateKeyJWT && c.JWKS == "" && c.JWKSURI == "":
		return detailErr(FieldJWKS, KeyJWKSRequired, nil, "private_key_jwt needs the client's keys or their URL")
	case method != storage.AuthMethodPrivateKeyJWT && (c.JWKS != "" || c.JWKSURI != ""):
		return detailErr(FieldJWKS, KeyJWKSUnexpected, nil, "keys are only for private_key_jwt")
	}
	if c.JWKSURI != "" {
		if _, err := AppURL(FieldJWKSURI, c.JWKSURI); err != nil {
			return err
		}
	}
	return nil
}

// clientSubject checks the subject type (OIDC Core §8).
func clientSubject(c storage.Client) error {
	switch c.SubjectType {
	case "", "public":
		if c.SectorIdentifierURI != "" {
			return detailErr(FieldSectorIdentifierURI, KeySectorURIWithoutPairwise, nil, "is for subject type pairwise")
		}
	case "pairwise":
		if c.SectorIdentifierURI != "" {
			if _, err := AppURL(FieldSectorIdentifierURI, c.SectorIdentifierURI); err != nil {
				return err
			}
		}
	default:
		return detailErr(FieldSubjectType, KeySubjectType, nil, "%q must be public or pairwise", c.SubjectType)
	}
	return nil
}

// listing checks the "Your Apps" fields. The URLs end up in pages (logo,
// launch) or are called by the server (account link, logout): AppURL.
func listing(c storage.Client) error {
	if len([]rune(c.Description)) > maxDescription || strings.ContainsAny(c.Description, "\r\n") || hostileText(c.Description) {
		return detailErr(FieldDescription, KeyDescription, []any{maxDescription}, "must be one line of at most %d characters", maxDescription)
	}
	for _, f := range []struct{ field, url string }{
		{FieldLogoURL, c.LogoURL}, {FieldLaunchURL, c.LaunchURL}, {FieldAccountLinkURL, c.AccountLinkURL},
		{FieldBackchannelLogoutURI, c.BackchannelLogoutURI}, {FieldInitiateLoginURI, c.InitiateLoginURI},
	} {
		if f.url == "" {
			continue
		}
		if _, err := AppURL(f.field, f.url); err != nil {
			return err
		}
	}
	if c.Listed && c.LaunchURL == "" {
		return detailErr(FieldLaunchURL, KeyLaunchRequired, nil, "is required for a listed client")
	}
	for _, t := range c.AllowedTraderTypes {
		if !slices.Contains(TraderTypes(), t) {
			return detailErr(FieldTraderTypes, KeyTraderType, nil, "%q is not one of %s", t, strings.Join(TraderTypes(), ", "))
		}
	}
	return nil
}
