// Package op is satupintu's OpenID provider: it adapts satupintu's storage to
// zitadel/oidc's op package, manages signing keys, decides which claims a
// relying party receives, and adds the checks satupintu requires on top of
// the library (S256-only PKCE, duplicate-parameter rejection, login_required
// for prompt=none). Protocol code lives here and nowhere else.
package op

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"satupintu/storage"
)

// Config holds the provider's settings; zero durations take the defaults.
type Config struct {
	Issuer           string
	CryptoKey        [32]byte // encrypts opaque access tokens
	SigningAlgorithm string   // the default: RS256, PS256, ES256 or EdDSA (clients may choose another)

	AccessTokenLifetime  time.Duration // default 15m
	IDTokenLifetime      time.Duration // default 1h
	RefreshTokenIdle     time.Duration // default 7 days without use
	RefreshTokenAbsolute time.Duration // default 30 days after sign-in
	CodeLifetime         time.Duration // default 1m (RFC 6749 §4.1.2: short)
	// AuthRequestLifetime is how long a pending authorization request
	// waits for the user to sign in (default 15m): long enough for a
	// password, a second factor or a password reset, short enough that
	// what anonymous clients can make the service keep stays small.
	AuthRequestLifetime time.Duration
	ClientCacheTTL      time.Duration // default 5s
	KeyRefresh          time.Duration // default 1m
	KeyRotation         time.Duration // a key signs this long before its successor; 0: manual only
	KEK                 *KEK          // seals private keys at rest; nil: stored in plaintext

	// LoginURL is where the browser goes to sign in for an auth request.
	LoginURL func(authRequestID string) string
	// LogoutURL stores a validated logout and returns where the browser goes.
	LogoutURL func(ctx context.Context, req LogoutRequest) (string, error)
	// LoggedOutURL is the page shown after a logout without a registered redirect.
	LoggedOutURL string
	// ResolveWithoutUI, if set, lets the sign-in UI finish an auth request
	// that needs no page (single sign-on, prompt=none) while /authorize is
	// still answering, saving the browser two redirects.
	ResolveWithoutUI func(r *http.Request, authRequestID string) bool
	// ErrorPage renders a protocol error that must not be redirected
	// (RFC 6749 §4.1.2.1) as a page in the user's language.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, messageKey string)
	// AdmitAuthRequest, if set, is asked before a new authorization
	// request is stored (every valid /authorize request, single sign-on
	// included, since zitadel stores each before the UI is asked). An
	// error wrapping quota.ErrExceeded refuses it with a 429 page; any
	// other error is a dependency failure (503 page).
	AdmitAuthRequest func(r *http.Request) error
	// PairwiseKey (PairwiseKeySize bytes) makes pairwise subjects; it must
	// never change, or every pairwise client sees new users. Empty: a
	// random key for this process (tests).
	PairwiseKey []byte
	// TokenIssued, if set, is told the grant type of every access token
	// issued (metrics).
	TokenIssued func(grant string)
	// Logouts, if set, queues the back-channel logout of each client an
	// ended session signed in to (EndSession); nil: clients are not told.
	Logouts LogoutQueue
	// ClientSecretKey opens client_secret_jwt secrets (SealClientSecret);
	// zero: such clients cannot authenticate.
	ClientSecretKey [32]byte
	// JWKSFetcher fetches private_key_jwt clients' jwks_uri under the SSRF
	// rules; nil: clients with a jwks_uri cannot authenticate.
	JWKSFetcher   JWKSFetcher
	ClientJWKSTTL time.Duration // how long fetched client keys are kept; default 5m
	PARLifetime   time.Duration // how long a pushed request_uri is valid; default 60s
	// Device configures the device authorization grant (device.go).
	Device DeviceConfig

	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AccessTokenLifetime, 15*time.Minute)
	def(&c.IDTokenLifetime, time.Hour)
	def(&c.RefreshTokenIdle, 7*24*time.Hour)
	def(&c.RefreshTokenAbsolute, 30*24*time.Hour)
	def(&c.CodeLifetime, time.Minute)
	def(&c.AuthRequestLifetime, 15*time.Minute)
	def(&c.ClientCacheTTL, 5*time.Second)
	def(&c.KeyRefresh, time.Minute)
	def(&c.ClientJWKSTTL, 5*time.Minute)
	def(&c.PARLifetime, time.Minute) // RFC 9126 §2.2: short
	c.Device.setDefaults()
	if c.SigningAlgorithm == "" {
		c.SigningAlgorithm = AlgRS256
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LoginURL == nil {
		c.LoginURL = func(id string) string { return "/login?authRequestID=" + url.QueryEscape(id) }
	}
	if c.LoggedOutURL == "" {
		c.LoggedOutURL = "/logged-out"
	}
	if c.ErrorPage == nil {
		c.ErrorPage = func(w http.ResponseWriter, _ *http.Request, status int, key string) {
			http.Error(w, key, status)
		}
	}
}

// Provider is the OpenID provider.
type Provider struct {
	cfg     Config
	store   *store
	zp      *zop.Provider
	handler http.Handler
	// clientKeys holds private_key_jwt clients' keys (clientjwks.go).
	clientKeys *clientKeys
	dpop       *dpopChecker
}

// authorizer is the zitadel provider plus satupintu's own authorization
// request checks; zitadel finds them through the AuthorizeValidator interface.
type authorizer struct {
	*zop.Provider
	p *Provider
}

// New builds the provider, creating signing keys on first start.
func New(ctx context.Context, cfg Config, durable Durable, ephemeral Ephemeral) (*Provider, error) {
	cfg.setDefaults()
	if cfg.LogoutURL == nil {
		return nil, errors.New("op: LogoutURL is required")
	}
	if _, err := url.Parse(cfg.Issuer); err != nil || cfg.Issuer == "" {
		return nil, fmt.Errorf("op: issuer %q is not a URL", cfg.Issuer)
	}
	keys, err := newKeyManager(ctx, durable, cfg.SigningAlgorithm, cfg.KeyTimeline(), cfg.KEK, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("op: %w", err)
	}
	if len(cfg.PairwiseKey) == 0 {
		cfg.PairwiseKey = make([]byte, PairwiseKeySize)
		rand.Read(cfg.PairwiseKey) // never returns an error (crypto/rand documents it)
	}
	subs, err := newSubjects(cfg.PairwiseKey)
	if err != nil {
		return nil, fmt.Errorf("op: %w", err)
	}
	p := &Provider{cfg: cfg, clientKeys: newClientKeys(cfg.JWKSFetcher, cfg.ClientJWKSTTL, cfg.Now, cfg.Logger)}
	p.store = &store{
		durable:   durable,
		ephemeral: deferring{ephemeral},
		clients:   newClientCache(durable, cfg.ClientCacheTTL, cfg.Now),
		subjects:  subs,
		keys:      keys,
		cfg:       &p.cfg,
		log:       cfg.Logger,
	}
	p.dpop = newDPoPChecker(&p.cfg, p.store)
	zcfg := &zop.Config{
		CryptoKey:                cfg.CryptoKey,
		DefaultLogoutRedirectURI: cfg.LoggedOutURL,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.Indonesian, language.English},
		SupportedScopes:          SupportedScopes,
		SupportedClaims:          SupportedClaims,
		DeviceAuthorization:      cfg.Device.zitadel(), // RFC 8628 (device.go)
	}
	opts := []zop.Option{
		zop.WithLogger(cfg.Logger),
		// zitadel's default CORS reflects any origin with credentials, and on
		// /authorize too (RFC 9700 §2.6 forbids CORS there); corsHandler
		// below allows credential-less CORS on the API endpoints only.
		zop.WithCORSOptions(nil),
	}
	opts = append(opts, p.signingOptions()...)
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, zop.WithAllowInsecure())
	}
	p.zp, err = zop.NewProvider(zcfg, p.store, zop.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("op: create provider: %w", err)
	}
	a := &authorizer{Provider: p.zp, p: p}
	router := zop.CreateRouter(a)
	issuerCtx := zop.NewIssuerInterceptor(p.zp.IssuerFromRequest)

	discovery, err := p.buildDiscovery()
	if err != nil {
		return nil, fmt.Errorf("op: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", noStore(corsHandler(router)))
	mux.Handle("/userinfo", noStore(corsHandler(challenge(
		p.protocolGuard(endpointUserinfo, p.checkUserinfo(p.dpopUserinfo(router))), `Bearer error="invalid_token"`))))
	clientAuth := noStore(corsHandler(challenge(
		p.protocolGuard(endpointClientAuth, p.checkClientRequest(p.dpopToken(p.checkDeviceToken(router)))), `Basic realm="satupintu"`)))
	mux.Handle("/oauth/token", clientAuth)
	mux.Handle("/oauth/introspect", clientAuth)
	mux.Handle("/revoke", clientAuth)
	mux.Handle(parPath, noStore(challenge(p.protocolGuard(endpointClientAuth, http.HandlerFunc(a.servePAR)), `Basic realm="satupintu"`)))
	mux.Handle("/end_session", noStore(p.pageGuard(p.checkEndSession(router), true, keyLogoutInvalid, nil)))
	mux.Handle("GET /.well-known/openid-configuration", corsHandler(p.serveDiscovery(discovery)))
	// RFC 8414 §3: OAuth 2.0 clients (and libraries that know no OIDC)
	// look for the authorization server's metadata here; for an issuer
	// without a path it is the same document.
	mux.Handle("GET /.well-known/oauth-authorization-server", corsHandler(p.serveDiscovery(discovery)))
	mux.Handle("GET /keys", corsHandler(p.serveKeys()))
	callback := issuerCtx.Handler(p.errorPages(http.HandlerFunc(a.callback)))
	mux.Handle("/authorize", p.withIssuer(p.pageGuard(
		p.checkAuthorizeParams(p.pushedAuthorize(p.errorPages(p.withoutUI(router, callback)))), false, "", p.cfg.AdmitAuthRequest)))
	mux.Handle("GET /authorize/callback", p.withIssuer(p.pageGuard(callback, false, "", nil)))
	// Other methods would reach zitadel's own callback, which skips the
	// checks in authorizer.callback.
	mux.Handle("/authorize/callback", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		p.cfg.ErrorPage(w, r, http.StatusMethodNotAllowed, "error.authorize.invalid_request")
	}))
	mux.Handle("/device_authorization", noStore(challenge(
		p.protocolGuard(endpointClientAuth, p.checkDeviceAuthorization(router)), `Basic realm="satupintu"`)))
	p.handler = withSigningClient(mux)
	return p, nil
}

// Handler serves every protocol endpoint; mount it at "/" after the UI routes.
func (p *Provider) Handler() http.Handler { return p.handler }

// CallbackURL is where the sign-in UI sends the browser once the user is
// authenticated (or, for prompt=none, could not be).
func (p *Provider) CallbackURL(_ context.Context, authRequestID string) string {
	return "/authorize/callback?id=" + url.QueryEscape(authRequestID)
}

// AuthRequests is the store of authorization requests the sign-in UI must
// use while op asks it to resolve a request without a page: one created
// in that same response is not stored yet (pending.go).
func (p *Provider) AuthRequests() storage.AuthRequests { return p.store.requests() }

// Clients looks clients up through the provider's cache, for the sign-in
// UI's per-request checks (a client's MFA requirement).
func (p *Provider) Clients() interface {
	ClientByID(ctx context.Context, id string) (storage.Client, error)
} {
	return p.store.clients
}

// RotateKey creates a successor of alg's signing key; see keyManager.Rotate.
func (p *Provider) RotateKey(ctx context.Context, alg string) (string, error) {
	return p.store.keys.Rotate(ctx, alg)
}

// InvalidateClient makes a client change visible at once: one made in this
// process, or one the store reports ("c:<id>"), here or from another node.
func (p *Provider) InvalidateClient(id string) { p.store.clients.invalidate(id) }

// FlushClients drops every cached client: the invalidation channel between
// nodes reconnected, and changes may have been missed meanwhile.
func (p *Provider) FlushClients() { p.store.clients.flush() }

// ValidateAuthRequest runs zitadel's checks, then satupintu's policy:
// PKCE with S256 only, and required for public clients (RFC 9700 §2.1.1,
// ASVS 10.4.6). Errors after the redirect URI is known are redirected.
func (a *authorizer) ValidateAuthRequest(ctx context.Context, req *oidc.AuthRequest, st zop.Storage, verifier *zop.IDTokenHintVerifier) (string, error) {
	c, err := st.GetClientByClientID(ctx, req.ClientID)
	if isUnavailable(err) {
		return "", err // the database, not the client, is the problem: 503 page
	}
	if err != nil {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client").WithParent(err)
	}
	// Only query responses carry iss (RFC 9207), which discovery promises;
	// any other mode is refused, and the refusal itself goes by query.
	badMode := req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery
	if badMode {
		req.ResponseMode = oidc.ResponseModeQuery
	}
	sub, err := zop.ValidateAuthRequestClient(ctx, req, c, verifier)
	if err != nil {
		return "", err
	}
	if sub != "" {
		// An id_token_hint names the user as this client knows them
		// (pairwise.go); the request keeps the user's id.
		if sub, err = a.p.store.userFor(ctx, req.ClientID, sub); err != nil {
			return "", err
		}
		if sub == "" {
			return "", oidc.ErrLoginRequired().WithDescription("id_token_hint was not issued to this client")
		}
	}
	if err := requirePAR(ctx, c); err != nil {
		return "", err
	}
	if badMode {
		return "", oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	if req.CodeChallenge == "" {
		if c.AuthMethod() == oidc.AuthMethodNone {
			return "", oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for this client")
		}
	} else if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		// RFC 7636 §4.3: a missing method means plain, which we refuse.
		return "", oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	} else if !validS256Challenge(req.CodeChallenge) {
		return "", oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 base64url characters (RFC 7636)")
	}
	if err := checkDPoPJKTParam(ctx); err != nil {
		return "", err
	}
	if !hasScope(req.Scopes, oidc.ScopeOpenID) {
		return "", oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	requireMFA := false
	if sc, ok := c.(*client); ok {
		requireMFA = sc.c.RequireMFA
	}
	req.ACRValues = acrValues(req.ACRValues, requireMFA)
	trimAuthRequest(req)
	if !authRequestFits(req) {
		// Anyone can make the service keep a pending request: its size is
		// capped as a whole, on top of maxParamLen per parameter.
		return "", oidc.ErrInvalidRequest().WithDescription("the authorization request is too large")
	}
	return sub, nil
}

// acrValues keeps the acr_values satupintu knows, never failing on others
// (OIDC Core §3.1.2.1: voluntary, so unknown values are ignored), and adds
// the MFA class for a client that requires a second factor, so the sign-in
// UI reads one list for both reasons.
func acrValues(requested []string, requireMFA bool) []string {
	var out []string
	for _, v := range requested {
		if (v == storage.ACRPassword || v == storage.ACRMFA) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if requireMFA && !slices.Contains(out, storage.ACRMFA) {
		out = append(out, storage.ACRMFA)
	}
	return out
}

func hasScope(scopes []string, s string) bool {
	for _, have := range scopes {
		if have == s {
			return true
		}
	}
	return false
}

// callback finishes an authorization request after the sign-in UI. A
// request the UI left unfinished was prompt=none without a usable session:
// OIDC Core §3.1.2.6 wants login_required for that, not zitadel's
// interaction_required.
func (a *authorizer) callback(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		a.p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.invalid_request")
		return
	}
	stored, err := a.p.store.ephemeral.AuthRequestByID(r.Context(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.p.store.unavailable(r.Context(), "load auth request", err)
		a.p.cfg.ErrorPage(w, r, http.StatusServiceUnavailable, keyUnavailable)
		return
	}
	if err != nil {
		a.p.cfg.Logger.InfoContext(r.Context(), "authorize callback for unknown request", "error", err)
		a.p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.expired")
		return
	}
	req, err := a.p.store.authRequest(r.Context(), stored, "")
	if isUnavailable(err) {
		a.p.cfg.ErrorPage(w, r, http.StatusServiceUnavailable, keyUnavailable)
		return
	}
	if err != nil { // the client was deleted meanwhile
		a.p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.invalid_request")
		return
	}
	if stored.Done && stored.HintSubject != "" && stored.UserID != stored.HintSubject {
		// Someone else signed in than the id_token_hint named (OIDC Core §3.1.2.1).
		zop.AuthRequestError(w, r, req, oidc.ErrLoginRequired().WithDescription("the signed-in user is not the one in id_token_hint"), a)
		return
	}
	if !stored.Done {
		e := oidc.ErrInteractionRequired()
		if req.hasPrompt(oidc.PromptNone) {
			e = oidc.ErrLoginRequired()
		}
		zop.AuthRequestError(w, r, req, e, a)
		return
	}
	zop.AuthResponse(req, a, w, r)
}

// withoutUI holds back zitadel's redirect to the sign-in page and asks the
// UI whether it is needed at all; when not, it answers as the callback
// would, in this same response.
func (p *Provider) withoutUI(next, callback http.Handler) http.Handler {
	if p.cfg.ResolveWithoutUI == nil {
		return next
	}
	prefix := p.cfg.LoginURL("")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, pend := withPending(r.Context())
		r = r.WithContext(ctx)
		hw := &loginRedirectWriter{ResponseWriter: w, prefix: prefix}
		next.ServeHTTP(hw, r)
		if hw.id == "" {
			// zitadel answered something else, already written; a request
			// it created is stored all the same.
			if err := p.store.requests().flush(ctx, pend); err != nil {
				p.store.unavailable(ctx, "store auth request", err)
			}
			return
		}
		if !p.cfg.ResolveWithoutUI(r, hw.id) {
			// The sign-in page will need the request.
			if err := p.store.requests().flush(ctx, pend); err != nil {
				p.store.unavailable(ctx, "store auth request", err)
				w.Header().Del("Location")
				p.cfg.ErrorPage(w, r, http.StatusServiceUnavailable, keyUnavailable)
				return
			}
			hw.release()
			return
		}
		// The callback answers the request in this response: with a code,
		// which stores it, or with an error, after which nobody needs it.
		defer pend.drop()
		w.Header().Del("Location")
		w.Header().Del("Content-Type")
		cb := r.Clone(r.Context())
		cb.Method = http.MethodGet
		cb.URL.RawQuery = url.Values{"id": {hw.id}}.Encode()
		callback.ServeHTTP(w, cb)
	})
}

// loginRedirectWriter holds a redirect to the sign-in page instead of
// writing it.
type loginRedirectWriter struct {
	http.ResponseWriter
	prefix string
	id     string
	code   int
}

func (l *loginRedirectWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if loc := l.Header().Get("Location"); strings.HasPrefix(loc, l.prefix) {
			if u, err := url.Parse(loc); err == nil {
				if id := u.Query().Get("authRequestID"); id != "" {
					l.id, l.code = id, code
					return
				}
			}
		}
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *loginRedirectWriter) Write(b []byte) (int, error) {
	if l.id != "" {
		return len(b), nil // the held redirect's little HTML body
	}
	return l.ResponseWriter.Write(b)
}

// release writes the held redirect after all.
func (l *loginRedirectWriter) release() { l.ResponseWriter.WriteHeader(l.code) }

// errorPages turns zitadel's plain-text "not redirecting" errors into the
// localized error page; the library's description goes to the log only.
func (p *Provider) errorPages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if !cw.captured {
			return
		}
		detail := cw.detail.String()
		p.cfg.Logger.InfoContext(r.Context(), "authorization request refused", "detail", detail)
		for _, h := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
			w.Header().Del(h)
		}
		p.cfg.ErrorPage(w, r, cw.status, errorKey(detail))
	})
}

// errorKey picks the message for the user from the library's description.
func errorKey(detail string) string {
	d := strings.ToLower(detail)
	switch {
	case strings.Contains(d, "redirect_uri"):
		return "error.authorize.redirect_uri"
	case strings.Contains(d, "client"):
		return "error.authorize.client"
	case strings.Contains(d, "expired"), strings.Contains(d, "not found"):
		return "error.authorize.expired"
	default:
		return "error.authorize.invalid_request"
	}
}

// captureWriter holds back a plain-text 4xx body so it can be replaced.
type captureWriter struct {
	http.ResponseWriter
	captured bool
	status   int
	detail   strings.Builder
}

func (c *captureWriter) WriteHeader(code int) {
	if code >= 400 && code < 500 && strings.HasPrefix(c.Header().Get("Content-Type"), "text/plain") {
		c.captured, c.status = true, code
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.captured {
		if c.detail.Len() < 1024 {
			c.detail.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// noStore marks protocol responses uncacheable: they carry tokens or
// user data (RFC 6749 §5.1, OIDC Core §3.1.3.3, ASVS 14.3.2).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// challenge adds the WWW-Authenticate header zitadel leaves out of 401
// answers (RFC 6750 §3 for userinfo, RFC 6749 §5.2 for client auth).
func challenge(next http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&challengeWriter{ResponseWriter: w, value: value}, r)
	})
}

type challengeWriter struct {
	http.ResponseWriter
	value string
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", c.value)
	}
	c.ResponseWriter.WriteHeader(code)
}

// corsHandler allows cross-origin calls without credentials to the
// endpoints a browser-based relying party needs; never to /authorize.
func corsHandler(next http.Handler) http.Handler {
	allowed := map[string]bool{
		"/.well-known/openid-configuration": true, "/.well-known/oauth-authorization-server": true,
		"/keys": true, "/oauth/token": true,
		"/userinfo": true, "/revoke": true, "/oauth/introspect": true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" && allowed[r.URL.Path] {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate") // RFC 9449 §8, §9
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
