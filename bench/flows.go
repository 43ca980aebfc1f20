package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"satupintu/storage"
)

// browser is one person's cookie jar: the SSO session lives in it. app
// is the relying party it signs in to.
type browser struct {
	t      *Target
	app    Client
	client *http.Client
}

// newBrowser makes a browser that follows the provider's redirects and
// stops at app's redirect URI, whose query holds the code.
func (t *Target) newBrowser(app Client) *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &browser{t: t, app: app, client: &http.Client{
		Jar:       jar,
		Transport: t.transport,
		Timeout:   requestTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if app.RedirectURI != "" && strings.HasPrefix(req.URL.String(), app.RedirectURI) {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		},
	}}
}

// pkce is one authorization request's secrets.
type pkce struct{ state, nonce, verifier string }

func newPKCE() pkce {
	return pkce{state: storage.NewID(), nonce: storage.NewID(), verifier: storage.NewID() + storage.NewID()}
}

func (p pkce) challenge() string {
	sum := sha256.Sum256([]byte(p.verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL asks for the code client's usual scopes, with
// offline_access so the exchange also yields a refresh token.
func (b *browser) authorizeURL(p pkce) string {
	q := url.Values{
		"client_id": {b.app.ID}, "redirect_uri": {b.app.RedirectURI}, "response_type": {"code"},
		"scope": {"openid profile email organization offline_access"}, "state": {p.state}, "nonce": {p.nonce},
		"code_challenge": {p.challenge()}, "code_challenge_method": {"S256"},
	}
	return b.t.URL + "/authorize?" + q.Encode()
}

// codeFrom reads the code of a redirect to the relying party.
func (b *browser) codeFrom(resp *http.Response, p pkce) (string, error) {
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("authorize: status %d, want a redirect to the application", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), b.app.RedirectURI) {
		return "", fmt.Errorf("authorize: redirected to %q, not the application", resp.Header.Get("Location"))
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorize: %s", e)
	}
	if q.Get("state") != p.state || q.Get("code") == "" {
		return "", errors.New("authorize: no code or the wrong state")
	}
	return q.Get("code"), nil
}

var hiddenField = regexp.MustCompile(`name="(csrf_token|authRequestID)"\s+value="([^"]*)"`)

// signIn goes through the real sign-in form and returns the code.
func (b *browser) signIn(ctx context.Context, p pkce) (string, error) {
	resp, page, err := b.get(ctx, b.authorizeURL(p))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		return "", fmt.Errorf("sign-in form: status %d", resp.StatusCode)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("username", b.t.User)
	form.Set("password", b.t.Password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.t.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = b.client.Do(req)
	if err != nil {
		return "", err
	}
	drain(resp)
	return b.codeFrom(resp, p)
}

// ssoCode runs /authorize with the session the browser holds.
func (b *browser) ssoCode(ctx context.Context, p pkce) (string, error) {
	resp, _, err := b.get(ctx, b.authorizeURL(p))
	if err != nil {
		return "", err
	}
	return b.codeFrom(resp, p)
}

func (b *browser) get(ctx context.Context, u string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	return b.do(req)
}

// do sends req and reads the page it ends on.
func (b *browser) do(req *http.Request) (*http.Response, string, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(body), err
}

// tokens is a token endpoint answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

// token posts form to the token endpoint as client.
func (t *Target) token(ctx context.Context, client Client, form url.Values) (tokens, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", client.basic())
	resp, err := t.http.Do(req)
	if err != nil {
		return tokens{}, err
	}
	defer resp.Body.Close()
	var tk tokens
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tk); err != nil {
		return tokens{}, fmt.Errorf("token: status %d, not JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return tk, fmt.Errorf("token: status %d %s", resp.StatusCode, tk.Error)
	}
	return tk, nil
}

// exchange redeems code for app's tokens.
func (t *Target) exchange(ctx context.Context, app Client, code string, p pkce) (tokens, error) {
	tk, err := t.token(ctx, app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {app.RedirectURI}, "code_verifier": {p.verifier}})
	if err == nil && tk.IDToken == "" {
		err = errors.New("token: no ID token")
	}
	return tk, err
}

// signedInTokens signs a new browser in to app and returns it with its
// tokens.
func (t *Target) signedInTokens(ctx context.Context, app Client) (*browser, tokens, error) {
	b := t.newBrowser(app)
	p := newPKCE()
	code, err := b.signIn(ctx, p)
	if err != nil {
		return nil, tokens{}, err
	}
	tk, err := t.exchange(ctx, app, code, p)
	return b, tk, err
}

// signedInAs is signedInTokens for the code client whose ID tokens are
// signed with alg (codeClient); a target that signs them with another
// algorithm cannot run the scenario.
func (t *Target) signedInAs(ctx context.Context, alg string) (*browser, tokens, error) {
	b, tk, err := t.signedInTokens(ctx, t.codeClient(alg))
	if err != nil {
		return nil, tk, err
	}
	if got := jwtAlg(tk.IDToken); got != alg {
		return nil, tk, unavailable(fmt.Sprintf("the code client's ID tokens are signed with %s, not %s", got, alg))
	}
	return b, tk, nil
}

// jwtAlg is the alg of a compact JWS's header, "" if it has none.
func jwtAlg(token string) string {
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// requestTimeout bounds one request: a stuck server shows as errors, not
// as a bench that never ends.
const requestTimeout = 30 * time.Second
