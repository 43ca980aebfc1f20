package demorp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Scopes are the scopes every demo app requests: the standard profile
// claims, satupintu's `organization` (NIB, NPWP, company) and a refresh token.
func Scopes() []string {
	return []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, "organization", oidc.ScopeOfflineAccess}
}

const (
	sessionTTL       = 12 * time.Hour
	flowCookieMaxAge = 30 * time.Minute // state, PKCE, nonce: sign-in may include registration or MFA
	providerTimeout  = 10 * time.Second // discovery and every call to the provider
	formBodyLimit    = 64 << 10
)

// User-facing messages. Details go to the log, never to the page.
const (
	msgInternal      = "Terjadi kesalahan. Silakan coba lagi. (Something went wrong. Please try again.)"
	msgProviderDown  = "satupintu belum dapat dihubungi. Silakan coba lagi sebentar lagi. (The identity provider cannot be reached yet. Please try again shortly.)"
	msgSignInFailed  = "Proses masuk gagal atau kedaluwarsa. Silakan masuk lagi. (Sign-in failed or expired. Please sign in again.)"
	msgSignInRefused = "satupintu menolak permintaan masuk. (The identity provider refused the sign-in.)"
	msgForbidden     = "Permintaan ditolak. Muat ulang halaman lalu coba lagi. (Request refused. Reload the page and try again.)"
	msgNoRefresh     = "Tidak ada refresh token; scope offline_access tidak diberikan. (No refresh token: offline_access was not granted.)"
	msgRefreshFailed = "Gagal memperbarui token. Silakan keluar lalu masuk lagi. (Refreshing the tokens failed. Sign out and sign in again.)"
)

// handler serves one demo app.
type handler struct {
	app        App
	issuer     string
	httpClient *http.Client
	logger     *slog.Logger
	pages      *pages
	cookies    *httphelper.CookieHandler // encrypts and signs the flow cookies
	prefix     string                    // cookie namespace of this app
	secure     bool                      // ExternalURL is https: cookies get Secure
	sessions   *sessionStore
	provider   *provider
}

// NewHandler returns the web app for one demo client. It does not contact the
// provider: discovery runs in the background (bounded by ctx) and again on
// each request until it succeeds, so the app may start before the provider.
//
// The app's ExternalURL must be final when NewHandler is called. Under
// httptest, create the listener first, e.g.
//
//	srv := httptest.NewUnstartedServer(nil)
//	app.ExternalURL = "http://" + srv.Listener.Addr().String()
//	srv.Config.Handler, err = demorp.NewHandler(ctx, issuer, app, nil, logger)
//	srv.Start()
//
// A nil httpClient means one with a 10 s timeout; a nil logger discards logs.
func NewHandler(ctx context.Context, issuer string, app App, httpClient *http.Client, logger *slog.Logger) (http.Handler, error) {
	h, err := newHandler(issuer, app, httpClient, logger)
	if err != nil {
		return nil, err
	}
	go h.warmUp(ctx)
	return h.routes(), nil
}

func newHandler(issuer string, app App, httpClient *http.Client, logger *slog.Logger) (*handler, error) {
	app = app.withDefaults()
	if err := errors.Join(app.validateClient()...); err != nil {
		return nil, fmt.Errorf("demorp: app %q: %w", app.Name, err)
	}
	issuerOrigin, err := origin(issuer)
	if err != nil {
		return nil, fmt.Errorf("demorp: issuer: %w", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: providerTimeout}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pg, err := parsePages(issuerOrigin)
	if err != nil {
		return nil, fmt.Errorf("demorp: %w", err)
	}
	// Keys live only as long as the process, like the sessions they protect.
	hashKey, encKey := make([]byte, 32), make([]byte, 32)
	if _, err := rand.Read(hashKey); err != nil {
		return nil, fmt.Errorf("demorp: cookie key: %w", err)
	}
	if _, err := rand.Read(encKey); err != nil {
		return nil, fmt.Errorf("demorp: cookie key: %w", err)
	}
	secure := strings.HasPrefix(app.ExternalURL, "https://")
	cookieOpts := []httphelper.CookieHandlerOpt{httphelper.WithMaxAge(int(flowCookieMaxAge.Seconds()))}
	if !secure {
		// The handler marks cookies Secure by default; over plain http (the
		// dev setup) browsers and cookie jars would then never send them back.
		cookieOpts = append(cookieOpts, httphelper.WithUnsecure())
	}

	h := &handler{
		app:        app,
		issuer:     issuer,
		httpClient: httpClient,
		logger:     logger.With("app", app.Name, "client_id", app.ClientID),
		pages:      pg,
		cookies:    httphelper.NewCookieHandler(hashKey, encKey, cookieOpts...),
		prefix:     cookiePrefix(app.ExternalURL),
		secure:     secure,
		sessions:   newSessionStore(sessionTTL),
	}
	h.provider = &provider{discover: h.discover, timeout: providerTimeout}
	return h, nil
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", h.page(h.showHome))
	mux.Handle("GET /login", h.page(h.startSignIn))
	mux.Handle("GET "+InitiateLoginPath, h.page(h.initiateLogin))
	mux.Handle("GET /callback", h.page(h.finishSignIn))
	mux.Handle("POST /logout", h.page(h.signOut))
	mux.Handle("POST /refresh", h.page(h.refreshTokens))
	mux.HandleFunc("POST "+AccountLinkPath, h.checkAccount)            // called by the provider, not the browser
	mux.HandleFunc("POST "+BackchannelLogoutPath, h.backchannelLogout) // likewise
	mux.Handle("GET /static/", http.FileServerFS(assets))

	// Cross-origin POSTs (Sec-Fetch-Site / Origin) are refused before the
	// per-session CSRF token is even looked at.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &pageError{status: http.StatusForbidden, msg: msgForbidden, err: errors.New("cross-origin request")})
	}))
	return securityHeaders(cop.Handler(scopeRPCookies(h.prefix, mux)))
}

// discover builds the relying party from the provider's discovery document.
func (h *handler) discover(ctx context.Context) (*discovered, error) {
	relying, err := rp.NewRelyingPartyOIDC(ctx, h.issuer, h.app.ClientID, h.app.ClientSecret,
		h.app.RedirectURI(), Scopes(),
		rp.WithHTTPClient(h.httpClient),
		// WithPKCE also installs the cookie handler that carries the state.
		rp.WithPKCE(h.cookies),
		// client_secret_basic; the default (auto-detect) would send the
		// secret in the body on refresh.
		rp.WithAuthStyle(oauth2.AuthStyleInHeader),
		// One call: a second WithVerifierOpts would replace the first.
		rp.WithVerifierOpts(
			rp.WithNonce(expectedNonce),
			rp.WithIssuedAtOffset(5*time.Second),
		),
		// The verifier accepts only RS256 unless told otherwise.
		rp.WithSigningAlgsFromDiscovery(),
		rp.WithUnauthorizedHandler(h.callbackRejected),
		rp.WithErrorHandler(h.callbackError),
	)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", h.issuer, err)
	}
	return &discovered{
		rp:       relying,
		refresh:  newRefreshRP(relying),
		exchange: rp.CodeExchangeHandler(rp.UserinfoCallback(h.signedIn), relying),
	}, nil
}

// warmUp discovers the provider in the background so the first click is fast
// and the log says early whether the provider is reachable.
func (h *handler) warmUp(ctx context.Context) {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		_, err := h.provider.get(ctx)
		if err == nil {
			h.logger.Info("provider discovered", "issuer", h.issuer, "url", h.app.ExternalURL)
			return
		}
		if ctx.Err() != nil {
			return
		}
		level := slog.LevelDebug
		if attempt == 1 {
			level = slog.LevelInfo
		}
		h.logger.Log(ctx, level, "provider not reachable yet, will retry", "issuer", h.issuer, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// showHome renders the app's one page: the sign-in link, or what the
// provider told us about the signed-in user.
func (h *handler) showHome(w http.ResponseWriter, r *http.Request) error {
	data := pageData{App: h.app}
	// The provider sends the browser back here after logout with our state.
	if state := r.URL.Query().Get("state"); state != "" {
		if want, err := h.cookies.CheckCookie(r, h.prefix+"logout"); err == nil &&
			subtle.ConstantTimeCompare([]byte(state), []byte(want)) == 1 {
			data.SignedOut = true
			h.cookies.DeleteCookie(w, h.prefix+"logout")
		}
	}
	if id, sess, ok := h.currentSession(r); ok {
		if sess.Flash != "" {
			h.sessions.update(id, func(s *session) { s.Flash = "" })
		}
		data.Flash = sess.Flash
		data.CSRF = sess.CSRF
		data.User = newUserView(sess)
	}
	return h.render(w, http.StatusOK, "home", data)
}

// startSignIn sends the browser to the provider's authorization endpoint.
// rp.AuthURLHandler sets the state and PKCE cookies; the nonce is ours.
func (h *handler) startSignIn(w http.ResponseWriter, r *http.Request) error {
	d, err := h.provider.get(r.Context())
	if err != nil {
		return &pageError{status: http.StatusServiceUnavailable, msg: msgProviderDown, err: err}
	}
	nonce := rand.Text()
	if err := h.cookies.SetCookie(w, h.prefix+"nonce", nonce); err != nil {
		return fmt.Errorf("set nonce cookie: %w", err)
	}
	rp.AuthURLHandler(rand.Text, d.rp, rp.WithURLParam("nonce", nonce)).ServeHTTP(w, r)
	return nil
}

// finishSignIn handles the authorization response. rp.CodeExchangeHandler
// checks the state against its cookie, exchanges the code with the PKCE
// verifier and verifies the ID token (signature, iss, aud, exp, at_hash and,
// through the context, our nonce); rp.UserinfoCallback then fetches userinfo
// and checks its sub.
func (h *handler) finishSignIn(w http.ResponseWriter, r *http.Request) error {
	d, err := h.provider.get(r.Context())
	if err != nil {
		return &pageError{status: http.StatusServiceUnavailable, msg: msgProviderDown, err: err}
	}
	// Without the nonce cookie the verifier would expect an empty nonce and
	// accept an ID token that has none, so refuse before exchanging the code.
	nonce, err := h.cookies.CheckCookie(r, h.prefix+"nonce")
	if err == nil && nonce == "" {
		err = errors.New("empty")
	}
	if err != nil {
		return &pageError{status: http.StatusBadRequest, msg: msgSignInFailed, err: fmt.Errorf("nonce cookie: %w", err)}
	}
	h.cookies.DeleteCookie(w, h.prefix+"nonce")
	d.exchange.ServeHTTP(w, r.WithContext(withExpectedNonce(r.Context(), nonce)))
	return nil
}

// userinfo keeps the whole userinfo response, custom claims included, for
// display; rp.Userinfo needs only the subject.
type userinfo map[string]any

func (u userinfo) GetSubject() string {
	s, _ := u["sub"].(string)
	return s
}

// signedIn runs after the code exchange and userinfo call succeeded.
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request, tokens *oidc.Tokens[*oidc.IDTokenClaims], _ string, _ rp.RelyingParty, info userinfo) {
	claims, err := decodeClaims(tokens.IDToken)
	if err != nil {
		h.fail(w, r, fmt.Errorf("decode verified id token: %w", err))
		return
	}
	// Always a new session id on sign-in, so an id planted before sign-in
	// (session fixation) is never promoted.
	if old, err := r.Cookie(h.prefix + "session"); err == nil {
		h.sessions.delete(old.Value)
	}
	id := rand.Text()
	h.sessions.put(id, session{
		IDToken:      tokens.IDToken,
		Claims:       claims,
		Userinfo:     info,
		AccessToken:  tokens.AccessToken,
		TokenType:    tokens.Type(),
		Expiry:       tokens.Expiry,
		RefreshToken: tokens.RefreshToken,
		Nonce:        expectedNonce(r.Context()),
		CSRF:         rand.Text(),
	})
	http.SetCookie(w, h.sessionCookie(id, 0))
	h.logger.InfoContext(r.Context(), "signed in", "sub", tokens.IDTokenClaims.GetSubject(), "refresh_token", tokens.RefreshToken != "")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// callbackRejected is rp's UnauthorizedHandler: bad or missing state, missing
// PKCE verifier, failed code exchange or token verification, failed userinfo.
func (h *handler) callbackRejected(w http.ResponseWriter, r *http.Request, desc, _ string) {
	h.fail(w, r, &pageError{status: http.StatusBadRequest, msg: msgSignInFailed, err: errors.New(desc)})
}

// callbackError is rp's ErrorHandler: the provider answered with an OAuth
// error (RFC 6749 §4.1.2.1), after the state was checked.
func (h *handler) callbackError(w http.ResponseWriter, r *http.Request, errorType, errorDesc, _ string) {
	msg := msgSignInRefused
	if isErrorCode(errorType) {
		msg += " [" + errorType + "]"
	}
	h.fail(w, r, &pageError{status: http.StatusBadRequest, msg: msg, err: fmt.Errorf("provider error %q: %s", errorType, errorDesc)})
}

// isErrorCode accepts the shape of OAuth error codes, so only such a code
// (never free text from the query) is echoed on the page.
func isErrorCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// signOut ends the local session and sends the browser to the provider's
// end_session_endpoint (RP-Initiated Logout 1.0 §2) so the single sign-on
// session ends too. It is a browser redirect on purpose: rp.EndSession calls
// the endpoint from this server, where the provider's session cookie is not.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) error {
	id, sess, ok := h.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	if !h.validCSRF(w, r, sess) {
		return &pageError{status: http.StatusForbidden, msg: msgForbidden, err: errors.New("bad csrf token on logout")}
	}
	h.sessions.delete(id)
	http.SetCookie(w, h.sessionCookie("", -1))
	h.logger.InfoContext(r.Context(), "signed out", "sub", sess.Claims["sub"])

	d, err := h.provider.get(r.Context())
	if err != nil || d.rp.GetEndSessionEndpoint() == "" {
		h.logger.WarnContext(r.Context(), "no end_session_endpoint, signed out locally only", "err", err)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	end, err := url.Parse(d.rp.GetEndSessionEndpoint())
	if err != nil {
		return fmt.Errorf("parse end_session_endpoint: %w", err)
	}
	state := rand.Text()
	if err := h.cookies.SetCookie(w, h.prefix+"logout", state); err != nil {
		return fmt.Errorf("set logout cookie: %w", err)
	}
	q := end.Query()
	q.Set("id_token_hint", sess.IDToken)
	q.Set("client_id", h.app.ClientID)
	q.Set("post_logout_redirect_uri", h.app.PostLogoutRedirectURI())
	q.Set("state", state)
	end.RawQuery = q.Encode()
	http.Redirect(w, r, end.String(), http.StatusSeeOther)
	return nil
}

// refreshTokens uses the refresh token (refresh_token grant, client
// authenticated with client_secret_basic) and stores what comes back; the
// page then shows the new claims and expiry.
func (h *handler) refreshTokens(w http.ResponseWriter, r *http.Request) error {
	id, sess, ok := h.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	if !h.validCSRF(w, r, sess) {
		return &pageError{status: http.StatusForbidden, msg: msgForbidden, err: errors.New("bad csrf token on refresh")}
	}
	flash := func(msg string) error {
		h.sessions.update(id, func(s *session) { s.Flash = msg })
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	if sess.RefreshToken == "" {
		return flash(msgNoRefresh)
	}
	d, err := h.provider.get(r.Context())
	if err != nil {
		return &pageError{status: http.StatusServiceUnavailable, msg: msgProviderDown, err: err}
	}
	ctx := r.Context()
	tokens, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, d.refresh, sess.RefreshToken, "", "")
	if err != nil {
		h.logger.WarnContext(ctx, "refresh failed", "err", err)
		return flash(msgRefreshFailed)
	}
	sub, _ := sess.Claims["sub"].(string)
	var claims map[string]any
	if tokens.IDToken != "" {
		// OIDC Core §12.2: same sub; a nonce, if any, is the original one.
		c := tokens.IDTokenClaims
		if n := c.GetNonce(); c.GetSubject() != sub || (n != "" && n != sess.Nonce) {
			h.logger.WarnContext(ctx, "refreshed id token does not match the session", "sub", sub, "new_sub", c.GetSubject(), "nonce_matches", n == sess.Nonce)
			return flash(msgRefreshFailed)
		}
		if claims, err = decodeClaims(tokens.IDToken); err != nil {
			return fmt.Errorf("decode refreshed id token: %w", err)
		}
	}
	info, err := rp.Userinfo[userinfo](ctx, tokens.AccessToken, tokens.Type(), sub, d.rp)
	if err != nil {
		h.logger.WarnContext(ctx, "userinfo after refresh failed", "err", err)
	}
	h.sessions.update(id, func(s *session) {
		if claims != nil {
			s.IDToken, s.Claims = tokens.IDToken, claims
		}
		if info != nil {
			s.Userinfo = info
		}
		s.AccessToken, s.TokenType, s.Expiry = tokens.AccessToken, tokens.Type(), tokens.Expiry
		if tokens.RefreshToken != "" {
			s.RefreshToken = tokens.RefreshToken // rotated: the old one is now spent
		}
		s.Flash = fmt.Sprintf("Token diperbarui pukul %s (tokens refreshed): ID token baru: %s, refresh token baru: %s.",
			time.Now().Format("15:04:05"), yesNo(claims != nil), yesNo(tokens.RefreshToken != "" && tokens.RefreshToken != sess.RefreshToken))
	})
	h.logger.InfoContext(ctx, "tokens refreshed", "sub", sub, "id_token", claims != nil, "rotated", tokens.RefreshToken != "" && tokens.RefreshToken != sess.RefreshToken)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "ya (yes)"
	}
	return "tidak (no)"
}

func (h *handler) currentSession(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(h.prefix + "session")
	if err != nil || c.Value == "" {
		return "", session{}, false
	}
	sess, ok := h.sessions.get(c.Value)
	return c.Value, sess, ok
}

// sessionCookie holds only the random session id. SameSite=Lax keeps it on
// the top-level redirect back from the provider but off cross-site POSTs.
func (h *handler) sessionCookie(id string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     h.prefix + "session",
		Value:    id,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func (h *handler) validCSRF(w http.ResponseWriter, r *http.Request, sess session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, formBodyLimit)
	got := r.PostFormValue("csrf_token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

// pageError is an error with the status and the message the user may see.
type pageError struct {
	status int
	msg    string
	err    error
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s: %v", e.status, e.msg, e.err) }
func (e *pageError) Unwrap() error { return e.err }

// page adapts a handler that returns an error.
func (h *handler) page(f func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// fail logs the detail and shows the user only the short message.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	pe := &pageError{status: http.StatusInternalServerError, msg: msgInternal, err: err}
	errors.As(err, &pe)
	level := slog.LevelWarn
	if pe.status >= 500 {
		level = slog.LevelError
	}
	h.logger.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", pe.status, "err", pe.err)
	if rerr := h.render(w, pe.status, "error", pageData{App: h.app, Error: pe.msg}); rerr != nil {
		h.logger.ErrorContext(r.Context(), "render error page", "err", rerr)
	}
}

// securityHeaders applies to every response, redirects included.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// origin returns scheme://host of an absolute http(s) URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
