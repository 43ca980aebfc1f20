package main

import (
	"encoding/base32"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
	"satupintu/totp"
)

var (
	mfaSecret   = regexp.MustCompile(`<code id="mfa-secret">([A-Z2-7 ]+)</code>`)
	mfaContinue = regexp.MustCompile(`href="([^"]+)" id="recovery-saved"`)
	postAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// idToken exchanges an authorization response's code for app's ID token
// with the real relying-party library, which verifies it.
func (tp *testProvider) idToken(app string, f flow, q url.Values) *oidc.IDTokenClaims {
	tp.t.Helper()
	if q.Get("code") == "" {
		tp.t.Fatalf("no code in %v", q)
	}
	tok, err := rp.CodeExchange[*oidc.IDTokenClaims](tp.t.Context(), q.Get("code"), tp.relyingParty(app, f), rp.WithCodeVerifier(f.verifier))
	if err != nil {
		tp.t.Fatalf("code exchange for %s: %v", app, err)
	}
	return tok.IDTokenClaims
}

// passwordStep opens app's authorization request in b and submits the
// password; it returns the page the browser lands on (redirects inside the
// provider followed).
func (tp *testProvider) passwordStep(b *browser, app string, f flow, extra ...string) (*http.Response, string) {
	tp.t.Helper()
	resp, page := b.get(tp.authURL(app, f, extra...))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		tp.t.Fatalf("expected the sign-in form, got %d:\n%s", resp.StatusCode, page)
	}
	form := formFields(tp.t, page)
	form.Set("username", tp.user.Username)
	form.Set("password", tp.password)
	return b.post(tp.issuer+"/login", form)
}

// submitStep posts code to the form of the second step's page.
func (tp *testProvider) submitStep(b *browser, page, code string) (*http.Response, string) {
	tp.t.Helper()
	m := postAction.FindStringSubmatch(page)
	if m == nil {
		tp.t.Fatalf("no form on:\n%s", page)
	}
	form := formFields(tp.t, page)
	form.Set("code", code)
	return b.post(tp.issuer+html.UnescapeString(m[1]), form)
}

func TestMFAEndToEnd(t *testing.T) {
	tp := newTestProvider(t)
	ctx := t.Context()
	tp.addClient("customs", false, storage.GrantAuthorizationCode)
	if err := tp.durable.UpdateClient(ctx, "customs", func(c *storage.Client) error {
		c.RequireMFA = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("discovery advertises the classes", func(t *testing.T) {
		resp, err := http.Get(tp.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d struct {
			ACR    []string `json:"acr_values_supported"`
			Claims []string `json:"claims_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.ACR, []string{"urn:satupintu:acr:pwd", "urn:satupintu:acr:mfa"}) || !slices.Contains(d.Claims, "acr") {
			t.Fatalf("acr_values_supported %v, claims_supported %v", d.ACR, d.Claims)
		}
	})

	t.Run("unknown acr_values are ignored, the password alone gives the pwd class", func(t *testing.T) {
		f := newFlow()
		q := tp.signIn(tp.newBrowser(), "app-one", f, "acr_values", "urn:example:gold urn:mace:incommon:iap:silver")
		c := tp.idToken("app-one", f, q)
		if c.AuthenticationContextClassReference != storage.ACRPassword || !slices.Equal(c.AuthenticationMethodsReferences, []string{"pwd"}) {
			t.Fatalf("acr %q amr %v", c.AuthenticationContextClassReference, c.AuthenticationMethodsReferences)
		}
	})

	// A password-only session, to see it refused below.
	b := tp.newBrowser()
	tp.signIn(b, "app-one", newFlow())

	t.Run("prompt=none with a password-only session is login_required", func(t *testing.T) {
		for _, app := range []string{"customs", "app-one"} {
			f := newFlow()
			resp, _ := b.get(tp.authURL(app, f, "prompt", "none", "acr_values", storage.ACRMFA))
			if q := tp.redirectParams(resp, app); q.Get("error") != "login_required" {
				t.Fatalf("%s: %v", app, q)
			}
		}
	})

	var secret []byte
	t.Run("a client requiring MFA leads the user through enrolment", func(t *testing.T) {
		f := newFlow()
		resp, page := b.get(tp.authURL("customs", f))
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("the password-only session answered a client requiring MFA: %d %s", resp.StatusCode, resp.Request.URL)
		}
		form := formFields(t, page)
		form.Set("username", tp.user.Username)
		form.Set("password", tp.password)
		resp, page = b.post(tp.issuer+"/login", form)
		m := mfaSecret.FindStringSubmatch(page)
		if resp.Request.URL.Path != "/login/mfa" || m == nil {
			t.Fatalf("after the password: %s\n%s", resp.Request.URL, page)
		}
		var err error
		secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		resp, page = tp.submitStep(b, page, totp.Code(secret, tp.clock.Now()))
		next := mfaContinue.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || next == nil || !strings.Contains(page, "<code>") {
			t.Fatalf("no recovery codes page: %d\n%s", resp.StatusCode, page)
		}
		resp, _ = b.get(tp.issuer + html.UnescapeString(next[1]))
		c := tp.idToken("customs", f, tp.redirectParams(resp, "customs"))
		if c.AuthenticationContextClassReference != storage.ACRMFA {
			t.Errorf("acr %q, want %s", c.AuthenticationContextClassReference, storage.ACRMFA)
		}
		if amr := c.AuthenticationMethodsReferences; !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") || !slices.Contains(amr, "pwd") {
			t.Errorf("amr %v", amr)
		}
		u, err := tp.durable.UserByID(ctx, tp.user.ID)
		if err != nil || !u.MFAEnrolled() || len(u.RecoveryCodes) != totp.RecoveryCodeCount {
			t.Fatalf("user after enrolment: %+v %v", u, err)
		}
	})
	if secret == nil {
		t.FailNow()
	}

	t.Run("the MFA session serves single sign-on with the mfa class", func(t *testing.T) {
		f := newFlow()
		resp, _ := b.get(tp.authURL("app-two", f))
		c := tp.idToken("app-two", f, tp.redirectParams(resp, "app-two"))
		if c.AuthenticationContextClassReference != storage.ACRMFA {
			t.Fatalf("acr %q", c.AuthenticationContextClassReference)
		}
	})

	t.Run("an enrolled user is asked for a code, acr_values asking for mfa", func(t *testing.T) {
		tp.clock.Advance(totp.Period) // the enrolment used this step's code
		b2 := tp.newBrowser()
		f := newFlow()
		resp, page := tp.passwordStep(b2, "app-one", f, "acr_values", "urn:satupintu:acr:mfa urn:example:other")
		if resp.Request.URL.Path != "/login/mfa" || !strings.Contains(page, `autocomplete="one-time-code"`) {
			t.Fatalf("after the password: %s\n%s", resp.Request.URL, page)
		}
		resp, page = tp.submitStep(b2, page, totp.Code(secret, tp.clock.Now()))
		c := tp.idToken("app-one", f, tp.redirectParams(resp, "app-one"))
		if c.AuthenticationContextClassReference != storage.ACRMFA || !slices.Contains(c.AuthenticationMethodsReferences, "otp") {
			t.Fatalf("acr %q amr %v (page %s)", c.AuthenticationContextClassReference, c.AuthenticationMethodsReferences, page)
		}
	})

}
