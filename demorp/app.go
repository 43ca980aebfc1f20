// Package demorp is the demo relying party for satupintu: a small web app
// that signs users in with OpenID Connect (authorization code flow, PKCE S256,
// state and nonce, client_secret_basic) and shows what the provider returned —
// ID token claims, the userinfo response and the `organization` claim — so
// integrators can see a working client and browser tests have a target.
//
// One process serves several apps, each on its own listener, so single
// sign-on between "different" applications can be demonstrated on one
// machine. For each app the provider must have registered
//
//	redirect URI:             ExternalURL + "/callback"
//	post-logout redirect URI: ExternalURL + "/"
//	backchannel logout URI:   ExternalURL + BackchannelLogoutPath (optional)
//
// It is built on zitadel/oidc's pkg/client/rp, the library RP developers are
// pointed to in the README.
package demorp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// App is one demo client application. Its JSON form is the format of the
// demo clients file the provider writes on first start.
type App struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Addr is the listen address, e.g. "localhost:8081".
	Addr string `json:"addr"`
	// ExternalURL is the app's origin as the browser sees it, e.g.
	// "http://localhost:8081". Empty means "http://" + Addr.
	ExternalURL string `json:"external_url,omitempty"`
	// Accounts exist in the app before single sign-on; the provider's
	// account linking checks them at AccountLinkPath.
	Accounts []Account `json:"accounts,omitempty"`
}

// RedirectURI is the URI to register at the provider as the app's redirect URI.
func (a App) RedirectURI() string { return a.ExternalURL + "/callback" }

// PostLogoutRedirectURI is the URI to register at the provider as the app's
// post-logout redirect URI.
func (a App) PostLogoutRedirectURI() string { return a.ExternalURL + "/" }

// withDefaults fills ExternalURL from Addr and drops a trailing slash, so the
// redirect URIs derived from it match the registered ones exactly (the
// provider compares redirect URIs byte for byte).
func (a App) withDefaults() App {
	if a.ExternalURL == "" && a.Addr != "" {
		host, port, err := net.SplitHostPort(a.Addr)
		if err == nil {
			if host == "" {
				host = "localhost"
			}
			a.ExternalURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	a.ExternalURL = strings.TrimSuffix(a.ExternalURL, "/")
	return a
}

// Validate reports every problem with the app at once, as it will be served
// (an empty ExternalURL derived from Addr).
func (a App) Validate() error {
	a = a.withDefaults()
	errs := a.validateClient()
	if a.Addr == "" {
		errs = append(errs, errors.New("addr is required"))
	} else if _, port, err := net.SplitHostPort(a.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q is not host:port", a.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("addr %q has a bad port", a.Addr))
	}
	return errors.Join(errs...)
}

// validateClient checks what a handler needs; the listen address is only
// needed by Run (under httptest the test owns the listener).
func (a App) validateClient() []error {
	var errs []error
	if strings.TrimSpace(a.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if a.ClientID == "" {
		errs = append(errs, errors.New("client_id is required"))
	}
	if a.ClientSecret == "" {
		errs = append(errs, errors.New("client_secret is required"))
	}
	if err := checkExternalURL(a.ExternalURL); err != nil {
		errs = append(errs, err)
	}
	for i, acc := range a.Accounts {
		if strings.TrimSpace(acc.Username) == "" || acc.Password == "" {
			errs = append(errs, fmt.Errorf("accounts[%d] needs a username and a password", i))
		}
	}
	return errs
}

// checkExternalURL accepts only an origin: the app mounts its routes at "/",
// so a path would produce redirect URIs the app does not serve.
func checkExternalURL(s string) error {
	if s == "" {
		return errors.New("external_url is required (or an addr to derive it from)")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("external_url %q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("external_url %q must start with http:// or https://", s)
	case u.Host == "":
		return fmt.Errorf("external_url %q has no host", s)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("external_url %q must be an origin only, like http://localhost:8081", s)
	}
	return nil
}

// LoadApps reads and validates a demo clients file.
func LoadApps(path string) ([]App, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("demo clients file: %w", err)
	}
	apps, err := ParseApps(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("demo clients file %s: %w", path, err)
	}
	return apps, nil
}

// ParseApps decodes a JSON array of apps, fills defaults and validates them,
// reporting every problem at once. Unknown fields are errors, so a misspelt
// key ("clientId") is caught instead of silently leaving a field empty.
func ParseApps(r io.Reader) ([]App, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var apps []App
	if err := dec.Decode(&apps); err != nil {
		return nil, jsonError(data, err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON array")
	}
	if len(apps) == 0 {
		return nil, errors.New("no apps: expected a JSON array with at least one app")
	}

	var errs []error
	addrs := map[string]int{}
	urls := map[string]int{}
	for i := range apps {
		apps[i] = apps[i].withDefaults()
		a := apps[i]
		label := fmt.Sprintf("app %d", i+1)
		if a.Name != "" {
			label += fmt.Sprintf(" (%q)", a.Name)
		}
		if err := a.Validate(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s: %w", label, e))
			}
		}
		// Two apps on one address cannot both listen; two on one URL would
		// share cookies and redirect URIs.
		if j, ok := addrs[a.Addr]; ok && a.Addr != "" {
			errs = append(errs, fmt.Errorf("%s: addr %q is also used by app %d", label, a.Addr, j+1))
		}
		addrs[a.Addr] = i
		if j, ok := urls[a.ExternalURL]; ok && a.ExternalURL != "" {
			errs = append(errs, fmt.Errorf("%s: external_url %q is also used by app %d", label, a.ExternalURL, j+1))
		}
		urls[a.ExternalURL] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return apps, nil
}

// jsonError adds a line and column to syntax and type errors: encoding/json
// only reports a byte offset.
func jsonError(data []byte, err error) error {
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	case errors.Is(err, io.EOF):
		return errors.New("file is empty: expected a JSON array of apps")
	default:
		return fmt.Errorf("invalid JSON: %w", err)
	}
	// Offset counts the offending byte itself.
	before := data[:min(int(offset), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n') - 1
	return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
}

// unjoin flattens an errors.Join result so each problem gets its own prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
