package op

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/quota"
	"satupintu/storage"
)

// Pushed Authorization Requests (RFC 9126). A client POSTs the parameters
// of an authorization request to /par, authenticating as at the token
// endpoint; they are checked as /authorize would check them and kept in
// the ephemeral store for a minute under a random request_uri. /authorize
// then takes them once: the browser carries only client_id and the
// request_uri, so the parameters cannot be read or changed on the way.

// requestURIPrefix is RFC 9126 §2.2's URN prefix.
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// maxPushedBytes bounds what one pushed request stores (its parameters
// are each at most maxParamLen, and checked as a whole by authRequestFits).
const maxPushedBytes = 8 << 10

// pushedRequest is what /par stores under a request_uri.
type pushedRequest struct {
	ClientID string     `json:"client_id"`
	Params   url.Values `json:"params"`
	Expires  time.Time  `json:"exp"`
}

// pushedKey is the ephemeral key of a request_uri's random part: its hash,
// so the store holds nothing a reader could present.
func pushedKey(random string) string {
	sum := sha256.Sum256([]byte(random))
	return "par:" + hex.EncodeToString(sum[:])
}

// pushedKeyCtx marks an authorization request that arrived pushed, so a
// client that requires PAR is let through (authorizer.ValidateAuthRequest).
type pushedKeyCtx struct{}

func isPushed(ctx context.Context) bool {
	v, _ := ctx.Value(pushedKeyCtx{}).(bool)
	return v
}

// clientAuthParams are /par parameters that authenticate the client and
// are not part of the authorization request.
var clientAuthParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// servePAR answers POST /par (RFC 9126 §2).
func (a *authorizer) servePAR(w http.ResponseWriter, r *http.Request) {
	p := a.p
	// The client authenticates as at the token endpoint; without
	// credentials only a public client may push, naming itself.
	ac, r, ok := p.admitClient(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if ac.method == "" {
		c, e, status := p.publicClient(r)
		if e != nil {
			writeProtocolError(w, status, e)
			return
		}
		ac = authenticatedClient{client: c, method: storage.AuthMethodNone}
	}
	form := r.PostForm
	// RFC 9126 §2.1: a request_uri inside a pushed request is refused;
	// request objects are not offered.
	if form.Has("request_uri") || form.Has("request") {
		writeProtocolError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("request_uri and request are not accepted here"))
		return
	}
	params := url.Values{}
	for name, v := range form {
		params[name] = v
	}
	for _, name := range clientAuthParams {
		params.Del(name)
	}
	params.Set("client_id", ac.client.ID) // authenticated by Basic or an assertion: may be absent
	if admit := p.cfg.AdmitAuthRequest; admit != nil && ac.method == storage.AuthMethodNone {
		// A public client pushes anonymously, and its pushed request is
		// stored like a pending authorization request: the same quota. An
		// authenticated client pushes from its own server for all its
		// users, so one address's allowance would stop them all; its
		// requests are counted once, at /authorize, by the browser's
		// address.
		if err := admit(r); err != nil {
			if errors.Is(err, quota.ErrExceeded) {
				writeProtocolError(w, http.StatusTooManyRequests, oidc.ErrInvalidRequest().WithDescription("too many requests; try again later"))
				return
			}
			p.store.unavailable(ctx, "admit pushed request", err)
			writeProtocolError(w, http.StatusServiceUnavailable, Unavailable())
			return
		}
	}
	if e := a.validatePushed(context.WithValue(ctx, pushedKeyCtx{}, true), params); e != nil {
		writeProtocolError(w, http.StatusBadRequest, e)
		return
	}
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand documents it)
	random := base64.RawURLEncoding.EncodeToString(b[:])
	lifetime := p.cfg.PARLifetime
	body, err := json.Marshal(pushedRequest{ClientID: ac.client.ID, Params: params, Expires: p.store.now().Add(lifetime)})
	if err != nil || len(body) > maxPushedBytes {
		writeProtocolError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the authorization request is too large"))
		return
	}
	if err := p.store.ephemeral.PutOnce(ctx, pushedKey(random), body, lifetime); err != nil {
		p.store.unavailable(ctx, "store pushed request", err)
		writeProtocolError(w, http.StatusServiceUnavailable, Unavailable())
		return
	}
	httphelper.MarshalJSONWithStatus(w, struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}{requestURIPrefix + random, int(lifetime / time.Second)}, http.StatusCreated)
}

// validatePushed checks pushed parameters as /authorize checks them
// (zitadel's parsing, then authorizer.ValidateAuthRequest) and returns the
// error to answer, never a redirect.
func (a *authorizer) validatePushed(ctx context.Context, params url.Values) *oidc.Error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/authorize?"+params.Encode(), nil)
	if err != nil {
		return oidc.ErrInvalidRequest()
	}
	req, err := zop.ParseAuthorizeRequest(r, a.Decoder())
	if err == nil && req.RedirectURI == "" {
		err = oidc.ErrInvalidRequest().WithDescription("redirect_uri is required")
	}
	if err == nil {
		_, err = a.ValidateAuthRequest(ctx, req, a.p.store, a.IDTokenHintVerifier(ctx))
	}
	if err == nil {
		err = zop.ValidateAuthReqCodeChallengeMethod(req.CodeChallenge, req.CodeChallengeMethod)
	}
	if err == nil {
		return nil
	}
	var e *oidc.Error
	if !errors.As(err, &e) {
		return oidc.ErrInvalidRequest()
	}
	if isUnavailable(err) {
		return e // the guard answers 503 from the recorded outcome
	}
	out := &oidc.Error{ErrorType: e.ErrorType, Description: e.Description}
	if strings.Contains(strings.ToLower(e.Description), "redirect") || e.ErrorType == "" {
		out.ErrorType = oidc.InvalidRequest
	}
	return out
}

// pushedAuthorize serves /authorize with a request_uri (RFC 9126 §4): the
// stored parameters, taken once, replace the request's; other parameters
// than client_id and request_uri are ignored. A request_uri that is
// unknown, expired, used, or pushed by another client is a page, never a
// redirect: which redirect URI could be trusted is not known.
func (p *Provider) pushedAuthorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uri := r.Form.Get("request_uri") // the form is parsed by checkAuthorizeParams
		if uri == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		random, ok := strings.CutPrefix(uri, requestURIPrefix)
		if !ok || random == "" || r.Form.Get("client_id") == "" {
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.invalid_request")
			return
		}
		body, err := p.store.ephemeral.TakeOnce(ctx, pushedKey(random))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.store.unavailable(ctx, "take pushed request", err) // the page guard answers 503
			return
		}
		var pr pushedRequest
		if err != nil || json.Unmarshal(body, &pr) != nil || !p.store.now().Before(pr.Expires) {
			p.cfg.Logger.InfoContext(ctx, "authorize with an unknown or expired request_uri")
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.expired")
			return
		}
		// Taken before this check, so a request_uri that leaked to another
		// client is spent, not left for a second try.
		if id := r.Form.Get("client_id"); id != pr.ClientID {
			p.cfg.Logger.InfoContext(ctx, "request_uri presented by another client", "client_id", truncate(id, 64))
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.invalid_request")
			return
		}
		pushed := r.Clone(context.WithValue(ctx, pushedKeyCtx{}, true))
		pushed.Method = http.MethodGet
		pushed.Body = http.NoBody
		pushed.URL.RawQuery = pr.Params.Encode()
		pushed.Form, pushed.PostForm = nil, nil
		// RFC 9449 §10: a pushed dpop_jkt binds the code as a direct one
		// does, and one added to the browser's URL counts for nothing
		// (nil: no binding).
		var jkt any
		if v, ok := pr.Params["dpop_jkt"]; ok && len(v) > 0 {
			jkt = v[0]
		}
		pushed = pushed.WithContext(context.WithValue(pushed.Context(), dpopJKTKey{}, jkt))
		next.ServeHTTP(w, pushed)
	})
}

// requirePAR refuses a client that must push its requests (RFC 9126 §6)
// when this one was not pushed; called once the redirect URI is checked.
func requirePAR(ctx context.Context, c zop.Client) error {
	sc, ok := c.(*client)
	if ok && sc.c.RequirePAR && !isPushed(ctx) {
		return oidc.ErrInvalidRequest().WithDescription("this client must use pushed authorization requests")
	}
	return nil
}
