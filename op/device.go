package op

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/quota"
	"satupintu/storage"
)

// The OAuth 2.0 Device Authorization Grant (RFC 8628) for command-line
// tools and kiosks: zitadel serves both endpoints; satupintu stores the
// authorizations (storage.DeviceAuthorizations), decides each poll with
// its own clock, and checks clients before zitadel does. The sign-in UI
// shows the user-code page and records the user's decision.

// DeviceConfig sets up the device flow; zero values take the defaults.
type DeviceConfig struct {
	Lifetime     time.Duration // of the codes; default DeviceLifetime
	PollInterval time.Duration // between polls; default DevicePollInterval
	// Path is the user-code page of the sign-in UI (default "/device").
	Path string
	// Admit, if set, is asked before a new device authorization is
	// stored: an error wrapping quota.ErrExceeded refuses it with 429, any
	// other error is a dependency failure (503).
	Admit func(r *http.Request) error
}

// Device flow defaults: codes live 10 minutes, long enough to find a phone
// and sign in; polls come every 5 s, RFC 8628 §3.5's default.
const (
	DeviceLifetime     = 10 * time.Minute
	DevicePollInterval = 5 * time.Second
	// DeviceGrace is how long an expired authorization is kept so that
	// a late poll learns expired_token rather than access_denied.
	DeviceGrace = 5 * time.Minute
	// slowDownStep is what each slow_down adds to the interval (§3.5).
	slowDownStep = 5 * time.Second
	// maxPollInterval caps the interval a misbehaving client can grow.
	maxPollInterval = time.Minute
	// deviceRetryAfter is the Retry-After, in seconds, of a device
	// authorization refused by its quota: op does not know the quota's
	// window, and a minute is long against a flood, short for a person.
	deviceRetryAfter = "60"
)

// DeviceRecordLifetime is how long a device authorization stays in the
// ephemeral store with the default lifetime: the bound for its quota window.
const DeviceRecordLifetime = DeviceLifetime + DeviceGrace

// GrantDeviceCode is the grant type a client needs for the device flow.
const GrantDeviceCode = storage.GrantDeviceCode

// deviceParamLimits bound the device authorization request's parameters;
// scope is what the store keeps.
var deviceParamLimits = map[string]int{"client_id": 256, "client_secret": 512, "scope": 1024}

func deviceParamLimit(name string) int {
	if n, ok := deviceParamLimits[name]; ok {
		return n
	}
	return maxParamLen
}

func (c *DeviceConfig) setDefaults() {
	if c.Lifetime <= 0 {
		c.Lifetime = DeviceLifetime
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DevicePollInterval
	}
	if c.Path == "" {
		c.Path = "/device"
	}
}

// zitadel is zitadel's device configuration: user codes of eight
// consonants (RFC 8628 §6.1: no vowels, no look-alike digits), shown as
// XXXX-XXXX, and 128-bit device codes (zop.RecommendedDeviceCodeBytes).
func (c DeviceConfig) zitadel() zop.DeviceAuthorizationConfig {
	return zop.DeviceAuthorizationConfig{
		Lifetime:     c.Lifetime,
		PollInterval: c.PollInterval,
		UserFormPath: c.Path,
		UserCode:     zop.UserCodeConfig{CharSet: storage.UserCodeAlphabet, CharAmount: storage.UserCodeLength, DashInterval: 4},
	}
}

// --- the device authorization endpoint ---

// checkDeviceAuthorization admits a device authorization request before
// zitadel parses it: POST with the parameters in the body (RFC 8628 §3.1),
// a known client that is public or authenticated (zitadel itself does not
// check a secret posted in the body), holding the device grant (else 400
// unauthorized_client), within the quota.
func (p *Provider) checkDeviceAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The client authenticates as at the token endpoint; a bare
		// client_id must be public.
		ac, r, ok := p.admitClient(w, r)
		if !ok {
			return
		}
		if checkForm(r, deviceParamLimit) == formTooLong {
			writeProtocolError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("a parameter is too long"))
			return
		}
		c := ac.client
		if c.ID == "" {
			var e *oidc.Error
			var status int
			if c, e, status = p.publicClient(r); e != nil {
				writeProtocolError(w, status, e)
				return
			}
		}
		if !slices.Contains(c.GrantTypes, GrantDeviceCode) {
			writeProtocolError(w, http.StatusBadRequest, oidc.ErrUnauthorizedClient().WithDescription("the client may not use the device flow"))
			return
		}
		if admit := p.cfg.Device.Admit; admit != nil {
			if err := admit(r); errors.Is(err, quota.ErrExceeded) {
				p.cfg.Logger.InfoContext(r.Context(), "device authorization refused by quota", "client_id", c.ID, "error", err)
				w.Header().Set("Retry-After", deviceRetryAfter)
				writeProtocolError(w, http.StatusTooManyRequests, &oidc.Error{ErrorType: oidc.SlowDown, Description: "too many device authorization requests; try again later"})
				return
			} else if err != nil {
				p.store.unavailable(r.Context(), "admit device authorization", err)
				writeProtocolError(w, http.StatusServiceUnavailable, Unavailable())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// publicClient returns the client a request names by client_id alone,
// without credentials: only a public client may do that.
func (p *Provider) publicClient(r *http.Request) (storage.Client, *oidc.Error, int) {
	id := r.PostForm.Get("client_id")
	if id == "" {
		return storage.Client{}, oidc.ErrInvalidClient().WithDescription("client_id is required"), http.StatusUnauthorized
	}
	c, err := p.store.clients.get(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.EffectiveAuthMethod() != storage.AuthMethodNone) {
		return storage.Client{}, errClientAuth(), http.StatusUnauthorized
	}
	if err != nil {
		p.store.unavailable(r.Context(), "load client", err)
		return storage.Client{}, Unavailable(), http.StatusServiceUnavailable
	}
	return c, nil, 0
}

// StoreDeviceAuthorization keeps a new device authorization. zitadel made
// the codes; the expiry is counted on satupintu's clock, and the record
// outlives it by DeviceGrace.
func (s *store) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, _ time.Time, scopes []string) error {
	code, ok := storage.NormalizeUserCode(userCode)
	if !ok {
		return fmt.Errorf("op: zitadel made user code of unexpected shape")
	}
	now := s.now()
	d := storage.DeviceAuthorization{
		ID:        refreshID(deviceCode),
		UserCode:  code,
		ClientID:  clientID,
		Scopes:    dedupe(scopes, SupportedScopes), // unknown scopes are ignored, the stored list is bounded
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.Device.Lifetime),
		Interval:  s.cfg.Device.PollInterval,
		State:     storage.DevicePending,
	}
	err := s.ephemeral.CreateDeviceAuthorization(ctx, d, s.cfg.Device.Lifetime+DeviceGrace)
	if errors.Is(err, storage.ErrAlreadyExists) {
		// A user code collision (one in billions with the default limits):
		// zitadel cannot retry, so the client is asked to.
		s.log.WarnContext(ctx, "device user code collision", "client_id", clientID)
		if o := outcomeFrom(ctx); o != nil {
			o.set(http.StatusServiceUnavailable, keyUnavailable)
		}
		return errUnavailable().WithParent(err)
	}
	if err != nil {
		return s.unavailable(ctx, "store device authorization", err)
	}
	s.log.InfoContext(ctx, "device authorization started", "client_id", clientID)
	return nil
}

// errPolledTooFast makes zitadel answer slow_down: it maps a storage error
// wrapping context.DeadlineExceeded to that code (CheckDeviceAuthorizationState).
var errPolledTooFast = fmt.Errorf("op: device polled faster than its interval: %w", context.DeadlineExceeded)

// errDeviceGone is any device code that cannot be answered: unknown,
// another client's, or already answered; zitadel says access_denied.
var errDeviceGone = errors.New("op: device code unknown, of another client, or already answered")

// GetDeviceAuthorizatonState answers one poll, deciding with satupintu's
// clock (zitadel would use the wall clock): slow_down for a poll within
// the interval of the previous one while pending, then the decision,
// which is given once: a second poll after tokens or a denial is refused.
func (s *store) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*zop.DeviceAuthorizationState, error) {
	var (
		got           storage.DeviceAuthorization
		slow, expired bool
		now           = s.now()
	)
	// The client is needed for the subject once approved; loaded before
	// the poll is recorded, so a database failure here leaves the
	// approval for the next poll instead of spending it.
	if _, err := s.clients.get(ctx, clientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, s.unavailable(ctx, "load client", err)
	}
	err := s.ephemeral.UpdateDeviceAuthorization(ctx, refreshID(deviceCode), func(d *storage.DeviceAuthorization) error {
		slow, expired = false, false
		switch {
		case d.ClientID != clientID, d.Answered:
			return errDeviceGone
		case !now.Before(d.ExpiresAt):
			expired = true // even if approved: the code's lifetime is over
		case d.State == storage.DeviceApproved || d.State == storage.DeviceDenied:
			d.Answered = true
		default:
			// RFC 8628 §3.5: a poll sooner than the interval is told to slow
			// down, and the interval grows for every later poll.
			if !d.LastPoll.IsZero() && now.Sub(d.LastPoll) < d.Interval {
				slow = true
				d.Interval = min(d.Interval+slowDownStep, maxPollInterval)
			}
			d.LastPoll = now
		}
		got = *d
		return nil
	})
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, errDeviceGone):
		s.log.InfoContext(ctx, "device poll refused", "client_id", clientID, "error", err)
		return nil, errDeviceGone
	case err != nil:
		return nil, s.unavailable(ctx, "poll device authorization", err)
	case slow:
		return nil, errPolledTooFast
	}
	state := &zop.DeviceAuthorizationState{ClientID: got.ClientID, Scopes: got.Scopes, Audience: []string{got.ClientID}}
	switch {
	case expired:
		// zitadel compares Expires with the wall clock: the zero time is
		// past on any clock, so it says expired_token.
		return state, nil
	case got.State == storage.DeviceDenied:
		state.Denied = true // the page audited the denial (device.deny)
	case got.State == storage.DeviceApproved:
		sub, err := s.subjectFor(ctx, got.ClientID, got.UserID)
		if err != nil {
			return nil, err
		}
		state.Done = true
		state.Subject, state.AMR, state.AuthTime = sub, got.AMR, got.AuthTime
		if g, ok := ctx.Value(deviceGrantKey{}).(*deviceGrant); ok {
			g.set(state, got)
		}
		s.audit(ctx, storage.AuditEvent{Action: "device.token", ActorID: clientID, Subject: got.UserID, ClientID: clientID})
	default:
		state.Expires = time.Now().Add(got.ExpiresAt.Sub(now)) // pending, on zitadel's clock
	}
	return state, nil
}

// deviceGrant carries, through one token request, what the approved
// authorization knows beyond zitadel's DeviceAuthorizationState: the
// session, for the sid claim and back-channel logout.
type deviceGrant struct {
	mu    sync.Mutex
	state *zop.DeviceAuthorizationState
	d     storage.DeviceAuthorization
}

type deviceGrantKey struct{}

func (g *deviceGrant) set(state *zop.DeviceAuthorizationState, d storage.DeviceAuthorization) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state, g.d = state, d
}

// deviceAuthorizationOf returns the approved authorization behind req, if
// req is the device grant of this request.
func deviceAuthorizationOf(ctx context.Context, req any) (storage.DeviceAuthorization, bool) {
	st, ok := req.(*zop.DeviceAuthorizationState)
	if !ok {
		return storage.DeviceAuthorization{}, false
	}
	g, ok := ctx.Value(deviceGrantKey{}).(*deviceGrant)
	if !ok {
		return storage.DeviceAuthorization{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != st {
		return storage.DeviceAuthorization{}, false
	}
	return g.d, true
}

// checkDeviceToken prepares a device_code token request for zitadel, after
// checkClientRequest verified any credentials: zitadel's device grant reads
// client authentication from the Basic header only, so a verified
// client_secret in the body is moved there; a confidential client without
// credentials is refused before its device code is looked at (zitadel
// would poll first and refuse after); and the request gets its deviceGrant.
func (p *Provider) checkDeviceToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" || r.PostForm.Get("grant_type") != GrantDeviceCode {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" && r.PostForm.Get("client_secret") == "" {
			if _, e, status := p.publicClient(r); e != nil {
				writeProtocolError(w, status, e)
				return
			}
		}
		if secret := r.PostForm.Get("client_secret"); secret != "" && r.Header.Get("Authorization") == "" {
			id := r.PostForm.Get("client_id")
			r = r.Clone(r.Context())
			r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			for _, f := range []map[string][]string{r.Form, r.PostForm} {
				delete(f, "client_secret")
			}
		}
		ctx := context.WithValue(r.Context(), deviceGrantKey{}, &deviceGrant{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

var _ zop.DeviceAuthorizationStorage = (*store)(nil)

// deviceView is the client zitadel sees. zitadel's device token exchange
// calls every client but a native one confidential and demands its
// authentication, so a public client (a command-line tool, which has no
// redirect URIs to make it native) is shown as native there. Elsewhere
// the client is unchanged.
func deviceView(ctx context.Context, c *client) zop.Client {
	if _, ok := ctx.Value(deviceGrantKey{}).(*deviceGrant); ok && c.c.Public {
		return nativeClient{c}
	}
	return c
}

type nativeClient struct{ *client }

func (nativeClient) ApplicationType() zop.ApplicationType { return zop.ApplicationTypeNative }

// deviceClaims adds to a device grant's ID token what zitadel adds only
// for an authorization request: the session's sid and the acr of the
// authentication (authRequest.GetACR's rule).
func deviceClaims(info *oidc.UserInfo, d storage.DeviceAuthorization) {
	if d.SID != "" {
		info.AppendClaims(ClaimSessionID, d.SID)
	}
	acr := storage.ACRPassword
	if slices.Contains(d.AMR, storage.AMRMFA) {
		acr = storage.ACRMFA
	}
	info.AppendClaims("acr", acr)
}
