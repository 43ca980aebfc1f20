package op

import (
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

// Request checks that run before zitadel parses a request. zitadel reads
// r.Form, which merges the query string into the body, accepts any method,
// and answers a malformed query with a 500; these checks make every
// endpoint refuse what the specifications forbid, with a 4xx.

// maxParamLen bounds any single request parameter; oversized input gets a
// 4xx, never a 5xx or an echo of it.
const maxParamLen = 4096

// maxAuthRequestBytes bounds what one pending authorization request stores
// (state, nonce, redirect_uri, scopes, login_hint, code_challenge, prompt,
// acr_values, ui_locales together): an anonymous client can create them,
// so each must be small.
const maxAuthRequestBytes = 4096

// formError names what is wrong with a request's parameters.
type formError int

const (
	formOK formError = iota
	formUnparsable
	formRepeated
	formTooLong
)

// checkForm parses r's form and checks that no parameter is repeated
// (RFC 6749 §3.1, §3.2; r.Form holds the query and the body together, so a
// name in both counts as repeated) and none is longer than limit(name).
func checkForm(r *http.Request, limit func(name string) int) formError {
	if err := r.ParseForm(); err != nil {
		return formUnparsable
	}
	for name, v := range r.Form {
		if len(v) > 1 {
			return formRepeated
		}
		if len(name) > maxParamLen || len(v[0]) > limit(name) {
			return formTooLong
		}
	}
	return formOK
}

func anyParam(string) int { return maxParamLen }

// checkAuthorizeParams rejects repeated parameters (RFC 6749 §3.1) and
// oversized ones before zitadel parses the request. The redirect URI is not
// validated yet, so the answer is a page, not a redirect.
func (p *Provider) checkAuthorizeParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			p.cfg.ErrorPage(w, r, http.StatusMethodNotAllowed, "error.authorize.invalid_request")
			return
		}
		if checkForm(r, anyParam) != formOK {
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, "error.authorize.invalid_request")
			return
		}
		next.ServeHTTP(w, withDPoPJKTParam(r))
	})
}

// authRequestSize is what a pending authorization request would store of
// the client's input.
func authRequestSize(req *oidc.AuthRequest) int {
	n := len(req.State) + len(req.Nonce) + len(req.RedirectURI) + len(req.LoginHint) +
		len(req.CodeChallenge) + len(req.CodeChallengeMethod) + len(req.ClientID)
	for _, list := range [][]string{req.Scopes, req.Prompt, req.ACRValues} {
		for _, s := range list {
			n += len(s)
		}
	}
	for _, tag := range req.UILocales {
		n += len(tag.String())
	}
	return n
}

// authRequestFits reports whether req may be stored; see maxAuthRequestBytes.
func authRequestFits(req *oidc.AuthRequest) bool {
	return authRequestSize(req) <= maxAuthRequestBytes
}

// validS256Challenge: an S256 code_challenge is BASE64URL(SHA-256), 43
// characters without padding (RFC 7636 §4.2).
func validS256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// --- token, introspection, revocation ---

// checkClientRequest admits only what RFC 6749 §3.2 and RFC 9700 §4.3.2
// allow at the endpoints where a client authenticates: POST, every
// parameter in the body (none in the URL, so no secret or token lands in
// an access log), each once, one authentication method. A client that
// authenticates is checked here, before zitadel, so a failed HTTP Basic
// authentication is a 401 invalid_client (with the Basic challenge) on
// every endpoint, and a client is known before any grant is looked at.
func (p *Provider) checkClientRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A bare client_id is left to zitadel.
		if _, r, ok := p.admitClient(w, r); ok {
			next.ServeHTTP(w, r)
		}
	})
}

// admitClient runs what every client endpoint checks first: POST, the
// form (clientRequestError) and the client's authentication by any of its
// methods (clientauth.go); a client that signed a JWT assertion is handed
// on to zitadel as an authenticated one (handOn). The result is zero for a
// bare client_id. ok is false when the answer is written.
func (p *Provider) admitClient(w http.ResponseWriter, r *http.Request) (authenticatedClient, *http.Request, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProtocolError(w, http.StatusMethodNotAllowed, oidc.ErrInvalidRequest().WithDescription("use POST with the parameters in the body"))
		return authenticatedClient{}, r, false
	}
	if e, status := p.clientRequestError(r); e != nil {
		writeProtocolError(w, status, e)
		return authenticatedClient{}, r, false
	}
	ac, e, status := p.authenticateRequest(r, p.endpointURL(r.URL.Path))
	if e != nil {
		writeProtocolError(w, status, e)
		return authenticatedClient{}, r, false
	}
	if ac.method == storage.AuthMethodSecretJWT || ac.method == storage.AuthMethodPrivateKeyJWT {
		r = handOn(r, ac.client.ID)
	}
	return ac, r, true
}

// clientRequestError checks a POST to a client endpoint; nil if it may go on.
func (p *Provider) clientRequestError(r *http.Request) (*oidc.Error, int) {
	if r.URL.RawQuery != "" {
		return oidc.ErrInvalidRequest().WithDescription("parameters must be in the request body, not the URL"), http.StatusBadRequest
	}
	switch checkForm(r, anyParam) {
	case formUnparsable:
		return oidc.ErrInvalidRequest().WithDescription("the request body could not be parsed"), http.StatusBadRequest
	case formRepeated:
		return oidc.ErrInvalidRequest().WithDescription("a parameter is repeated"), http.StatusBadRequest
	case formTooLong:
		return oidc.ErrInvalidRequest().WithDescription("a parameter is too long"), http.StatusBadRequest
	}
	return nil, 0
}

// --- userinfo ---

// checkUserinfo keeps access tokens out of URLs (RFC 9700 §4.3.2; RFC 6750
// §2.3 only tolerates it): a query access_token is refused with 401 and a
// Bearer challenge naming invalid_request. A form-encoded body parameter on
// POST stays allowed (RFC 6750 §2.2): it does not end up in logs or
// browser history. Two ways at once are refused (RFC 6750 §2).
func (p *Provider) checkUserinfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeProtocolError(w, http.StatusMethodNotAllowed, oidc.ErrInvalidRequest().WithDescription("use GET or POST"))
			return
		}
		refuse := func(desc string) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="satupintu", error="invalid_request", error_description="`+desc+`"`)
			writeProtocolError(w, http.StatusUnauthorized, oidc.ErrInvalidRequest().WithDescription("%s", desc))
		}
		if r.URL.Query().Has("access_token") {
			refuse("access tokens are not accepted in the URL")
			return
		}
		if checkForm(r, anyParam) != formOK {
			refuse("the request could not be parsed")
			return
		}
		header := r.Header.Get("Authorization")
		if header != "" && r.PostForm.Has("access_token") {
			refuse("send the access token one way only")
			return
		}
		if header == "" && r.PostForm.Get("access_token") == "" {
			// No credentials: a challenge without an error code (RFC 6750 §3.1).
			w.Header().Set("WWW-Authenticate", `Bearer realm="satupintu"`)
		}
		next.ServeHTTP(w, r)
	})
}

// --- end_session ---

// endSessionLimits caps the logout parameters. state and the redirect URI
// are kept with the pending logout (login.StartLogout); the others are read
// once. A bigger value is a 400 page, never stored.
var endSessionLimits = map[string]int{
	"id_token_hint":            8192,
	"post_logout_redirect_uri": 2048,
	"state":                    1024,
	"client_id":                256,
	"logout_hint":              256,
	"ui_locales":               64,
}

func endSessionLimit(name string) int {
	if n, ok := endSessionLimits[name]; ok {
		return n
	}
	return maxParamLen
}

// checkEndSession answers a malformed logout request (an unparsable query
// such as state=%zz, a repeated or oversized parameter) with a 400 page;
// zitadel would answer 500.
func (p *Provider) checkEndSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			p.cfg.ErrorPage(w, r, http.StatusMethodNotAllowed, keyLogoutInvalid)
			return
		}
		if checkForm(r, endSessionLimit) != formOK {
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, keyLogoutInvalid)
			return
		}
		next.ServeHTTP(w, r)
	})
}
