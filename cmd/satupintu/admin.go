package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"satupintu/login"
	"satupintu/op"
	"satupintu/password"
	"satupintu/registration"
	"satupintu/storage"
)

// usageError is a bad command line: one line on stderr and exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// adminStore is what the admin commands change.
type adminStore interface {
	storage.Clients
	storage.Users
	storage.Keys
	storage.Audit
	storage.Passkeys
	storage.Secrets // the key sealing client_secret_jwt secrets
	storage.SettingsStore
	// user create --organization finds the company by NIB and reports the
	// membership made.
	OrganizationByNIB(ctx context.Context, nib string) (storage.Organization, error)
	Membership(ctx context.Context, orgID, userID string) (storage.Membership, error)
}

type admin struct {
	store  adminStore
	stdin  io.Reader
	stdout io.Writer
	now    func() time.Time
	// openEphemeral opens the short-lived-state store as serve does, for
	// the commands that change it (user unlock).
	openEphemeral func(context.Context) (storage.Ephemeral, string, error)
	// keyTimeline and kek: keys rotate seals and times keys as serve does.
	keyTimeline op.KeyTimeline
	kek         *op.KEK
}

func (a *admin) audit(ctx context.Context, action, subject string) error {
	return a.store.AppendAudit(ctx, storage.AuditEvent{Time: a.now().UTC(), Action: action, ActorID: "cli", Subject: subject})
}

// --- clients ---

func (a *admin) client(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("client: want create, update, list, delete or rotate-secret")
	}
	switch args[0] {
	case "create":
		return a.clientCreate(ctx, args[1:])
	case "list":
		return a.clientList(ctx, args[1:])
	case "delete":
		return a.clientDelete(ctx, args[1:])
	case "rotate-secret":
		return a.clientRotate(ctx, args[1:])
	case "update":
		return a.clientUpdate(ctx, args[1:])
	default:
		return usagef("client: unknown command %q (want create, update, list, delete or rotate-secret)", args[0])
	}
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors come back as one line
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

var knownGrants = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken, storage.GrantClientCredentials, storage.GrantDeviceCode}

// validateRedirectURI enforces what RFC 6749 §3.1.2 and RFC 9700 §2.6 ask of
// registered URIs: absolute, no fragment, https unless loopback.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" && u.Scheme == "https" {
		return fmt.Errorf("%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not contain a fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q must use https (http only for localhost)", raw)
		}
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("%q uses a forbidden scheme", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not contain user information", raw)
	}
	return nil
}

func (a *admin) clientCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("client create")
	name := fs.String("name", "", "display name")
	public := fs.Bool("public", false, "public client (no secret, PKCE required)")
	asJSON := fs.Bool("json", false, "print JSON")
	format := fs.String("access-token-format", "opaque", "opaque or jwt")
	requireMFA := fs.Bool("require-mfa", false, "every sign-in to this client uses a second factor")
	listed := fs.Bool("listed", false, "show the client in the users' Your Apps list")
	description := fs.String("description", "", "one-line description for Your Apps")
	logoURL := fs.String("logo-url", "", "logo image URL for Your Apps (https)")
	launchURL := fs.String("launch-url", "", "where Your Apps opens the client (https)")
	linkURL := fs.String("account-link-url", "", "the client's account-verification endpoint for account linking (https)")
	backchannel := fs.String("backchannel-logout-uri", "", "where the client receives logout tokens (https)")
	initiate := fs.String("initiate-login-uri", "", "where Your Apps' Open starts the client's sign-in (https)")
	subjectType := fs.String("subject-type", op.SubjectPublic, "public (the user's id) or pairwise (a sub of the client's sector)")
	sectorURI := fs.String("sector-identifier-uri", "", "pairwise: https URL of a JSON list of the redirect URIs, for a sector of several hosts")
	dpopRequired := fs.Bool("dpop-required", false, "token requests must carry a DPoP proof (RFC 9449)")
	idTokenAlg := fs.String("id-token-alg", "", "ID token and logout token signing algorithm: RS256, PS256, ES256 or EdDSA (default: the server's)")
	var redirects, postLogout, grants, traderTypes multi
	fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	fs.Var(&grants, "grant-type", "grant type (repeatable)")
	fs.Var(&traderTypes, "trader-type", "only users of this trader type see it in Your Apps (repeatable; none: everyone)")
	var auth clientAuthFlags
	auth.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	grants = grantAliases(grants) // device_code (device.go)
	c := storage.Client{
		ID: storage.NewID(), Name: strings.TrimSpace(*name), Public: *public,
		RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout, GrantTypes: grants,
		AccessTokenFormat: *format, RequireMFA: *requireMFA,
		Listed: *listed, Description: strings.TrimSpace(*description), LogoURL: *logoURL,
		LaunchURL: *launchURL, AllowedTraderTypes: traderTypes, AccountLinkURL: *linkURL,
		BackchannelLogoutURI: *backchannel, InitiateLoginURI: *initiate,
		SubjectType: *subjectType, SectorIdentifierURI: *sectorURI,
		IDTokenSignedResponseAlg: *idTokenAlg,
	}
	c.DPoPRequired = *dpopRequired
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	}
	if err := auth.apply(&c, nil); err != nil {
		return usagef("client create: %v", err)
	}
	if err := validateClient(c); err != nil {
		return usagef("client create: %v", err)
	}
	sector, err := sectorOf(ctx, c)
	if err != nil {
		return usagef("client create: %v", err)
	}
	c.SectorIdentifier = sector
	var key [32]byte
	if c.EffectiveAuthMethod() == storage.AuthMethodSecretJWT {
		var err error
		if key, err = a.sealKey(ctx); err != nil {
			return err
		}
	}
	secret, err := issueSecret(&c, key)
	if err != nil {
		return err
	}
	now := a.now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := a.store.CreateClient(ctx, c); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if err := a.audit(ctx, "client.create", c.ID); err != nil {
		return err
	}
	return a.printClient(c, secret, *asJSON)
}

func validateClient(c storage.Client) error {
	if c.Name == "" || len(c.Name) > 200 {
		return errors.New("--name is required (at most 200 characters)")
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(knownGrants, g) {
			return fmt.Errorf("--grant-type %q is not one of %s", g, strings.Join(knownGrants, ", "))
		}
	}
	usesCode := slices.Contains(c.GrantTypes, storage.GrantAuthorizationCode)
	if usesCode && len(c.RedirectURIs) == 0 {
		return errors.New("--redirect-uri is required for the authorization_code grant")
	}
	if c.Public && slices.Contains(c.GrantTypes, storage.GrantClientCredentials) {
		return errors.New("a public client cannot use client_credentials")
	}
	for _, u := range append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...) {
		if err := validateRedirectURI(u); err != nil {
			return err
		}
	}
	if c.AccessTokenFormat != "opaque" && c.AccessTokenFormat != "jwt" {
		return fmt.Errorf("--access-token-format %q must be opaque or jwt", c.AccessTokenFormat)
	}
	if c.IDTokenSignedResponseAlg != "" && !op.ValidAlgorithm(c.IDTokenSignedResponseAlg) {
		return fmt.Errorf("--id-token-alg %q must be one of %s", c.IDTokenSignedResponseAlg, strings.Join(op.Algorithms, ", "))
	}
	return validateListing(c)
}

// validateListing checks the "Your Apps" fields. The URLs end up in pages
// (logo, launch) or are called by the server (account link): https only,
// http for localhost, never javascript: or data: (ASVS 1.2.2, 1.3.6).
func validateListing(c storage.Client) error {
	if len(c.Description) > 500 || strings.ContainsAny(c.Description, "\r\n") {
		return errors.New("--description must be one line of at most 500 characters")
	}
	for _, f := range []struct{ flag, url string }{
		{"--logo-url", c.LogoURL}, {"--launch-url", c.LaunchURL}, {"--account-link-url", c.AccountLinkURL},
		{"--backchannel-logout-uri", c.BackchannelLogoutURI}, {"--initiate-login-uri", c.InitiateLoginURI},
	} {
		if f.url == "" {
			continue
		}
		if err := validateAppURL(f.url); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	if c.Listed && c.LaunchURL == "" {
		return errors.New("--launch-url is required for a --listed client")
	}
	for _, t := range c.AllowedTraderTypes {
		if !slices.Contains(registration.TraderTypes.Codes(), t) {
			return fmt.Errorf("--trader-type %q is not one of %s", t, strings.Join(registration.TraderTypes.Codes(), ", "))
		}
	}
	return nil
}

// validateAppURL accepts an absolute https URL, or http on localhost (the
// demo), without user information or fragment.
func validateAppURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute URL", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()), u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must use https (http only for localhost)", raw)
	case u.User != nil || u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q must not contain user information or a fragment", raw)
	}
	return nil
}

type clientJSON struct {
	ClientID                 string   `json:"client_id"`
	ClientSecret             string   `json:"client_secret,omitempty"`
	Name                     string   `json:"name"`
	Public                   bool     `json:"public"`
	RedirectURIs             []string `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris"`
	GrantTypes               []string `json:"grant_types"`
	RequireMFA               bool     `json:"require_mfa,omitempty"`
	Listed                   bool     `json:"listed,omitempty"`
	LaunchURL                string   `json:"launch_url,omitempty"`
	AllowedTraderTypes       []string `json:"allowed_trader_types,omitempty"`
	AccountLinkURL           string   `json:"account_link_url,omitempty"`
	BackchannelLogoutURI     string   `json:"backchannel_logout_uri,omitempty"`
	InitiateLoginURI         string   `json:"initiate_login_uri,omitempty"`
	SubjectType              string   `json:"subject_type,omitempty"`
	SectorIdentifierURI      string   `json:"sector_identifier_uri,omitempty"`
	AuthMethod               string   `json:"token_endpoint_auth_method"`
	JWKSURI                  string   `json:"jwks_uri,omitempty"`
	HasJWKS                  bool     `json:"jwks_registered,omitempty"`
	RequirePAR               bool     `json:"require_pushed_authorization_requests,omitempty"`
	DPoPRequired             bool     `json:"dpop_required,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	AccessTokenFormat        string   `json:"access_token_format,omitempty"`
}

func toJSON(c storage.Client, secret string) clientJSON {
	return clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, Public: c.Public,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), RequireMFA: c.RequireMFA, Listed: c.Listed, LaunchURL: c.LaunchURL,
		AllowedTraderTypes: c.AllowedTraderTypes, AccountLinkURL: c.AccountLinkURL,
		BackchannelLogoutURI: c.BackchannelLogoutURI, InitiateLoginURI: c.InitiateLoginURI,
		SubjectType: c.SubjectType, SectorIdentifierURI: c.SectorIdentifierURI,
		AuthMethod: c.EffectiveAuthMethod(), JWKSURI: c.JWKSURI, HasJWKS: c.JWKS != "", RequirePAR: c.RequirePAR,
		DPoPRequired:             c.DPoPRequired,
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, AccessTokenFormat: c.AccessTokenFormat,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *admin) printClient(c storage.Client, secret string, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(toJSON(c, secret))
	}
	fmt.Fprintf(a.stdout, "client_id:     %s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(a.stdout, "client_secret: %s\n(the secret is shown only now; store it safely)\n", secret)
	}
	return nil
}

func (a *admin) clientList(ctx context.Context, args []string) error {
	fs := newFlagSet("client list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	clients, err := a.store.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("list clients: %w", err)
	}
	if *asJSON {
		out := make([]clientJSON, 0, len(clients))
		for _, c := range clients {
			out = append(out, toJSON(c, ""))
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tGRANTS\tREDIRECT_URIS")
	for _, c := range clients {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

// oneArg parses flags before and after the one positional argument
// (`client delete ID --json` reads as well as `client delete --json ID`).
func oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return "", usagef("%s: want exactly one %s", fs.Name(), what)
	}
	return positional[0], nil
}

func (a *admin) clientDelete(ctx context.Context, args []string) error {
	id, err := oneArg(newFlagSet("client delete"), args, "CLIENT_ID")
	if err != nil {
		return err
	}
	if err := a.store.DeleteClient(ctx, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return usagef("client delete: no client %q", id)
		}
		return fmt.Errorf("delete client: %w", err)
	}
	if err := a.audit(ctx, "client.delete", id); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "deleted client %s\n", id)
	return nil
}

func (a *admin) clientRotate(ctx context.Context, args []string) error {
	fs := newFlagSet("client rotate-secret")
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := oneArg(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	key, err := a.sealKey(ctx)
	if err != nil {
		return err
	}
	var (
		updated storage.Client
		secret  string
	)
	err = a.store.UpdateClient(ctx, id, func(c *storage.Client) error {
		if c.Public {
			return usagef("client rotate-secret: %s is a public client and has no secret", id)
		}
		if c.EffectiveAuthMethod() == storage.AuthMethodPrivateKeyJWT {
			return usagef("client rotate-secret: %s authenticates with its keys (private_key_jwt) and has no secret", id)
		}
		var err error
		if secret, err = issueSecret(c, key); err != nil {
			return err
		}
		c.UpdatedAt = a.now().UTC()
		updated = *c
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return usagef("client rotate-secret: no client %q", id)
	}
	if err != nil {
		return err
	}
	if err := a.audit(ctx, "client.rotate_secret", id); err != nil {
		return err
	}
	return a.printClient(updated, secret, *asJSON)
}

// clientUpdate changes what its flags name and nothing else; today
// --backchannel-logout-uri and --initiate-login-uri (an empty value removes
// either) and --dpop-required (=false lifts it).
func (a *admin) clientUpdate(ctx context.Context, args []string) error {
	fs := newFlagSet("client update")
	asJSON := fs.Bool("json", false, "print JSON")
	backchannel := fs.String("backchannel-logout-uri", "", "where the client receives logout tokens (https; empty: none)")
	initiate := fs.String("initiate-login-uri", "", "where Your Apps' Open starts the client's sign-in (https; empty: none)")
	var auth clientAuthFlags
	auth.register(fs)
	dpopRequired := fs.Bool("dpop-required", false, "token requests must carry a DPoP proof (RFC 9449; =false: not required)")
	var grants multi
	fs.Var(&grants, "grant-type", "grant type, replacing the client's list (repeatable; device_code for the device flow)")
	idTokenAlg := fs.String("id-token-alg", "", "RS256, PS256, ES256 or EdDSA (empty: the server's default)")
	format := fs.String("access-token-format", "", "opaque or jwt")
	id, err := oneArg(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	authSet := slices.ContainsFunc(clientAuthFlagNames, func(n string) bool { return set[n] })
	if !set["backchannel-logout-uri"] && !set["initiate-login-uri"] && !authSet && !set["dpop-required"] && !set["grant-type"] &&
		!set["id-token-alg"] && !set["access-token-format"] {
		return usagef("client update: nothing to change (want --backchannel-logout-uri, --initiate-login-uri, --auth-method, --jwks, --jwks-uri, --require-par, --dpop-required, --grant-type, --id-token-alg or --access-token-format)")
	}
	if set["id-token-alg"] && *idTokenAlg != "" && !op.ValidAlgorithm(*idTokenAlg) {
		return usagef("client update: --id-token-alg %q must be one of %s", *idTokenAlg, strings.Join(op.Algorithms, ", "))
	}
	if set["access-token-format"] && *format != "opaque" && *format != "jwt" {
		return usagef("client update: --access-token-format %q must be opaque or jwt", *format)
	}
	for _, f := range []struct{ name, url string }{{"backchannel-logout-uri", *backchannel}, {"initiate-login-uri", *initiate}} {
		if set[f.name] && f.url != "" {
			if err := validateAppURL(f.url); err != nil {
				return usagef("client update: --%s: %v", f.name, err)
			}
		}
	}
	var key [32]byte
	if authSet {
		if key, err = a.sealKey(ctx); err != nil {
			return err
		}
	}
	var (
		updated storage.Client
		secret  string // a new secret the changed auth method needs
	)
	err = a.store.UpdateClient(ctx, id, func(c *storage.Client) error {
		if authSet {
			if err := auth.apply(c, set); err != nil {
				return usagef("client update: %v", err)
			}
			if needsNewSecret(*c) {
				var err error
				if secret, err = issueSecret(c, key); err != nil {
					return err
				}
			}
		}
		if set["backchannel-logout-uri"] {
			c.BackchannelLogoutURI = *backchannel
		}
		if set["initiate-login-uri"] {
			c.InitiateLoginURI = *initiate
		}
		if set["dpop-required"] {
			c.DPoPRequired = *dpopRequired
		}
		if set["grant-type"] {
			c.GrantTypes = grantAliases(grants)
			if err := validateClient(*c); err != nil {
				return usagef("client update: %v", err)
			}
		}
		if set["id-token-alg"] {
			c.IDTokenSignedResponseAlg = *idTokenAlg
		}
		if set["access-token-format"] {
			c.AccessTokenFormat = *format
		}
		c.UpdatedAt = a.now().UTC()
		updated = *c
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return usagef("client update: no client %q", id)
	}
	if err != nil {
		return err
	}
	if err := a.audit(ctx, "client.update", id); err != nil {
		return err
	}
	if *asJSON || secret != "" {
		return a.printClient(updated, secret, *asJSON)
	}
	fmt.Fprintf(a.stdout, "updated client %s\n", id)
	return nil
}

// --- users ---

func (a *admin) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("user: want create, list, set-password, disable, enable, unlock, passkeys or remove-passkeys")
	}
	switch args[0] {
	case "create":
		return a.userCreate(ctx, args[1:])
	case "set-password":
		return a.userSetPassword(ctx, args[1:])
	case "disable", "enable":
		return a.userSetDisabled(ctx, args[1:], args[0] == "disable")
	case "list":
		return a.userList(ctx, args[1:])
	case "unlock":
		return a.userUnlock(ctx, args[1:])
	case "passkeys":
		return a.userPasskeys(ctx, args[1:])
	case "remove-passkeys":
		return a.userRemovePasskeys(ctx, args[1:])
	default:
		return usagef("user: unknown command %q (want create, list, set-password, disable, enable, unlock, passkeys or remove-passkeys)", args[0])
	}
}

// checkPassword applies the password policy every form applies (length,
// common passwords, the account's own words: ASVS 6.2.1, 6.2.4, 6.2.11).
func checkPassword(p string, context ...string) error {
	return password.CheckPolicy(p, context...)
}

// readPassword takes the first line of stdin, so secrets stay out of the
// process list and shell history.
// context are the account's own words, refused as its password.
func (a *admin) readPassword(context ...string) (string, error) {
	line, err := bufio.NewReaderSize(a.stdin, 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if err := checkPassword(line, context...); err != nil {
		return "", usageError{err.Error()}
	}
	return line, nil
}

func (a *admin) userCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("user create")
	username := fs.String("username", "", "username")
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "full name")
	phone := fs.String("phone", "", "phone number")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	orgNIB := fs.String("organization", "", "NIB of the company the user joins (its administrator if it has none)")
	var roles multi
	fs.Var(&roles, "role", "role: officer or admin (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var org storage.Organization
	if *orgNIB != "" {
		// The wizard's validator: spaces between digit groups are fine.
		nib, err := registration.NIB(*orgNIB)
		if err != nil {
			return usagef("user create: --organization %q is not a NIB (13 digits)", *orgNIB)
		}
		org, err = a.store.OrganizationByNIB(ctx, nib)
		if errors.Is(err, storage.ErrNotFound) {
			return usagef("user create: no organization with NIB %s", nib)
		}
		if err != nil {
			return fmt.Errorf("find organization: %w", err)
		}
	}
	u := storage.User{
		ID: storage.NewID(), Username: strings.ToLower(strings.TrimSpace(*username)),
		Email: strings.ToLower(strings.TrimSpace(*email)), Name: strings.TrimSpace(*name),
		Phone: strings.TrimSpace(*phone), Roles: roles, OrganizationID: org.ID,
	}
	if err := validateUser(u); err != nil {
		return usagef("user create: %v", err)
	}
	if !*fromStdin {
		return usagef("user create: --password-stdin is required (the password is read from stdin)")
	}
	pw, err := a.readPassword(u.Username, u.Email, u.Name)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = password.Hash(pw, password.OWASP); err != nil {
		return err
	}
	now := a.now().UTC()
	u.CreatedAt, u.UpdatedAt = now, now
	if err := a.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return usagef("user create: the username or email is already taken")
		}
		return fmt.Errorf("create user: %w", err)
	}
	if err := a.audit(ctx, "user.create", u.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "created user %s (id %s)\n", u.Username, u.ID)
	if org.ID != "" {
		// CreateUser made the membership in its transaction.
		m, err := a.store.Membership(ctx, org.ID, u.ID)
		if err != nil {
			return fmt.Errorf("read membership: %w", err)
		}
		if err := a.store.AppendAudit(ctx, storage.AuditEvent{Time: now, Action: "company.member_add", ActorID: "cli",
			Subject: org.ID, Detail: map[string]string{"user_id": u.ID, "role": m.Role}}); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "member of %s (NIB %s, organization id %s) as %s\n", org.Name, org.NIB, org.ID, m.Role)
	}
	return nil
}

func validateUser(u storage.User) error {
	if u.Username == "" || len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n@") {
		return errors.New("--username is required: up to 64 characters, no spaces or @")
	}
	if !looksLikeEmail(u.Email) {
		return fmt.Errorf("--email %q is not an email address", u.Email)
	}
	if len(u.Name) > 200 {
		return errors.New("--name is longer than 200 characters")
	}
	for _, r := range u.Roles {
		if r != storage.RoleOfficer && r != storage.RoleAdmin {
			return fmt.Errorf("--role %q must be %s or %s", r, storage.RoleOfficer, storage.RoleAdmin)
		}
	}
	return nil
}

// looksLikeEmail is a deliberately small check: one @, a dot in the domain,
// no spaces or control characters (which could inject mail headers).
func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>\",;") {
		return false
	}
	return strings.Contains(s[at+1:], ".")
}

// userFromArgs parses fs (which must not define --username) with a
// --username flag that may also be the one positional argument, and finds
// that user.
func (a *admin) userFromArgs(ctx context.Context, fs *flag.FlagSet, args []string) (storage.User, error) {
	login := fs.String("username", "", "username or email")
	if err := parseFlags(fs, args); err != nil {
		return storage.User{}, err
	}
	if *login == "" && fs.NArg() == 1 {
		*login = fs.Arg(0)
	}
	return a.findUser(ctx, fs, *login)
}

func (a *admin) findUser(ctx context.Context, fs *flag.FlagSet, login string) (storage.User, error) {
	if login == "" {
		return storage.User{}, usagef("%s: --username is required", fs.Name())
	}
	u, err := a.store.UserByLogin(ctx, strings.ToLower(login))
	if errors.Is(err, storage.ErrNotFound) {
		return u, usagef("%s: no user %q", fs.Name(), login)
	}
	return u, err
}

func (a *admin) userSetPassword(ctx context.Context, args []string) error {
	fs := newFlagSet("user set-password")
	login := fs.String("username", "", "username or email")
	fs.Bool("password-stdin", true, "read the password from stdin (always)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u, err := a.findUser(ctx, fs, *login)
	if err != nil {
		return err
	}
	pw, err := a.readPassword(u.Username, u.Email, u.Name)
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw, password.OWASP)
	if err != nil {
		return err
	}
	if err := a.store.UpdateUser(ctx, u.ID, func(u *storage.User) error {
		// PasswordChangedAt voids reset links sent before.
		u.PasswordHash, u.PasswordChangedAt, u.UpdatedAt = hash, a.now().UTC(), a.now().UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := a.audit(ctx, "user.set_password", u.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "password changed for %s\n", u.Username)
	return nil
}

func (a *admin) userSetDisabled(ctx context.Context, args []string, disabled bool) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	fs := newFlagSet("user " + verb)
	u, err := a.userFromArgs(ctx, fs, args)
	if err != nil {
		return err
	}
	if err := a.store.UpdateUser(ctx, u.ID, func(u *storage.User) error {
		u.Disabled, u.UpdatedAt = disabled, a.now().UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("%s user: %w", verb, err)
	}
	if err := a.audit(ctx, "user."+verb, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%sd user %s\n", verb, u.Username)
	return nil
}

// userUnlock lifts a sign-in lock and clears the failures behind it, for
// the user's username and email (login/throttle.go). They live in the
// ephemeral store: with Redis this reaches every running node; the
// in-process default lives inside the running server, out of this
// command's reach, and its locks end by themselves.
func (a *admin) userUnlock(ctx context.Context, args []string) error {
	fs := newFlagSet("user unlock")
	u, err := a.userFromArgs(ctx, fs, args)
	if err != nil {
		return err
	}
	if a.openEphemeral == nil {
		return errors.New("user unlock: no ephemeral store")
	}
	eph, kind, err := a.openEphemeral(ctx)
	if err != nil {
		return fmt.Errorf("user unlock: %w", err)
	}
	defer eph.Close()
	throttle := &login.Throttle{Counters: eph, Now: a.now}
	if kind == "memory" {
		return fmt.Errorf("user unlock: without SATUPINTU_REDIS_URL sign-in locks are kept inside the running server, "+
			"out of this command's reach; a lock ends by itself %d minutes after it starts, or when the server restarts", throttle.LockMinutes())
	}
	if err := throttle.Unlock(ctx, u.Username, u.Email, fs.Lookup("username").Value.String()); err != nil {
		return err
	}
	if err := a.audit(ctx, "user.unlock", u.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "unlocked sign-in for %s\n", u.Username)
	return nil
}

func (a *admin) userList(ctx context.Context, args []string) error {
	if err := parseFlags(newFlagSet("user list"), args); err != nil {
		return err
	}
	users, err := a.store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tEMAIL\tNAME\tROLES\tSTATE")
	for _, u := range users {
		state := "active"
		if !u.CanSignIn(a.now()) {
			state = "disabled/expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Email, u.Name, strings.Join(u.Roles, ","), state)
	}
	return tw.Flush()
}

// --- keys ---

func (a *admin) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("keys: want list or rotate")
	}
	switch args[0] {
	case "list":
		return a.keysList(ctx, args[1:])
	case "rotate":
		return a.keysRotate(ctx, args[1:])
	default:
		return usagef("keys: unknown command %q (want list or rotate)", args[0])
	}
}

// keysList shows each stored key's state; never key material.
func (a *admin) keysList(ctx context.Context, args []string) error {
	fs := newFlagSet("keys list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keys, err := a.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	now := a.now().UTC()
	states := op.KeyStates(keys, now)
	slices.SortFunc(keys, func(x, y storage.SigningKey) int {
		if c := strings.Compare(x.Algorithm, y.Algorithm); c != 0 {
			return c
		}
		return x.ActivatesAt.Compare(y.ActivatesAt)
	})
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRES\tSEALED")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%t\n", k.ID, k.Algorithm, states[k.ID],
			at(k.CreatedAt), at(k.ActivatesAt), at(k.NotAfter), k.Sealed)
	}
	return tw.Flush()
}

// keysRotate makes a successor for one algorithm (or all): published at
// once, signing after the publish delay, the replaced key retiring after
// the longest token lifetime. Running servers pick it up on their refresh.
func (a *admin) keysRotate(ctx context.Context, args []string) error {
	fs := newFlagSet("keys rotate")
	alg := fs.String("alg", op.AlgRS256, "RS256, PS256, ES256, EdDSA or all")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	algs := []string{*alg}
	if *alg == "all" {
		algs = op.Algorithms
	} else if !op.ValidAlgorithm(*alg) {
		return usagef("keys rotate: --alg %q must be one of %s or all", *alg, strings.Join(op.Algorithms, ", "))
	}
	for _, alg := range algs {
		id, err := op.RotateKey(ctx, a.store, alg, a.keyTimeline, a.kek, a.now())
		if err != nil {
			return fmt.Errorf("rotate %s key: %w", alg, err)
		}
		if err := a.audit(ctx, "key.rotate", id); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "new %s signing key %s: published at once, signs in %s\n", alg, id, a.keyTimeline.PublishDelay())
	}
	return nil
}

// userPasskeys lists a user's passkeys, for an operator helping someone who
// lost a device.
func (a *admin) userPasskeys(ctx context.Context, args []string) error {
	fs := newFlagSet("user passkeys")
	u, err := a.userFromArgs(ctx, fs, args)
	if err != nil {
		return err
	}
	keys, err := a.store.PasskeysOf(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list passkeys: %w", err)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED")
	for _, k := range keys {
		used := "never"
		if !k.LastUsedAt.IsZero() {
			used = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.UTC().Format(time.RFC3339), used)
	}
	return tw.Flush()
}

// userRemovePasskeys removes one passkey (--id) or all of a user's: for a
// lost or stolen device. The password with the second factor still signs
// in. Each removal is audited.
func (a *admin) userRemovePasskeys(ctx context.Context, args []string) error {
	fs := newFlagSet("user remove-passkeys")
	id := fs.String("id", "", "remove only this passkey (see user passkeys); default: all")
	u, err := a.userFromArgs(ctx, fs, args)
	if err != nil {
		return err
	}
	keys, err := a.store.PasskeysOf(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list passkeys: %w", err)
	}
	removed := 0
	for _, k := range keys {
		if *id != "" && k.ID != *id {
			continue
		}
		if err := a.store.DeletePasskey(ctx, u.ID, k.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("remove passkey %s: %w", k.ID, err)
		}
		if err := a.store.AppendAudit(ctx, storage.AuditEvent{Time: a.now().UTC(), Action: "passkey.remove", ActorID: "cli",
			Subject: u.ID, Detail: map[string]string{"passkey": k.ID, "name": k.Name}}); err != nil {
			return err
		}
		removed++
	}
	if *id != "" && removed == 0 {
		return usagef("user remove-passkeys: %s has no passkey %q", u.Username, *id)
	}
	fmt.Fprintf(a.stdout, "removed %d passkeys of %s\n", removed, u.Username)
	return nil
}
