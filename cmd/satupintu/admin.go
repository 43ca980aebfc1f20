package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"satupintu/op"
	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/validate"
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
	// keyTimeline and kek: keys rotate seals and times keys as serve does.
	keyTimeline op.KeyTimeline
	kek         *op.KEK
}

func (a *admin) event(action, subject string) storage.AuditEvent {
	return storage.AuditEvent{Time: a.now().UTC(), Action: action, ActorID: "cli", Subject: subject}
}

// audit appends the event of a change that is not one durable write (a
// lock lifted in the ephemeral store, a key rotation).
func (a *admin) audit(ctx context.Context, action, subject string) error {
	return a.store.AppendAudit(ctx, a.event(action, subject))
}

// audited is ctx for a command's one durable write: the store commits the
// event with the change, or neither (storage.WithAudit).
func (a *admin) audited(ctx context.Context, action, subject string) context.Context {
	return storage.WithAudit(ctx, a.event(action, subject))
}

// --- clients ---

func (a *admin) client(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("client: want create, update, show, list, delete or rotate-secret")
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
	case "show":
		return a.clientShow(ctx, args[1:])
	default:
		return usagef("client: unknown command %q (want create, update, show, list, delete or rotate-secret)", args[0])
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

// clientFlags are the flags `client create` and `client update` share.
// create applies all of them; update only those given (an empty value
// clears a URL or a list, =false lifts a requirement).
type clientFlags struct {
	name, format, description, logoURL, launchURL, linkURL    string
	backchannel, initiate, subjectType, sectorURI, idTokenAlg string
	public, requireMFA, listed, dpopRequired, adminAPI        bool
	redirects, postLogout, grants, traderTypes                multi
	auth                                                      clientAuthFlags
}

func (f *clientFlags) register(fs *flag.FlagSet, update bool) {
	defFormat, defSubject := "opaque", op.SubjectPublic
	if update {
		defFormat, defSubject = "", ""
	}
	fs.StringVar(&f.name, "name", "", "display name")
	fs.BoolVar(&f.public, "public", false, "public client (no secret, PKCE required)")
	fs.StringVar(&f.format, "access-token-format", defFormat, "opaque or jwt")
	fs.BoolVar(&f.requireMFA, "require-mfa", false, "every sign-in to this client uses a second factor")
	fs.BoolVar(&f.listed, "listed", false, "show the client in the users' Your Apps list")
	fs.StringVar(&f.description, "description", "", "one-line description for Your Apps")
	fs.StringVar(&f.logoURL, "logo-url", "", "logo image URL for Your Apps (https)")
	fs.StringVar(&f.launchURL, "launch-url", "", "where Your Apps opens the client (https)")
	fs.StringVar(&f.linkURL, "account-link-url", "", "the client's account-verification endpoint for account linking (https)")
	fs.StringVar(&f.backchannel, "backchannel-logout-uri", "", "where the client receives logout tokens (https)")
	fs.StringVar(&f.initiate, "initiate-login-uri", "", "where Your Apps' Open starts the client's sign-in (https)")
	fs.StringVar(&f.subjectType, "subject-type", defSubject, "public (the user's id) or pairwise (a sub of the client's sector)")
	fs.StringVar(&f.sectorURI, "sector-identifier-uri", "", "pairwise: https URL of a JSON list of the redirect URIs, for a sector of several hosts")
	fs.BoolVar(&f.dpopRequired, "dpop-required", false, "token requests must carry a DPoP proof (RFC 9449)")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "ID token and logout token signing algorithm: RS256, PS256, ES256 or EdDSA (default: the server's)")
	fs.BoolVar(&f.adminAPI, "admin-api", false, "the client may obtain the admin scope (admin API): confidential, client_credentials only")
	fs.Var(&f.redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&f.postLogout, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	fs.Var(&f.grants, "grant-type", "grant type (repeatable; device_code for the device flow)")
	fs.Var(&f.traderTypes, "trader-type", "only users of this trader type see it in Your Apps (repeatable; none: everyone)")
	f.auth.register(fs)
}

// nonEmpty drops empty values: `--redirect-uri ""` on update clears the list.
func nonEmpty(m multi) []string {
	var out []string
	for _, v := range m {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// apply copies the flags in set (every flag when set is nil) to c.
func (f *clientFlags) apply(c *storage.Client, set map[string]bool) {
	given := func(name string) bool { return set == nil || set[name] }
	str := func(name string, dst *string, v string) {
		if given(name) {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool, v bool) {
		if given(name) {
			*dst = v
		}
	}
	str("name", &c.Name, strings.TrimSpace(f.name))
	str("access-token-format", &c.AccessTokenFormat, f.format)
	str("description", &c.Description, strings.TrimSpace(f.description))
	str("logo-url", &c.LogoURL, f.logoURL)
	str("launch-url", &c.LaunchURL, f.launchURL)
	str("account-link-url", &c.AccountLinkURL, f.linkURL)
	str("backchannel-logout-uri", &c.BackchannelLogoutURI, f.backchannel)
	str("initiate-login-uri", &c.InitiateLoginURI, f.initiate)
	str("subject-type", &c.SubjectType, f.subjectType)
	str("sector-identifier-uri", &c.SectorIdentifierURI, f.sectorURI)
	str("id-token-alg", &c.IDTokenSignedResponseAlg, f.idTokenAlg)
	boolean("require-mfa", &c.RequireMFA, f.requireMFA)
	boolean("listed", &c.Listed, f.listed)
	boolean("dpop-required", &c.DPoPRequired, f.dpopRequired)
	boolean("admin-api", &c.AdminAPI, f.adminAPI)
	if set != nil && set["public"] && c.Public != f.public && !set["auth-method"] {
		c.AuthMethod = "" // the default method of the new kind
	}
	boolean("public", &c.Public, f.public)
	for _, l := range []struct {
		name string
		dst  *[]string
		v    multi
	}{{"redirect-uri", &c.RedirectURIs, f.redirects}, {"post-logout-redirect-uri", &c.PostLogoutRedirectURIs, f.postLogout},
		{"grant-type", &c.GrantTypes, multi(grantAliases(f.grants))}, {"trader-type", &c.AllowedTraderTypes, f.traderTypes}} {
		if given(l.name) {
			*l.dst = nonEmpty(l.v)
		}
	}
}

// flagOf names the flag that sets a validated field.
func flagOf(field string) string {
	return map[string]string{
		validate.FieldClientName: "--name", validate.FieldGrantTypes: "--grant-type", validate.FieldRedirectURIs: "--redirect-uri",
		validate.FieldPostLogoutRedirectURIs: "--post-logout-redirect-uri", validate.FieldAccessTokenFormat: "--access-token-format",
		validate.FieldIDTokenAlg: "--id-token-alg", validate.FieldDescription: "--description", validate.FieldLogoURL: "--logo-url",
		validate.FieldLaunchURL: "--launch-url", validate.FieldAccountLinkURL: "--account-link-url",
		validate.FieldBackchannelLogoutURI: "--backchannel-logout-uri", validate.FieldInitiateLoginURI: "--initiate-login-uri",
		validate.FieldJWKSURI: "--jwks-uri", validate.FieldJWKS: "--jwks", validate.FieldTraderTypes: "--trader-type",
		validate.FieldAuthMethod: "--auth-method", validate.FieldSubjectType: "--subject-type",
		validate.FieldSectorIdentifierURI: "--sector-identifier-uri", validate.FieldAdminAPI: "--admin-api",
		validate.FieldUsername: "--username", validate.FieldEmail: "--email",
		validate.FieldPhone: "--phone", validate.FieldRoles: "--role", validate.FieldExpiresAt: "expiry date",
	}[field]
}

// flagError says a validation failure in the CLI's words: the flag and
// the operator detail.
func flagError(err error) error {
	var fe *validate.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name := flagOf(fe.Field)
	if name == "" {
		name = fe.Field
	}
	detail := fe.Detail
	if detail == "" {
		detail = "is not valid (" + fe.Key + ")"
	}
	return fmt.Errorf("%s %s", name, detail)
}

// validateAppURL is validate.AppURL in the CLI's words.
func validateAppURL(raw string) error {
	if _, err := validate.AppURL("url", raw); err != nil {
		var fe *validate.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Detail)
		}
		return err
	}
	return nil
}

func (a *admin) clientCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("client create")
	asJSON := fs.Bool("json", false, "print JSON")
	var f clientFlags
	f.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c := storage.Client{ID: storage.NewID()}
	f.apply(&c, nil)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	}
	if err := f.auth.apply(&c, nil); err != nil {
		return usagef("client create: %v", err)
	}
	if err := validate.Client(c); err != nil {
		return usagef("client create: %v", flagError(err))
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
	if err := a.store.CreateClient(a.audited(ctx, "client.create", c.ID), c); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return a.printClient(c, secret, *asJSON)
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
	AdminAPI                 bool     `json:"admin_api,omitempty"`
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
		AdminAPI: c.AdminAPI,
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
		if c.AdminAPI {
			kind += ",admin-api"
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

// clientShow prints one client as JSON (never its secret).
func (a *admin) clientShow(ctx context.Context, args []string) error {
	fs := newFlagSet("client show")
	fs.Bool("json", true, "print JSON (always)")
	id, err := oneArg(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	c, err := a.store.ClientByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return usagef("client show: no client %q", id)
	}
	if err != nil {
		return fmt.Errorf("read client: %w", err)
	}
	return a.printClient(c, "", true)
}

func (a *admin) clientDelete(ctx context.Context, args []string) error {
	id, err := oneArg(newFlagSet("client delete"), args, "CLIENT_ID")
	if err != nil {
		return err
	}
	if err := a.store.DeleteClient(a.audited(ctx, "client.delete", id), id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return usagef("client delete: no client %q", id)
		}
		return fmt.Errorf("delete client: %w", err)
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
	err = a.store.UpdateClient(a.audited(ctx, "client.rotate_secret", id), id, func(c *storage.Client) error {
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
	return a.printClient(updated, secret, *asJSON)
}

// clientUpdate changes what its flags name and nothing else: any flag of
// client create (an empty value removes a URL or a list, =false lifts a
// requirement). The result is checked as create checks a new client.
func (a *admin) clientUpdate(ctx context.Context, args []string) error {
	fs := newFlagSet("client update")
	asJSON := fs.Bool("json", false, "print JSON")
	var f clientFlags
	f.register(fs, true)
	id, err := oneArg(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	delete(set, "json")
	if len(set) == 0 {
		return usagef("client update: nothing to change (give any flag of client create)")
	}
	authSet := slices.ContainsFunc(clientAuthFlagNames, func(n string) bool { return set[n] }) || set["public"]
	// The pairwise sector may need the sector identifier document: fetched
	// before the update's transaction, never inside it.
	sectorSet := set["subject-type"] || set["sector-identifier-uri"] || set["redirect-uri"]
	current, err := a.store.ClientByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return usagef("client update: no client %q", id)
	}
	if err != nil {
		return fmt.Errorf("read client: %w", err)
	}
	subject := func(s string) string { return cmp.Or(s, op.SubjectPublic) }
	if set["subject-type"] && subject(f.subjectType) != subject(current.SubjectType) {
		// Every user's sub at the client would change.
		return usagef("client update: the subject type (%s) is fixed for the client's life", subject(current.SubjectType))
	}
	var sector string
	if sectorSet {
		next := current
		f.apply(&next, set)
		if err := validate.Client(next); err != nil {
			return usagef("client update: %v", flagError(err))
		}
		if sector, err = sectorOf(ctx, next); err != nil {
			return usagef("client update: %v", err)
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
	err = a.store.UpdateClient(a.audited(ctx, "client.update", id), id, func(c *storage.Client) error {
		f.apply(c, set)
		if authSet {
			if err := f.auth.apply(c, set); err != nil {
				return usagef("client update: %v", err)
			}
		}
		if err := validate.Client(*c); err != nil {
			return usagef("client update: %v", flagError(err))
		}
		if sectorSet && sector != "" {
			// Pairwise subjects are computed for the sector: changing it
			// would give every user of the client a new sub.
			if c.SectorIdentifier != "" && c.SectorIdentifier != sector {
				return usagef("client update: the pairwise sector %s is fixed; the change would move it to %s", c.SectorIdentifier, sector)
			}
			c.SectorIdentifier = sector
		}
		if authSet && needsNewSecret(*c) {
			var err error
			if secret, err = issueSecret(c, key); err != nil {
				return err
			}
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
	if *asJSON || secret != "" {
		return a.printClient(updated, secret, *asJSON)
	}
	fmt.Fprintf(a.stdout, "updated client %s\n", id)
	return nil
}

// --- users ---

func (a *admin) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("user: want create, list, set-password, set-expiry, disable, enable, unlock, passkeys or remove-passkeys")
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
	case "set-expiry":
		return a.userSetExpiry(ctx, args[1:])
	case "passkeys":
		return a.userPasskeys(ctx, args[1:])
	case "remove-passkeys":
		return a.userRemovePasskeys(ctx, args[1:])
	default:
		return usagef("user: unknown command %q (want create, list, set-password, set-expiry, disable, enable, unlock, passkeys or remove-passkeys)", args[0])
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
		nib, err := validate.NIB(*orgNIB)
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
	u, err := validate.User(storage.User{
		ID: storage.NewID(), Username: *username, Email: *email, Name: *name,
		Phone: *phone, Roles: roles, OrganizationID: org.ID,
	})
	if err != nil {
		return usagef("user create: %v", flagError(err))
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
	if err := a.store.CreateUser(a.audited(ctx, "user.create", u.ID), u); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return usagef("user create: the username or email is already taken")
		}
		return fmt.Errorf("create user: %w", err)
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
	if err := a.store.UpdateUser(a.audited(ctx, "user.set_password", u.ID), u.ID, func(u *storage.User) error {
		// PasswordChangedAt voids reset links sent before.
		u.PasswordHash, u.PasswordChangedAt, u.UpdatedAt = hash, a.now().UTC(), a.now().UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("set password: %w", err)
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
	if err := a.store.UpdateUser(a.audited(ctx, "user."+verb, u.ID), u.ID, func(u *storage.User) error {
		u.Disabled, u.UpdatedAt = disabled, a.now().UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("%s user: %w", verb, err)
	}
	fmt.Fprintf(a.stdout, "%sd user %s\n", verb, u.Username)
	return nil
}

// userUnlock lifts a sign-in lock and clears the failures behind it, for
// the user's username and email (login/throttle.go), by raising the
// account's lock epoch in the database (storage.UnlockSignIn): it reaches
// every node, and the embedded server's in-process counters, once their
// user cache hears of it (at once through Redis, else within
// SATUPINTU_CACHE_TTL).
func (a *admin) userUnlock(ctx context.Context, args []string) error {
	fs := newFlagSet("user unlock")
	u, err := a.userFromArgs(ctx, fs, args)
	if err != nil {
		return err
	}
	if err := storage.UnlockSignIn(a.audited(ctx, "user.unlock", u.ID), a.store, u.ID, a.now()); err != nil {
		return fmt.Errorf("user unlock: %w", err)
	}
	fmt.Fprintf(a.stdout, "unlocked sign-in for %s\n", u.Username)
	return nil
}

// userSetExpiry sets the last day the account signs in (validate.ExpiryDate:
// the end of that day in WIB), or never. A day already over needs --force:
// expiring an account at once is what disable is for, and a mistyped year
// should not lock someone out.
func (a *admin) userSetExpiry(ctx context.Context, args []string) error {
	fs := newFlagSet("user set-expiry")
	force := fs.Bool("force", false, "accept a day already over (the account expires at once)")
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 2 {
		return usagef("user set-expiry: want USERNAME and YYYY-MM-DD or never")
	}
	u, err := a.findUser(ctx, fs, positional[0])
	if err != nil {
		return err
	}
	expires, err := validate.ExpiryDate(positional[1], a.now(), *force)
	if err != nil {
		var fe *validate.FieldError
		if errors.As(err, &fe) && fe.Key == validate.KeyExpiryPast {
			return usagef("user set-expiry: %s (give --force to expire the account at once)", fe.Detail)
		}
		return usagef("user set-expiry: %v", flagError(err))
	}
	when := "never"
	if !expires.IsZero() {
		when = expires.Format(time.RFC3339)
	}
	e := storage.AuditEvent{Time: a.now().UTC(), Action: "user.set_expiry", ActorID: "cli",
		Subject: u.ID, Detail: map[string]string{"expires_at": when}}
	if err := a.store.UpdateUser(storage.WithAudit(ctx, e), u.ID, func(u *storage.User) error {
		u.ExpiresAt, u.UpdatedAt = expires, a.now().UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("set expiry: %w", err)
	}
	if expires.IsZero() {
		fmt.Fprintf(a.stdout, "%s never expires\n", u.Username)
	} else {
		fmt.Fprintf(a.stdout, "%s signs in until %s\n", u.Username, expires.Format(time.RFC3339))
	}
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
