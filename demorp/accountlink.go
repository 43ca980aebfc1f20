package demorp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// Account is an account a demo app had before single sign-on. The user
// links it at the provider ("Create SSO"): they type its username and
// password there, the provider posts them to the app's /account-link, and
// from then on the app receives its own username in the app_username claim.
type Account struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// AccountLinkPath is where every demo app answers the provider's account
// check; register ExternalURL + AccountLinkPath as the client's account-link
// URL.
const AccountLinkPath = "/account-link"

// accountLinkBodyLimit bounds the form: a username and a password.
const accountLinkBodyLimit = 4 << 10

// checkAccount answers POST /account-link, the application side of
// satupintu's account-link protocol: a form with username and password,
// answered 200 {"username": "<canonical>"} or 401.
//
// The request carries no client credential: the provider does not hold
// client secrets in clear. A production application accepts this call only
// from the provider (network policy or mutual TLS) and throttles it like its
// own sign-in form; the demo, on loopback, does neither.
func (h *handler) checkAccount(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, accountLinkBodyLimit)
	if err := r.ParseForm(); err != nil {
		writeAccountAnswer(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if acc, ok := h.matchAccount(username, password); ok {
		h.logger.InfoContext(r.Context(), "account verified for linking", "username", acc.Username)
		writeAccountAnswer(w, http.StatusOK, map[string]string{"username": acc.Username})
		return
	}
	h.logger.InfoContext(r.Context(), "account link refused")
	writeAccountAnswer(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
}

// matchAccount finds the account with username (case-insensitive) and
// password. Every account's password is compared, in constant time over
// fixed-length digests, so the answer takes as long whether or not the
// username exists.
func (h *handler) matchAccount(username, password string) (Account, bool) {
	got := sha256.Sum256([]byte(password))
	var found Account
	ok := 0
	for _, a := range h.app.Accounts {
		want := sha256.Sum256([]byte(a.Password))
		nameOK := subtle.ConstantTimeEq(boolInt(strings.EqualFold(a.Username, username) && username != ""), 1)
		match := nameOK & subtle.ConstantTimeCompare(got[:], want[:])
		if match == 1 {
			found = a
		}
		ok |= match
	}
	return found, ok == 1
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func writeAccountAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
