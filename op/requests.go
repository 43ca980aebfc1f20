package op

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

// authRequest adapts storage.AuthRequest to zop.AuthRequest. code is set
// when it was loaded by its code, so the tokens it yields can be recorded
// against that code.
type authRequest struct {
	r    storage.AuthRequest
	code string
	sub  string // the sub its client receives for r.UserID (pairwise.go)
}

func (a *authRequest) GetID() string          { return a.r.ID }
func (a *authRequest) GetAMR() []string       { return a.r.AMR }
func (a *authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.r.AuthTime }
func (a *authRequest) GetClientID() string    { return a.r.ClientID }
func (a *authRequest) GetNonce() string       { return a.r.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.r.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.r.Scopes }
func (a *authRequest) GetState() string       { return a.r.State }
func (a *authRequest) GetSubject() string     { return a.sub }
func (a *authRequest) Done() bool             { return a.r.Done }
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.r.ResponseType)
}
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.ResponseMode)
}

// GetACR names the class of the authentication that completed the request,
// for the ID token's acr (OIDC Core §2): what the session's methods show,
// never merely what acr_values asked for.
func (a *authRequest) GetACR() string {
	if slices.Contains(a.r.AMR, storage.AMRMFA) {
		return storage.ACRMFA
	}
	return storage.ACRPassword
}

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{
		Challenge: a.r.CodeChallenge,
		Method:    oidc.CodeChallengeMethod(a.r.CodeChallengeMethod),
	}
}

func (a *authRequest) hasPrompt(p string) bool { return slices.Contains(a.r.Prompt, p) }

// maxUILocales is how many ui_locales a pending request keeps: the UI
// speaks two languages, so the first few preferences decide.
const maxUILocales = 3

// knownPrompts are the prompt values with a meaning here (OIDC Core
// §3.1.2.1, and create of Initiating User Registration 1.0).
var knownPrompts = []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount, storage.PromptCreate}

// trimAuthRequest drops what a pending request need not keep: repeated
// scopes, unknown or repeated prompt values, ui_locales beyond the first
// few. The response mode is always query by then (ValidateAuthRequest).
func trimAuthRequest(req *oidc.AuthRequest) {
	req.Scopes = dedupe(req.Scopes, nil)
	req.Prompt = dedupe(req.Prompt, knownPrompts)
	if len(req.UILocales) > maxUILocales {
		req.UILocales = req.UILocales[:maxUILocales]
	}
}

// dedupe keeps the first of each value, and only those in allowed if set.
func dedupe(in, allowed []string) []string {
	var out []string
	for _, v := range in {
		if (allowed == nil || slices.Contains(allowed, v)) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// newAuthRequest copies what satupintu keeps of a validated request. The
// response type is always code and the mode always query (the default for
// code, RFC 6749 §4.1.2), so the mode is not stored.
func newAuthRequest(in *oidc.AuthRequest, hintSubject string, now time.Time) storage.AuthRequest {
	r := storage.AuthRequest{
		ID:                  storage.NewID(),
		ClientID:            in.ClientID,
		RedirectURI:         in.RedirectURI,
		Scopes:              in.Scopes,
		State:               in.State,
		Nonce:               in.Nonce,
		ResponseType:        string(in.ResponseType),
		CodeChallenge:       in.CodeChallenge,
		CodeChallengeMethod: string(in.CodeChallengeMethod),
		Prompt:              in.Prompt,
		LoginHint:           in.LoginHint,
		HintSubject:         hintSubject,
		ACRValues:           in.ACRValues,
		CreatedAt:           now,
	}
	if in.MaxAge != nil {
		m := int64(*in.MaxAge)
		r.MaxAge = &m
	}
	for _, tag := range in.UILocales {
		r.UILocales = append(r.UILocales, tag.String())
	}
	return r
}

// clientCredentialsRequest is a client_credentials grant: the client is its own subject.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (c *clientCredentialsRequest) GetSubject() string    { return c.clientID }
func (c *clientCredentialsRequest) GetAudience() []string { return []string{c.clientID} }
func (c *clientCredentialsRequest) GetScopes() []string   { return c.scopes }

// refreshTokenRequest is a refresh_token grant for a stored token.
type refreshTokenRequest struct {
	rt     storage.RefreshToken
	scopes []string
	sub    string // the sub its client receives for rt.UserID
}

func (r *refreshTokenRequest) GetAMR() []string            { return r.rt.AMR }
func (r *refreshTokenRequest) GetAudience() []string       { return r.rt.Audience }
func (r *refreshTokenRequest) GetAuthTime() time.Time      { return r.rt.AuthTime }
func (r *refreshTokenRequest) GetClientID() string         { return r.rt.ClientID }
func (r *refreshTokenRequest) GetScopes() []string         { return r.scopes }
func (r *refreshTokenRequest) GetSubject() string          { return r.sub }
func (r *refreshTokenRequest) SetCurrentScopes(s []string) { r.scopes = s }
