package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

const (
	// LogoutTTL is how long a pending logout waits for the browser (the
	// logout limit in cmd/satupintu counts in windows at least this long).
	LogoutTTL = 10 * time.Minute
	// logoutKeyPrefix namespaces pending logouts in the shared OneTime store.
	logoutKeyPrefix = "logout:"
	// maxLogoutSize bounds a pending logout as stored. An anonymous client
	// can start one, so it must be small; op refuses oversized logout
	// parameters with a 400 before calling StartLogout (state at most 1 KiB,
	// the redirect URI at most 2 KiB), and this cap holds whoever calls.
	maxLogoutSize = 8 << 10
)

// ErrLogoutTooLarge refuses a pending logout over maxLogoutSize.
var ErrLogoutTooLarge = errors.New("login: logout request too large")

// LogoutRequest is an end-session request that op has validated (OIDC
// RP-Initiated Logout §2–3).
type LogoutRequest struct {
	UserID   string // sub of the id_token_hint; empty without one
	ClientID string
	// RedirectURI is the post_logout_redirect_uri, already matched exactly
	// against the client's registered URIs, with state appended if the
	// relying party sent one (§3). Empty: show the logged-out page.
	RedirectURI  string
	HintVerified bool // id_token_hint was present and its signature valid
}

// StartLogout parks req in the one-time store and returns the relative URL
// the browser should be sent to. Only the random id travels through the
// browser: the redirect target is read back from the store, never from a
// query string (ASVS 3.7.2).
func (h *Handler) StartLogout(ctx context.Context, req LogoutRequest) (string, error) {
	if err := h.init(); err != nil {
		return "", err
	}
	id, err := h.storeLogout(ctx, req)
	if err != nil {
		return "", err
	}
	return "/logout?" + url.Values{"id": {id}}.Encode(), nil
}

func (h *Handler) storeLogout(ctx context.Context, req LogoutRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("login: encode logout request: %w", err)
	}
	if len(b) > maxLogoutSize {
		return "", ErrLogoutTooLarge
	}
	id := storage.NewID()
	if err := h.OneTime.PutOnce(ctx, logoutKeyPrefix+id, b, LogoutTTL); err != nil {
		return "", fmt.Errorf("login: store logout request: %w", err)
	}
	return id, nil
}

// takeLogout returns and deletes the pending logout id; false if there is
// none (unknown, expired, already used or garbage).
func (h *Handler) takeLogout(ctx context.Context, id string) (LogoutRequest, bool, error) {
	if id == "" || len(id) > maxRequestIDLen {
		return LogoutRequest{}, false, nil
	}
	b, err := h.OneTime.TakeOnce(ctx, logoutKeyPrefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return LogoutRequest{}, false, nil
	}
	if err != nil {
		return LogoutRequest{}, false, fmt.Errorf("login: take logout request: %w", err)
	}
	var req LogoutRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return LogoutRequest{}, false, fmt.Errorf("login: decode logout request: %w", err)
	}
	return req, true, nil
}

// afterLogout is where the browser goes once the session has ended.
func afterLogout(req LogoutRequest, found bool) string {
	if found && req.RedirectURI != "" {
		return req.RedirectURI // validated by op, read from our store
	}
	return "/logged-out"
}

// logoutPage is the data of the "logout" confirmation page.
type logoutPage struct {
	ID string // pending logout request, re-stored under a fresh id
}

// showLogout answers GET /logout. A request carrying a verified
// id_token_hint for the signed-in user (or with nobody signed in) ends the
// session at once; anything else asks the user first, because a logout
// without a valid hint can be forged by any site (RP-Initiated Logout §2,
// ASVS 3.5.3).
func (h *Handler) showLogout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, found, err := h.takeLogout(ctx, r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	s, _, signedIn := h.CurrentSession(r)
	if found && req.HintVerified && (!signedIn || s.UserID == req.UserID) {
		if err := h.endSession(w, r, req.ClientID); err != nil {
			return err
		}
		redirect(w, r, afterLogout(req, found))
		return nil
	}
	var page logoutPage
	if found {
		// The id was single-use; the form carries a fresh one.
		if page.ID, err = h.storeLogout(ctx, req); err != nil {
			return err
		}
	}
	return h.render.Render(w, r, http.StatusOK, "logout", page)
}

// submitLogout answers POST /logout, the confirmed logout.
func (h *Handler) submitLogout(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	req, found, err := h.takeLogout(r.Context(), r.PostForm.Get("id"))
	if err != nil {
		return err
	}
	if err := h.endSession(w, r, req.ClientID); err != nil {
		return err
	}
	redirect(w, r, afterLogout(req, found))
	return nil
}

// endSession deletes the session of r's cookie on the server, whatever its
// state, and expires the cookie: replaying the old cookie must not
// authenticate anywhere (ASVS 7.4.1).
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, clientID string) error {
	h.clearSessionCookie(w)
	id, ok := h.sessionID(r)
	if !ok {
		return nil
	}
	ctx := r.Context()
	s, err := h.Sessions.SessionByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // already ended or expired
	}
	if err != nil {
		return fmt.Errorf("login: load session to end: %w", err)
	}
	if err := h.Sessions.DeleteSession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("login: delete session: %w", err)
	}
	h.audit(r, storage.AuditEvent{Action: "logout", ActorID: s.UserID, Subject: s.UserID, ClientID: clientID})
	h.Logger.InfoContext(ctx, "signed out", "user_id", s.UserID, "client_id", clientID)
	if h.OnSessionEnd != nil {
		h.OnSessionEnd(ctx, s)
	}
	return nil
}

// showLoggedOut answers GET /logged-out.
func (h *Handler) showLoggedOut(w http.ResponseWriter, r *http.Request) error {
	return h.render.Render(w, r, http.StatusOK, "logged_out", nil)
}
