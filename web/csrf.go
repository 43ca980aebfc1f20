package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gorilla/securecookie"
)

// CSRFField is the name of the hidden form field carrying the token.
const CSRFField = "csrf_token"

const csrfSecretLen = 32 // 256 bits from crypto/rand (ASVS 11.5.1 asks ≥ 128)

var b64 = base64.RawURLEncoding

// CSRF implements the synchronizer token pattern (ASVS 3.5.1): a random
// secret lives in an authenticated cookie, every form carries it, and every
// POST must present it. The cookie is HttpOnly, SameSite=Lax and, under
// https, Secure with the __Host- prefix, so a sibling subdomain cannot plant
// its own. Go's CrossOriginProtection (Sec-Fetch-Site / Origin) runs first as
// defence in depth.
type CSRF struct {
	codec  *securecookie.SecureCookie
	secure bool
	name   string
	origin *http.CrossOriginProtection
}

// NewCSRF returns a CSRF guard whose cookie is encoded with codec (keys from
// configuration). secure is true when the issuer is https.
func NewCSRF(codec *securecookie.SecureCookie, secure bool) *CSRF {
	name := "satupintu_csrf"
	if secure {
		name = "__Host-" + name
	}
	return &CSRF{codec: codec, secure: secure, name: name, origin: http.NewCrossOriginProtection()}
}

// Token returns the value for the csrf_token field of a form on the page
// being rendered, setting the cookie if r has no valid one. Call it once per
// response. The value is the secret masked with a fresh one-time pad, so it
// differs on every page and a compression side channel (BREACH) cannot
// recover it byte by byte.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	secret, ok := c.secret(r)
	if !ok {
		secret = make([]byte, csrfSecretLen)
		rand.Read(secret) // never returns an error (crypto/rand documents it)
		if v, err := c.codec.Encode(c.name, secret); err == nil {
			http.SetCookie(w, &http.Cookie{
				Name:     c.name,
				Value:    v,
				Path:     "/",
				Secure:   c.secure,
				HttpOnly: true,
				SameSite: http.SameSiteLaxMode,
			})
		}
		// With an encoding error the form simply fails Verify: a 403
		// page, never a bypass.
	}
	pad := make([]byte, csrfSecretLen)
	rand.Read(pad)
	out := make([]byte, 2*csrfSecretLen)
	copy(out, pad)
	for i := range secret {
		out[csrfSecretLen+i] = pad[i] ^ secret[i]
	}
	return b64.EncodeToString(out)
}

// Verify checks a state-changing request: it must not come from another
// origin, and its csrf_token field must match the cookie (constant-time
// compare). The form is parsed first (ParseForm), so a body that is too
// large or no form is a 413 or 400 page, not a 403 or a 500, whether or
// not the handler parsed it already. A failed check is a 403 *Error showing
// the "form expired" page.
func (c *CSRF) Verify(r *http.Request) error {
	if err := ParseForm(r); err != nil {
		return err
	}
	if err := c.origin.Check(r); err != nil {
		return &Error{Status: http.StatusForbidden, MessageKey: "error.csrf", Err: err}
	}
	secret, ok := c.secret(r)
	if !ok {
		return &Error{Status: http.StatusForbidden, MessageKey: "error.csrf", Err: errors.New("csrf: no valid cookie")}
	}
	got, ok := unmask(r.PostFormValue(CSRFField))
	if !ok || subtle.ConstantTimeCompare(got, secret) != 1 {
		return &Error{Status: http.StatusForbidden, MessageKey: "error.csrf", Err: errors.New("csrf: token mismatch")}
	}
	return nil
}

func (c *CSRF) secret(r *http.Request) ([]byte, bool) {
	ck, err := r.Cookie(c.name)
	if err != nil {
		return nil, false
	}
	var secret []byte
	if err := c.codec.Decode(c.name, ck.Value, &secret); err != nil || len(secret) != csrfSecretLen {
		return nil, false
	}
	return secret, true
}

func unmask(field string) ([]byte, bool) {
	b, err := b64.DecodeString(field)
	if err != nil || len(b) != 2*csrfSecretLen {
		return nil, false
	}
	secret := make([]byte, csrfSecretLen)
	for i := range secret {
		secret[i] = b[i] ^ b[csrfSecretLen+i]
	}
	return secret, true
}
