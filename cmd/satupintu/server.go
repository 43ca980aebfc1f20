package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/gorilla/securecookie"

	"satupintu/account"
	"satupintu/captcha"
	"satupintu/demorp"
	"satupintu/device"
	"satupintu/jobs"
	"satupintu/login"
	"satupintu/mail"
	"satupintu/metrics"
	"satupintu/op"
	"satupintu/password"
	"satupintu/privacy"
	"satupintu/quota"
	"satupintu/registration"
	"satupintu/session"
	"satupintu/storage"
	"satupintu/storage/redis"
	"satupintu/storage/validate"
	"satupintu/templates"
	"satupintu/tracing"
	"satupintu/upstream"
	"satupintu/web"
)

// maxBody bounds every request body; no endpoint of this service takes more.
const maxBody = 64 << 10

// deps are what a server is built from; tests build their own.
type deps struct {
	cfg       Config
	durable   storage.Durable
	ephemeral storage.Ephemeral
	logger    *slog.Logger
	now       func() time.Time
	// hashParams overrides argon2id parameters (tests use cheap ones).
	hashParams password.Params
	// durableName and ephemeralName name the backends in /readyz.
	durableName, ephemeralName string
	// healthInterval is how often dependencies are checked (default 1s).
	healthInterval time.Duration
	// outbox queues every email (activation, reset, registration news);
	// the job queue behind it delivers them (startOutbox).
	outbox mailOutbox
	// queue, if set and not started yet, gets the back-channel logout
	// worker; without it ended sessions still revoke the clients' refresh
	// tokens but no client is told.
	queue *jobs.Queue
	// metrics, if set, counts requests, tokens and events (observe.go).
	metrics *metrics.Registry
	// tracing, if set, gives every request a span (tracing.go).
	tracing *tracing.Tracing
}

// secret returns configured key material or the persisted generated value.
func secret(ctx context.Context, st storage.Secrets, name string, configured []byte, size int) ([]byte, error) {
	if len(configured) > 0 {
		return configured, nil
	}
	b, err := st.Secret(ctx, name, func() ([]byte, error) {
		b := make([]byte, size)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("load secret %s: %w", name, err)
	}
	return b, nil
}

// clientSecretKey is the key that seals client_secret_jwt secrets
// (op.SealClientSecret), generated on first use and kept in the secrets table.
func clientSecretKey(ctx context.Context, st storage.Secrets) ([32]byte, error) {
	var key [32]byte
	b, err := secret(ctx, st, "client-secret-key", nil, 32)
	if err != nil {
		return key, err
	}
	copy(key[:], b)
	return key, nil
}

// newServer wires every package into one handler: UI routes first, the
// protocol endpoints at "/" last (as zitadel's example does).
func newServer(ctx context.Context, d deps) (http.Handler, *op.Provider, error) {
	secure := d.cfg.secure()
	issuerURL, err := url.Parse(d.cfg.Issuer) // validated with the configuration
	if err != nil {
		return nil, nil, fmt.Errorf("issuer: %w", err)
	}
	hashKey, err := secret(ctx, d.secrets(), "cookie-hash-key", d.cfg.CookieHashKey, 64)
	if err != nil {
		return nil, nil, err
	}
	blockKey, err := secret(ctx, d.secrets(), "cookie-block-key", d.cfg.CookieBlockKey, 32)
	if err != nil {
		return nil, nil, err
	}
	tokenKey, err := secret(ctx, d.secrets(), "access-token-key", nil, 32)
	if err != nil {
		return nil, nil, err
	}
	totpKey, err := secret(ctx, d.secrets(), "totp-key", nil, 32) // seals TOTP secrets at rest
	if err != nil {
		return nil, nil, err
	}
	pages, err := templates.New()
	if err != nil {
		return nil, nil, fmt.Errorf("load templates: %w", err)
	}
	codec := securecookie.New(hashKey, blockKey)
	codec.MaxAge(int(d.cfg.SessionTTL.Seconds()))
	csrf := web.NewCSRF(securecookie.New(hashKey, blockKey), secure)
	renderer := &web.Renderer{Pages: pages, CSRF: csrf, Logger: d.logger, Secure: secure}
	// One security check for the sign-in and registration forms (each
	// binds its challenges to its own purpose): challenges signed with a
	// key every node shares, used solutions and image codes in the
	// ephemeral store, so any node can check them.
	captchaKey, err := secret(ctx, d.secrets(), "captcha-key", nil, 32)
	if err != nil {
		return nil, nil, err
	}
	captchas := &captcha.Service{Store: d.ephemeral, Key: captchaKey, Mode: d.cfg.Captcha, MaxNumber: d.cfg.CaptchaMaxNumber,
		ImageLimit: d.cfg.Limits.CaptchaImage, Counters: d.ephemeral, Now: d.now, Logger: d.logger}

	// The sign-in, token and chooser paths read users, organizations and
	// memberships through the node's cache.
	drops := &clientDrops{} // client changes, for the provider's cache (cache.go)
	reads, err := readCache(ctx, d, drops)
	if err != nil {
		return nil, nil, fmt.Errorf("cache: %w", err)
	}
	// Every page shows the operators' settings (service name, banner),
	// read through the same cache.
	pages.UseSite(&web.Site{Settings: reads, Now: d.now})
	lh := &login.Handler{
		Users: reads, Clients: d.durable, Requests: d.ephemeral, Sessions: d.ephemeral,
		OneTime: d.ephemeral, Audit: d.durable, Pages: pages, CSRF: csrf, Cookies: codec,
		Counters: d.ephemeral, Captcha: captchas, ThrottlePolicy: throttlePolicy(d.cfg), // sign-in protection (login/throttle.go)
		Secure: secure, SessionTTL: d.cfg.SessionTTL, HashParams: d.hashParams,
		Now: d.now, Logger: d.logger,
		MFA: &login.MFA{Users: d.durable, Drafts: d.ephemeral, Counters: d.ephemeral, Used: d.ephemeral,
			Key: totpKey, RecoveryParams: d.hashParams},
		Passkeys: passkeys(d, issuerURL),
		Passwords: &login.Passwords{Users: d.durable, Tokens: d.durable, Counters: d.ephemeral,
			Sessions: d.ephemeral, RefreshTokens: d.durable, Mail: d.outbox, BaseURL: d.cfg.Issuer},
	}
	// Pairwise subjects are derived from this key for as long as the
	// database lives: a new key would give every pairwise client new users.
	pairwiseKey, err := secret(ctx, d.secrets(), "pairwise-key", nil, op.PairwiseKeySize)
	if err != nil {
		return nil, nil, err
	}
	var key [32]byte
	copy(key[:], tokenKey)
	// client_secret_jwt secrets are sealed under their own key from the
	// secrets table, not derived from the access-token key: the admin CLI
	// seals with it too (it reads the same row), and either key can be
	// replaced without touching the other's data.
	sealKey, err := clientSecretKey(ctx, d.secrets())
	if err != nil {
		return nil, nil, err
	}
	var logouts op.LogoutQueue // a nil *jobs.Logouts would not be a nil interface
	if d.queue != nil {
		logouts = jobs.NewLogouts(d.queue)
	}
	if d.cfg.KEK == nil {
		d.logger.Warn("signing keys are stored unencrypted: no key-encryption key configured (SATUPINTU_KEY_ENCRYPTION_KEY)")
	}
	provider, err := op.New(ctx, op.Config{
		Issuer:           d.cfg.Issuer,
		CryptoKey:        key,
		SigningAlgorithm: d.cfg.SigningAlgorithm,
		KeyRotation:      d.cfg.KeyRotation,
		KEK:              d.cfg.KEK,
		ClientCacheTTL:   d.cfg.ClientCacheTTL,
		// The authorize limit's window is validated against this lifetime.
		AuthRequestLifetime: authRequestLifetime,
		LogoutURL: func(ctx context.Context, req op.LogoutRequest) (string, error) {
			// A pending logout is stored for an anonymous client.
			if err := d.cfg.Limits.Logout.Take(ctx, d.ephemeral, quota.Address(ctx)); err != nil {
				return "", err
			}
			return lh.StartLogout(ctx, login.LogoutRequest(req))
		},
		ResolveWithoutUI: lh.ResolveWithoutUI,
		AdmitAuthRequest: func(r *http.Request) error {
			return d.cfg.Limits.Authorize.Take(r.Context(), d.ephemeral, web.RemoteIP(r))
		},
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int, key string) {
			renderer.Error(w, r, &web.Error{Status: status, MessageKey: key})
		},
		Logouts:     logouts,
		PairwiseKey: pairwiseKey,
		TokenIssued: tokenCounter(d.metrics),
		Now:         d.now,
		Logger:      d.logger,
		// private_key_jwt clients' jwks_uri: the account link's SSRF
		// rules, loopback only while the provider is on loopback.
		ClientSecretKey: sealKey,
		JWKSFetcher:     &account.Linker{AllowLoopback: !secure},
		// The device flow (RFC 8628): its user-code page is the device package's.
		Device: op.DeviceConfig{Path: device.Path, Admit: func(r *http.Request) error {
			return d.cfg.Limits.Device.Take(r.Context(), d.ephemeral, web.RemoteIP(r))
		}},
	}, reads, d.ephemeral)
	if err != nil {
		return nil, nil, err
	}
	drops.p.Store(provider)
	lh.CallbackURL = provider.CallbackURL
	lh.Requests = provider.AuthRequests()
	lh.Clients = provider.Clients()
	// Every way a session ends (logout, the sessions page, the session
	// cap, a password reset, removal from a company) tells the clients.
	lh.OnSessionEnd = provider.EndSession
	if d.queue != nil {
		// Logout URIs are called like account-link endpoints: the same
		// SSRF rules, loopback only while the provider is on loopback.
		w := &jobs.LogoutWorker{Notices: provider, Poster: &account.Linker{AllowLoopback: !secure}, Logger: d.logger}
		if err := jobs.RegisterLogoutWorker(d.queue, w); err != nil {
			return nil, nil, fmt.Errorf("back-channel logout: %w", err)
		}
	}

	if d.durableName == "" {
		d.durableName, d.ephemeralName = "database", "ephemeral"
	}
	if d.healthInterval <= 0 {
		d.healthInterval = time.Second
	}
	h := newHealth(map[string]func(context.Context) error{
		d.durableName: storeCheck(d.durable), d.ephemeralName: storeCheck(d.ephemeral),
	}, d.healthInterval, d.logger)
	h.check(ctx)
	go h.run(ctx)
	if p, ok := d.durable.(pruner); ok {
		m := &maintenance{store: p, retention: d.cfg.AuditRetention, now: d.now, logger: d.logger,
			registrations: &privacy.Retainer{Store: d.durable, Retention: d.cfg.Retention, Now: d.now, Logger: d.logger}}
		go m.run(ctx, maintenanceInterval)
	} else {
		d.logger.Warn("durable store cannot prune: audit events and draft letters are kept")
	}

	// Who is signed in, read the same way by every UI package (session/);
	// login creates and ends the sessions and serves the pages the guard
	// sends browsers to.
	sm := &session.Manager{Cookie: session.Cookie{Codec: codec, Secure: secure, TTL: d.cfg.SessionTTL},
		Sessions: d.ephemeral, Users: reads, Now: d.now, Logger: d.logger}
	guard := sm.Guard()
	guard.SignIn = lh.SignInAndReturn
	if lh.Passkeys != nil {
		guard.HasPasskey = func(ctx context.Context, userID string) (bool, error) {
			keys, err := lh.Passkeys.Store.PasskeysOf(ctx, userID)
			return len(keys) > 0, err
		}
	}

	rh := &registration.Handler{
		Registrations: d.durable, Tokens: d.durable, Users: d.durable, Organizations: d.durable,
		Drafts: d.ephemeral, Counters: d.ephemeral, DraftLimit: d.cfg.Limits.Register, Audit: d.durable, Mail: d.outbox, Captcha: captchas,
		Pages: pages, CSRF: csrf, Cookies: codec, BaseURL: d.cfg.Issuer, Secure: secure,
		CurrentUser: sm.CurrentUser, Guard: guard,
		Now: d.now, Logger: d.logger,
	}

	ah := &account.Handler{
		Users: d.durable, Organizations: d.durable, Clients: d.durable, Links: d.durable,
		Grants: d.durable, AccessTokens: d.ephemeral, Sessions: d.ephemeral, Counters: d.ephemeral, Audit: d.durable, Pages: pages, CSRF: csrf,
		CurrentSession: sm.CurrentSession, Guard: guard,
		// Account-link endpoints on loopback only while the provider
		// itself is on loopback (an http issuer: development, the demo).
		Linker: &account.Linker{AllowLoopback: !secure},
		CheckName: fieldCheck(func(s string) (string, error) {
			return validate.Name(registration.FieldFullName, s, registration.MaxFullName)
		}),
		CheckPhone: fieldCheck(validate.Phone),
		CheckPosition: fieldCheck(func(s string) (string, error) {
			return validate.Name(registration.FieldPosition, s, registration.MaxPosition)
		}),
		EmailChange: &account.EmailChange{Pending: d.ephemeral,
			CheckEmail: fieldCheck(validate.Email), CheckPassword: lh.CheckOwnPassword},
		// The company pages and invitations.
		Memberships: reads, Invitations: d.durable, RefreshTokens: d.durable, Mail: d.outbox,
		BaseURL: d.cfg.Issuer, InviteNeedsOfficer: d.cfg.InviteNeedsOfficer, AcceptLimit: d.cfg.Limits.InviteAccept,
		AuthRequests: d.ephemeral, CallbackURL: provider.CallbackURL,
		NewUsername: func(ctx context.Context, email string) (string, error) {
			return registration.FreeUsername(ctx, d.durable, email)
		},
		OnSessionEnd: provider.EndSession,
		Secure:       secure, Now: d.now, Logger: d.logger,
	}

	// A member of several companies chooses one per application after
	// signing in (account/chooser.go).
	lh.ChooseOrganization = ah.OrganizationChoice

	ph := &privacy.Handler{
		Store: d.durable, Sessions: d.ephemeral, Pages: pages, CSRF: csrf, Retention: d.cfg.Retention,
		CurrentUser: sm.CurrentUser, Guard: guard,
		CheckPassword: lh.CheckOwnPassword, OnSessionEnd: provider.EndSession,
		Secure: secure, Now: d.now, Logger: d.logger,
	}

	uh := newUpstream(ctx, d, lh, rh, sm, pages, csrf, codec, secure)

	// The user-code page of the device flow (device/): a signed-in user
	// allows or denies a command-line tool or a kiosk.
	dh := &device.Handler{
		Authorizations: d.ephemeral, Clients: d.durable, Counters: d.ephemeral, Audit: d.durable,
		Memberships: d.durable, Organizations: d.durable,
		Pages: pages, CSRF: csrf, CurrentSession: sm.CurrentSession, SignIn: lh.SignInAndReturn,
		WrongCodeLimit: d.cfg.Limits.DeviceCode, Secure: secure, Now: d.now, Logger: d.logger,
	}

	// The operators' console (admin/).
	adminSvc, err := newAdminService(d, lh, provider, sealKey)
	if err != nil {
		return nil, nil, err
	}
	console, err := newConsole(d, adminSvc, guard, pages, csrf, secure)
	if err != nil {
		return nil, nil, err
	}

	mux := http.NewServeMux()
	lh.Mount(mux)
	console.Mount(mux)
	newAdminAPI(d, adminSvc, provider).Mount(mux) // bearer tokens, no cookies: /admin/api/
	rh.Mount(mux)
	captchas.Mount(mux)
	ah.Mount(mux)
	ph.Mount(mux)
	dh.Mount(mux)
	if uh != nil {
		uh.Mount(mux)
	}
	mux.Handle("GET /static/", pages.StaticHandler())
	mux.HandleFunc("GET /healthz", serveHealthz)
	mux.HandleFunc("GET /readyz", h.serveReadyz)
	mux.Handle("/", provider.Handler())
	uploads := map[string]int64{"/register/dokumen": registration.MaxUploadBody, "/track/revisi": registration.MaxUploadBody}
	limit := web.BodyLimit{Max: maxBody, Uploads: uploads, Refuse: refuser(renderer, d.logger)}
	handler := web.SecurityHeaders(limit.Wrap(h.gate(mux, renderer)), secure)
	if d.metrics != nil {
		handler = d.metrics.Middleware(handler, routeOf(mux))
	}
	if d.cfg.AccessLog {
		// Inside the request id and the trusted proxies, so both are known.
		handler = web.AccessLog{Logger: d.logger, Route: routeOf(mux), Skip: isProbe, Now: d.now}.Wrap(handler)
	}
	handler = web.WithRequestID(web.TrustedProxies(withClientAddress(handler), d.cfg.TrustedProxies))
	return d.tracing.Middleware(handler, routeOf(mux), isProbe), provider, nil // handler itself when off
}

// newUpstream wires sign-in with upstream identity providers, if any are
// configured: login signs linked users in and runs the link hook, the
// registration wizard takes unlinked identities. It must run before lh
// is mounted (PageExtras is read then).
func newUpstream(ctx context.Context, d deps, lh *login.Handler, rh *registration.Handler, sm *session.Manager, pages *templates.Pages,
	csrf *web.CSRF, codec *securecookie.SecureCookie, secure bool) *upstream.Handler {
	if len(d.cfg.Upstreams) == 0 {
		return nil
	}
	uh := &upstream.Handler{
		Providers: d.cfg.Upstreams, Links: d.durable, Users: d.durable, Requests: d.ephemeral,
		Drafts: d.ephemeral, Counters: d.ephemeral, Limit: d.cfg.Limits.Upstream, Audit: d.durable,
		Pages: pages, CSRF: csrf, Cookies: codec, BaseURL: d.cfg.Issuer, Secure: secure,
		SignIn: lh.SignInExternal, CurrentUser: sm.CurrentUser,
		Register: func(w http.ResponseWriter, r *http.Request, id upstream.Identity) error {
			return rh.StartPrefilled(w, r, registration.Prefill{FullName: id.Name, NIK: id.NIK, VerifiedBy: id.Label,
				UpstreamID: id.ProviderID, UpstreamSubject: id.Subject})
		},
		HTTPClient: &http.Client{Timeout: 15 * time.Second},
		Now:        d.now, Logger: d.logger,
	}
	lh.AfterSignIn = uh.CompleteLink
	lh.PageExtras = uh.Extras
	ids := make([]string, 0, len(d.cfg.Upstreams))
	for _, p := range d.cfg.Upstreams {
		ids = append(ids, p.ID)
	}
	d.logger.Info("sign-in with upstream providers", "upstreams", ids, "redirect_uri", d.cfg.Issuer+"/upstream/callback")
	go uh.Warm(ctx)
	return uh
}

// throttlePolicy is the sign-in brute-force policy. An https issuer means
// a TLS-terminating proxy in front (serve speaks plain http); unless
// SATUPINTU_TRUSTED_PROXIES names it, every client arrives from the proxy's
// address and per-address delays and locks would hold back everyone at once
// (login/throttle.go).
func throttlePolicy(cfg Config) login.ThrottlePolicy {
	if cfg.secure() && len(cfg.TrustedProxies) == 0 {
		return login.BehindProxyThrottlePolicy
	}
	return login.DefaultThrottlePolicy
}

// fieldCheck adapts a domain validator (storage/validate) to the account
// package's Check, whose problems carry the same catalog keys. Kept here
// so account declares only the function it calls.
func fieldCheck(fn func(string) (string, error)) account.Check {
	return func(s string) (string, *account.Problem) {
		v, err := fn(s)
		if err == nil {
			return v, nil
		}
		var fe *validate.FieldError
		if errors.As(err, &fe) {
			return "", &account.Problem{Key: fe.Key, Args: fe.Args}
		}
		return "", &account.Problem{Key: "account.profile.fix_fields"}
	}
}

// serve runs the provider until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("serve")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return flagErr(err)
	}
	logger := newLogger(cfg, stderr)
	tr, logger, flushTraces, err := startTracing(ctx, getenv, logger)
	if err != nil {
		return err
	}
	defer flushTraces() // last: after the server and the stores have stopped
	pgTracing, redisTracing := storeTracing(tr)
	slog.SetDefault(logger) // zitadel/oidc logs through the default logger
	restoreGC := quietStartup()
	defer restoreGC() // on an early return; a second call changes nothing
	redis.SetLibraryLogger(logger)
	// A node started before its database waits for it (compose, Kubernetes).
	durable, durableName, err := retry(ctx, logger, "database", time.Minute, func() (storage.Durable, string, error) {
		return openDurable(ctx, cfg, pgTracing...)
	})
	if err != nil {
		return err
	}
	defer durable.Close()
	ephemeral, ephemeralName, err := retry(ctx, logger, "redis", time.Minute, func() (storage.Ephemeral, string, error) {
		return openEphemeral(ctx, cfg, redisTracing...)
	})
	if err != nil {
		return err
	}
	defer ephemeral.Close()
	if cfg.Demo {
		if err := seedDemo(ctx, durable, cfg.DataDir, time.Now(), stdout); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	mailer, err := newMailer(cfg, logger)
	if err != nil {
		return err
	}
	outbox, queue, startQueue, stopQueue, err := openOutbox(ctx, durable, cfg.KEK, mailer, logger)
	if err != nil {
		return err
	}
	var reg *metrics.Registry
	if cfg.MetricsAddr != "off" {
		reg = metrics.New()
		instrument(reg, durable, ephemeral, queue, logger)
	}
	handler, _, err := newServer(ctx, deps{cfg: cfg, durable: durable, ephemeral: ephemeral, logger: logger, now: time.Now,
		durableName: durableName, ephemeralName: ephemeralName, outbox: outbox, queue: queue, metrics: reg, tracing: tr})
	if err != nil {
		return err
	}
	if reg != nil {
		internalCtx, stopInternal := context.WithCancel(ctx)
		wait, err := serveInternal(internalCtx, cfg, reg, logger)
		if err != nil {
			// Sign-in matters more than its metrics: serve on, loudly.
			logger.Error("metrics not served", "error", err)
			wait = func() {}
		}
		defer wait()
		defer stopInternal()
	}
	// Start-up (key generation, migrations, parsing every template) leaves
	// tens of MB of garbage the heap would otherwise keep mapped until
	// load grows it anyway: give it back, so an idle node is small.
	debug.FreeOSMemory()
	restoreGC()
	if err := startQueue(); err != nil {
		return err
	}
	defer stopQueue() // after the HTTP server, before the store closes
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("satupintu serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer,
		"discovery", cfg.Issuer+"/.well-known/openid-configuration", "durable", durableName, "ephemeral", ephemeralName)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newMailer sends over SMTP when a host is configured; otherwise it writes
// .eml files under the data folder and logs where (the embedded demo).
func newMailer(cfg Config, logger *slog.Logger) (mail.Sender, error) {
	if cfg.SMTP.Host != "" {
		s, err := mail.NewSMTP(cfg.SMTP)
		if err != nil {
			return nil, fmt.Errorf("smtp: %w", err)
		}
		logger.Info("mail via smtp", "smtp", cfg.SMTP)
		return s, nil
	}
	f, err := mail.NewFolder(cfg.mailDir(), cfg.SMTP.From, logger)
	if err != nil {
		return nil, fmt.Errorf("mail folder: %w", err)
	}
	logger.Info("no SATUPINTU_SMTP_HOST: outgoing mail is written to a folder", "dir", f.Dir())
	return f, nil
}

// demoRP runs the demo relying parties from the file serve wrote.
func demoRP(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("demo-rp")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return flagErr(err)
	}
	path := cfg.DataDir + "/" + demoClientsFile
	apps, err := demorp.LoadApps(path)
	if err != nil {
		return fmt.Errorf("%w (start `satupintu serve` once to create the demo clients)", err)
	}
	return demorp.Run(ctx, cfg.Issuer, apps, newLogger(cfg, stderr))
}

// passkeys configures passkeys for the issuer's host, or leaves them off
// (nil) when that host is an IP address: WebAuthn binds a passkey to a
// domain name and browsers refuse an address.
func passkeys(d deps, issuer *url.URL) *login.Passkeys {
	if net.ParseIP(issuer.Hostname()) != nil {
		d.logger.Warn("passkeys are off: the issuer's host is an IP address, and passkeys need a domain name (localhost will do)", "issuer", d.cfg.Issuer)
		return nil
	}
	return &login.Passkeys{Store: d.durable, Ceremonies: d.ephemeral, ChallengeLimit: d.cfg.Limits.Passkey,
		RPID: issuer.Hostname(), Origin: issuer.Scheme + "://" + issuer.Host}
}
