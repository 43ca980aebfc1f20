package main

import (
	"context"
	"errors"
	"slices"
	"time"

	adminui "satupintu/admin"
	"satupintu/login"
	"satupintu/op"
	"satupintu/registration"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/storage/validate"
	"satupintu/templates"
	"satupintu/web"
)

// newAdminService wires the operations the console and the admin API
// share to the rules the CLI applies (client checks, secrets, keys).
func newAdminService(d deps, lh *login.Handler, provider *op.Provider, sealKey [32]byte) (*adminui.Service, error) {
	users, ok := d.durable.(adminui.Users)
	if !ok {
		return nil, errors.New("admin console: the database cannot count admins")
	}
	orgs, ok := d.durable.(adminui.Organizations)
	if !ok {
		return nil, errors.New("admin console: the database cannot administer organizations")
	}
	return &adminui.Service{
		Orgs: orgs, SettingsStore: d.durable,
		Clients: d.durable, Users: users, Sessions: d.ephemeral, Keys: d.durable, Audit: d.durable,
		TraderTypes: registration.TraderTypes.Codes(),
		PrepareClient: func(ctx context.Context, c *storage.Client) error {
			if err := validate.Client(*c); err != nil {
				return err
			}
			if c.SectorIdentifier != "" { // fixed once set
				return nil
			}
			sector, err := sectorOf(ctx, *c)
			c.SectorIdentifier = sector
			return err
		},
		IssueSecret: func(_ context.Context, c *storage.Client) (string, error) { return issueSecret(c, sealKey) },
		ClientChanged: func(_ context.Context, id string) {
			provider.InvalidateClient(id)
		},
		NewSigningKey: provider.RotateKey,
		KeyStates: func(keys []storage.SigningKey, now time.Time) map[string]string {
			out := map[string]string{}
			for id, st := range op.KeyStates(keys, now) {
				out[id] = string(st)
			}
			return out
		},
		Algorithms: op.Algorithms,
		MailPasswordReset: func(ctx context.Context, u storage.User) error {
			err := lh.MailPasswordReset(ctx, u)
			if errors.Is(err, login.ErrCannotReset) {
				return adminui.ErrCannotReset
			}
			return err
		},
		OnSessionEnd: provider.EndSession,
		Now:          d.now, Logger: d.logger,
	}, nil
}

// newConsole is the operators' console on svc.
func newConsole(d deps, svc *adminui.Service, guard *session.Guard, pages *templates.Pages, csrf *web.CSRF, secure bool) (*adminui.Console, error) {
	counts, ok := d.durable.(adminui.RegistrationCounts)
	if !ok {
		return nil, errors.New("admin console: the database cannot count registrations")
	}
	stats, ok := d.durable.(storage.AuditStats)
	if !ok {
		return nil, errors.New("admin console: the database cannot count audit events")
	}
	// A refused post returns to the console's home; a missing role is
	// the console's own 403 message.
	g := *guard
	g.Home, g.ForbiddenKey = "/admin", "admin.forbidden"
	var count func(ctx context.Context) (int64, error)
	if sc, ok := d.ephemeral.(storage.SessionCounter); ok {
		count = sc.CountSessions
	}
	return &adminui.Console{
		SessionCount: count,
		Service:      svc, Registrations: counts, Stats: stats, Audit: d.durable, Pages: pages, CSRF: csrf,
		Guard: &g, Secure: secure, Now: d.now, Logger: d.logger,
	}, nil
}

// newAdminAPI is the JSON admin API on svc; its bearer tokens are the
// provider's own access tokens (client_credentials, scope admin).
func newAdminAPI(d deps, svc *adminui.Service, provider *op.Provider) *adminui.API {
	return &adminui.API{
		Service: svc, Audit: d.durable,
		Verify: func(ctx context.Context, token string) (adminui.TokenInfo, error) {
			info, err := provider.VerifyAccessToken(ctx, token)
			if errors.Is(err, op.ErrTokenInvalid) {
				return adminui.TokenInfo{}, adminui.ErrInvalidToken
			}
			if err != nil {
				return adminui.TokenInfo{}, err
			}
			// The flag is checked on every call, not only when the token
			// was issued: unflagging a client stops its tokens at once.
			if info.UserID == "" && slices.Contains(info.Scopes, op.ScopeAdmin) {
				c, err := provider.Clients().ClientByID(ctx, info.ClientID)
				if errors.Is(err, storage.ErrNotFound) || err == nil && !c.AdminAPI {
					return adminui.TokenInfo{}, adminui.ErrInvalidToken
				}
				if err != nil {
					return adminui.TokenInfo{}, err
				}
			}
			return adminui.TokenInfo{ClientID: info.ClientID, UserID: info.UserID, Scopes: info.Scopes}, nil
		},
		Now: d.now, Logger: d.logger,
	}
}
