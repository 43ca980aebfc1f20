package login

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// Device cookies (policy in throttle.go; OWASP, "Slow Down Online Guessing
// Attacks with Device Cookies"): a browser that signed in to an account
// before is judged by its own failure count, so failures from elsewhere
// never lock it out.

// DeviceCookieTTL is how long a device cookie vouches for a browser after
// the successful sign-in that issued it; every later one issues a new one.
const DeviceCookieTTL = 365 * 24 * time.Hour

// deviceCodec is the session cookie's codec (the same keys on every node)
// accepting cookies DeviceCookieTTL old: the configured codec's MaxAge is
// the session's lifetime, which would end a device's trust overnight. A
// copy, so the session cookie keeps its own limit; Encode binds the cookie
// name, so neither cookie passes for the other.
func (h *Handler) deviceCodec() *securecookie.SecureCookie {
	c := *h.Cookies
	return c.MaxAge(int(DeviceCookieTTL / time.Second))
}

// deviceCookie is what a device cookie holds, authenticated (and
// encrypted, with a block key) by the cookie codec.
type deviceCookie struct {
	Account string `json:"a"` // deviceAccount of the user it was issued to
	Nonce   string `json:"n"` // random: the device's id in the failure counters
	Issued  int64  `json:"t"` // unix seconds
}

// deviceCookieName is the device cookie's name, with the __Host- prefix
// under https like the session cookie (ASVS 3.3.1).
func (h *Handler) deviceCookieName() string {
	if h.Secure {
		return "__Host-satupintu_device"
	}
	return "satupintu_device"
}

// deviceAccount binds a device cookie to a user without putting the user
// id in it: a codec without a block key only signs.
func deviceAccount(userID string) string {
	sum := sha256.Sum256([]byte("satupintu device\x00" + userID))
	return hex.EncodeToString(sum[:16])
}

// trustedDevice returns the device id of r's device cookie when the cookie
// is authentic, was issued for userID ("" for a login name without an
// account), and is younger than DeviceCookieTTL; otherwise "" (an unknown
// device). A cookie that does not decode is ignored like a missing one:
// forging or altering it buys nothing. The cookie is decoded whether or
// not the account exists, so that costs the same time either way.
func (h *Handler) trustedDevice(r *http.Request, userID string) string {
	c, err := r.Cookie(h.deviceCookieName())
	if err != nil {
		return ""
	}
	var d deviceCookie
	if err := h.deviceCodec().Decode(h.deviceCookieName(), c.Value, &d); err != nil {
		return ""
	}
	age := h.Now().Sub(time.Unix(d.Issued, 0))
	if userID == "" || d.Nonce == "" || d.Account != deviceAccount(userID) || age < -time.Minute || age >= DeviceCookieTTL {
		return ""
	}
	return d.Nonce
}

// issueDeviceCookie gives the browser a new device cookie for userID after
// a correct password, replacing any it had: a new nonce each time, so the
// failures counted against the old one stay behind with it.
func (h *Handler) issueDeviceCookie(w http.ResponseWriter, userID string) error {
	var nonce [16]byte
	rand.Read(nonce[:]) // never fails (crypto/rand)
	v, err := h.deviceCodec().Encode(h.deviceCookieName(), deviceCookie{
		Account: deviceAccount(userID),
		Nonce:   base64.RawURLEncoding.EncodeToString(nonce[:]),
		Issued:  h.Now().Unix(),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     h.deviceCookieName(),
		Value:    v,
		Path:     "/",
		MaxAge:   int(DeviceCookieTTL / time.Second),
		Secure:   h.Secure,
		HttpOnly: true,                 // ASVS 3.3.4
		SameSite: http.SameSiteLaxMode, // like the session cookie
	})
	return nil
}
