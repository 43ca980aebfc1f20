package registration

import (
	"net/http"
	"time"
)

// TrackGrantTTL is how long a successful tracking lookup lets the browser
// see the result and, when asked to, correct and resubmit.
const TrackGrantTTL = 30 * time.Minute

// trackGrant is what the tracking cookie holds: which registration this
// browser proved it knows (service number and email), and until when. The
// expiry is inside the authenticated value, not only in the cookie's
// Max-Age, which a client can stretch at will.
type trackGrant struct {
	RegistrationID string
	Expires        int64 // unix seconds
}

// trackCookieName carries the __Host- prefix under https: Secure, Path=/
// and no Domain, so no sibling subdomain can plant a grant (ASVS 3.3.3).
func (h *Handler) trackCookieName() string {
	if h.Secure {
		return "__Host-satupintu_track"
	}
	return "satupintu_track"
}

// setTrackGrant gives the browser a signed and encrypted grant for
// registration id. It holds the id only, never personal data.
func (h *Handler) setTrackGrant(w http.ResponseWriter, id string) error {
	name := h.trackCookieName()
	v, err := h.Cookies.Encode(name, trackGrant{RegistrationID: id, Expires: h.Now().Add(TrackGrantTTL).Unix()})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    v,
		Path:     "/",
		MaxAge:   int(TrackGrantTTL / time.Second),
		Secure:   h.Secure,
		HttpOnly: true,
		// Lax: the grant is only used by this site's own pages and forms.
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// trackGrantFrom returns the registration id r's grant names, if the
// cookie is authentic and unexpired.
func (h *Handler) trackGrantFrom(r *http.Request) (string, bool) {
	name := h.trackCookieName()
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	var g trackGrant
	if err := h.Cookies.Decode(name, c.Value, &g); err != nil || !validID(g.RegistrationID) {
		return "", false
	}
	if !h.Now().Before(time.Unix(g.Expires, 0)) {
		return "", false
	}
	return g.RegistrationID, true
}
