package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Provider is one upstream OpenID provider the operator configured: the
// national digital identity (INApas) or any other that speaks the OIDC code
// flow. It is read from a JSON file (ReadFile).
type Provider struct {
	// ID names the provider in URLs, links and the audit log; it must never
	// change once people linked identities to it.
	ID     string `json:"id"`
	Issuer string `json:"issuer"`
	// ClientID and how satupintu authenticates at the upstream's token
	// endpoint: ClientSecret (or ClientSecretFile), or private_key_jwt with
	// PrivateKeyFile (PEM with KeyID, or a JWK whose kid it carries).
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	PrivateKeyFile   string `json:"private_key_file,omitempty"`
	KeyID            string `json:"key_id,omitempty"`
	// Scopes asked for; openid is always among them. Default: openid profile.
	Scopes []string `json:"scopes,omitempty"`
	// Label is the name the sign-in page shows ("Masuk dengan <Label>").
	Label string `json:"label"`
	// LogoURL is an https image (at most 32 KiB) or a path on this service.
	LogoURL string `json:"logo_url,omitempty"`
	// NIKClaim is the ID token claim holding the national identity number,
	// which prefills a registration (default "nik").
	NIKClaim string `json:"nik_claim,omitempty"`
	// MFAACRValues are acr values of the upstream that mean a second factor
	// was used; an amr containing "mfa" counts too (RFC 8176).
	MFAACRValues []string `json:"mfa_acr_values,omitempty"`

	secret []byte // the private key file's contents, read at load
}

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ReadFile reads and validates the providers file (SATUPINTU_UPSTREAMS_FILE):
// a JSON array of Provider. Secret and key files named in it are read now,
// so a bad one stops the start rather than the first sign-in. allowHTTP
// permits http issuers on loopback (development, tests).
func ReadFile(path string, allowHTTP bool) ([]Provider, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt setting is an error, not a silent default
	var ps []Provider
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("not a JSON array of providers: %w", err)
	}
	if err := Validate(ps, allowHTTP); err != nil {
		return nil, err
	}
	return ps, nil
}

// Validate checks every provider, fills defaults and reads the secret and
// key files; it reports every problem at once.
func Validate(ps []Provider, allowHTTP bool) error {
	var problems []string
	bad := func(i int, p Provider, format string, args ...any) {
		name := p.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		problems = append(problems, fmt.Sprintf("provider %s: ", name)+fmt.Sprintf(format, args...))
	}
	seen := map[string]bool{}
	for i := range ps {
		p := &ps[i]
		if !providerID.MatchString(p.ID) {
			bad(i, *p, "id %q must be 1-32 of a-z, 0-9 and -", p.ID)
		} else if seen[p.ID] {
			bad(i, *p, "id is used twice")
		}
		seen[p.ID] = true
		// Discovery then checks that the provider names itself exactly so
		// (OIDC Discovery §4.3).
		if err := checkURL(p.Issuer, allowHTTP); err != nil {
			bad(i, *p, "issuer: %v", err)
		}
		if p.ClientID == "" {
			bad(i, *p, "client_id is required")
		}
		if p.ClientSecretFile != "" {
			if p.ClientSecret != "" {
				bad(i, *p, "set client_secret or client_secret_file, not both")
			} else if b, err := os.ReadFile(p.ClientSecretFile); err != nil {
				bad(i, *p, "client_secret_file: %v", err)
			} else {
				p.ClientSecret = strings.TrimSpace(string(b))
			}
		}
		switch {
		case p.ClientSecret == "" && p.PrivateKeyFile == "":
			bad(i, *p, "set client_secret (or client_secret_file) or private_key_file")
		case p.ClientSecret != "" && p.PrivateKeyFile != "":
			bad(i, *p, "set client_secret or private_key_file, not both")
		case p.PrivateKeyFile != "":
			b, err := os.ReadFile(p.PrivateKeyFile)
			if err == nil {
				_, err = newSigner(b, p.KeyID)
			}
			if err != nil {
				bad(i, *p, "private_key_file: %v", err)
			}
			p.secret = b
		}
		if strings.TrimSpace(p.Label) == "" || len(p.Label) > 64 {
			bad(i, *p, "label is required, at most 64 bytes")
		}
		if p.LogoURL != "" && !strings.HasPrefix(p.LogoURL, "/") {
			if err := checkURL(p.LogoURL, allowHTTP); err != nil {
				bad(i, *p, "logo_url: %v", err)
			}
		} else if strings.HasPrefix(p.LogoURL, "//") {
			bad(i, *p, "logo_url must be https or a path on this service")
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "profile"}
		} else if !slices.Contains(p.Scopes, "openid") {
			p.Scopes = append([]string{"openid"}, p.Scopes...)
		}
		if p.NIKClaim == "" {
			p.NIKClaim = "nik"
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkURL accepts an absolute https URL without fragment, or http on
// loopback when allowHTTP.
func checkURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.Fragment != "" || u.RawQuery != "":
		return fmt.Errorf("%q must have no query or fragment", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowHTTP && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https", s)
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
