package demorp

import (
	"errors"
	"net/http"
)

// InitiateLoginPath is where the provider's "Open" sends the browser to
// sign in here (OIDC Core §4, third-party-initiated login); the provider
// registers it as the client's initiate_login_uri.
const InitiateLoginPath = "/login-initiate"

// initiateLogin answers GET /login-initiate?iss=…: a sign-in the provider
// asked for. Only our own provider may ask (OIDC Core §4: the RP must check
// iss), and the request only starts the code flow, as the sign-in button
// does, so a forged link can do no more than that button; target_link_uri
// is not followed (the home page is the only place to land), which leaves
// no open redirect.
func (h *handler) initiateLogin(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("iss") != h.issuer {
		return &pageError{status: http.StatusBadRequest, msg: msgSignInFailed, err: errors.New("initiate login from another issuer")}
	}
	return h.startSignIn(w, r)
}
