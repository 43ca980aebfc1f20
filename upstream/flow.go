package upstream

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"satupintu/storage"
	"satupintu/web"
)

// A sign-in at an upstream has to come back within flowTTL; the identity it
// brings, if linked to nobody, waits pendingTTL for the person to link it.
const (
	flowTTL    = 10 * time.Minute
	pendingTTL = 15 * time.Minute

	// Lifetime is the longest any state of a sign-in lives; a limit on
	// starting sign-ins needs a window at least this long.
	Lifetime = pendingTTL

	flowCookie    = "satupintu_upstream"
	pendingCookie = "satupintu_upstream_link"

	// maxRequestIDLen bounds an authRequestID from a form (login's bound).
	maxRequestIDLen = 128
	// maxClaimLen bounds the name and NIK taken from an ID token.
	maxClaimLen = 256
)

// flow is one sign-in at an upstream in progress, kept in the ephemeral
// store under its state, which only this browser's cookie holds too.
type flow struct {
	Provider      string    `json:"provider"`
	AuthRequestID string    `json:"auth_request_id,omitempty"`
	Nonce         string    `json:"nonce"`
	Verifier      string    `json:"verifier"` // PKCE code_verifier (RFC 7636 §4.1)
	ExpiresAt     time.Time `json:"expires_at"`
}

func flowKey(state string) string { return "upstream-flow:" + state }

// problem is the data of the "upstream_problem" page: what went wrong, in
// the user's words, and the way back to the sign-in form.
type problem struct {
	MessageKey string
	Label      string
	LoginURL   string
}

// showProblem renders the problem page. A provider that is down or
// answered wrongly is not the person's fault nor a failure of satupintu:
// the page offers the password sign-in instead, so the status is not a 5xx
// and no detail (logged with the request id) reaches the page.
func (h *Handler) showProblem(w http.ResponseWriter, r *http.Request, status int, key, label, authRequestID string) error {
	return h.render.Render(w, r, status, pageProblem, problem{MessageKey: key, Label: label, LoginURL: loginURL(authRequestID)})
}

// loginURL is the sign-in form for authRequestID (as login.LoginURL).
func loginURL(authRequestID string) string {
	if authRequestID == "" {
		return "/login"
	}
	return "/login?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

// startSignIn answers POST /upstream/{provider}/start, the button on the
// sign-in page: store a flow (state, nonce, PKCE verifier) and send the
// browser to the upstream's authorization endpoint.
func (h *Handler) startSignIn(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	m, ok := h.provider(r.PathValue("provider"))
	if !ok {
		return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: errors.New("upstream: unknown provider")}
	}
	authRequestID := r.PostForm.Get("authRequestID")
	if authRequestID != "" {
		ar, err := h.Requests.AuthRequestByID(ctx, authRequestID)
		if len(authRequestID) > maxRequestIDLen || errors.Is(err, storage.ErrNotFound) {
			return &web.Error{Status: http.StatusBadRequest, MessageKey: "login.expired", Err: errors.New("upstream: auth request gone")}
		}
		if err != nil {
			return fmt.Errorf("upstream: load auth request: %w", err)
		}
		r = web.WithUILocales(r, ar.UILocales)
	}
	party, err := m.relyingParty(ctx)
	if err != nil {
		h.Logger.WarnContext(ctx, "upstream unavailable", "upstream", m.p.ID, "error", err)
		return h.showProblem(w, r, http.StatusOK, "upstream.down", m.p.Label, authRequestID)
	}
	// What follows stores a flow for an anonymous client: bounded per
	// address and in total (README "Limits on anonymous writes").
	if err := web.TakeQuota(w, r, h.Limit, h.Counters, "upstream.busy", h.Logger); err != nil {
		return err
	}
	state := storage.NewID()
	f := flow{Provider: m.p.ID, AuthRequestID: authRequestID, Nonce: storage.NewID(),
		Verifier:  storage.NewID() + storage.NewID(), // 64 characters of [a-z2-7]: RFC 7636 §4.1
		ExpiresAt: h.Now().Add(flowTTL)}
	if err := h.saveJSON(ctx, flowKey(state), f, flowTTL); err != nil {
		return err
	}
	if err := h.setCookie(w, flowCookie, state, flowTTL); err != nil {
		return err
	}
	to := rp.AuthURL(state, party,
		rp.WithCodeChallenge(oidc.NewSHACodeChallenge(f.Verifier)),
		func() []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", f.Nonce),
				oauth2.SetAuthURLParam("ui_locales", web.Locale(r))}
		})
	h.Logger.InfoContext(ctx, "upstream sign-in started", "upstream", m.p.ID)
	redirect(w, r, to)
	return nil
}

// callback answers GET /upstream/callback: check that the answer belongs to
// this browser's flow, redeem the code, verify the ID token, and sign the
// linked user in, or keep the identity for linking.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	state, ok := h.readCookie(r, flowCookie)
	// The state must be the one this browser's cookie holds (RFC 6749
	// §10.12): an answer planted from elsewhere signs nobody in.
	if !ok || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 {
		h.Logger.InfoContext(ctx, "upstream callback without its flow", "has_cookie", ok)
		return h.showProblem(w, r, http.StatusBadRequest, "upstream.expired", "", "")
	}
	var f flow
	found, err := h.loadJSON(ctx, flowKey(state), &f)
	if err != nil {
		return err
	}
	// Single use: the flow is gone whatever happens next.
	h.deleteDraft(ctx, flowKey(state))
	if err := h.setCookie(w, flowCookie, "", -1); err != nil {
		return err
	}
	m, known := h.provider(f.Provider)
	if !found || !known || !h.Now().Before(f.ExpiresAt) {
		return h.showProblem(w, r, http.StatusBadRequest, "upstream.expired", "", f.AuthRequestID)
	}
	if e := q.Get("error"); e != "" {
		// RFC 6749 §4.1.2.1: the person declined, or the upstream refused.
		h.Logger.InfoContext(ctx, "upstream answered with an error", "upstream", m.p.ID, "error", truncate(e, 64))
		key := "upstream.failed"
		if e == "access_denied" {
			key = "upstream.cancelled"
		}
		return h.showProblem(w, r, http.StatusOK, key, m.p.Label, f.AuthRequestID)
	}
	// RFC 9207: an issuer in the answer must be this upstream's.
	if iss := q.Get("iss"); iss != "" && iss != m.p.Issuer {
		h.Logger.WarnContext(ctx, "upstream callback from another issuer", "upstream", m.p.ID)
		return h.showProblem(w, r, http.StatusBadRequest, "upstream.failed", m.p.Label, f.AuthRequestID)
	}
	party, err := m.relyingParty(ctx)
	if err != nil {
		h.Logger.WarnContext(ctx, "upstream unavailable", "upstream", m.p.ID, "error", err)
		return h.showProblem(w, r, http.StatusOK, "upstream.down", m.p.Label, f.AuthRequestID)
	}
	claims, err := m.exchange(ctx, party, q.Get("code"), f.Verifier, f.Nonce)
	var unreachable *url.Error
	if errors.As(err, &unreachable) {
		// The token endpoint or the keys could not be fetched: the
		// provider is down, not the person's sign-in wrong.
		h.Logger.WarnContext(ctx, "upstream unavailable", "upstream", m.p.ID, "error", err)
		return h.showProblem(w, r, http.StatusOK, "upstream.down", m.p.Label, f.AuthRequestID)
	}
	if err != nil {
		// A refused token (signature, audience, nonce, expiry…) or an
		// error answer of the token endpoint.
		h.Logger.WarnContext(ctx, "upstream sign-in refused", "upstream", m.p.ID, "error", err)
		h.audit(r, storage.AuditEvent{Action: "login.failure", Detail: map[string]string{
			"reason": "upstream_token", "method": "upstream", "upstream": m.p.ID}})
		return h.showProblem(w, r, http.StatusOK, "upstream.failed", m.p.Label, f.AuthRequestID)
	}
	return h.signedInUpstream(w, r, m.p, f.AuthRequestID, claims)
}

// signedInUpstream goes on after a verified ID token: the linked user signs
// in; an identity linked to nobody waits for the person to link it.
func (h *Handler) signedInUpstream(w http.ResponseWriter, r *http.Request, p Provider, authRequestID string, c *oidc.IDTokenClaims) error {
	ctx := r.Context()
	l, err := h.Links.UpstreamLink(ctx, p.ID, c.Subject)
	switch {
	case err == nil:
		u, err := h.Users.UserByID(ctx, l.UserID)
		if err != nil {
			return fmt.Errorf("upstream: load linked user: %w", err)
		}
		if err := h.Links.TouchUpstreamLink(ctx, p.ID, c.Subject, h.Now().UTC()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			h.Logger.WarnContext(ctx, "record upstream link use", "upstream", p.ID, "error", err)
		}
		return h.SignIn(w, r, u, authRequestID, amrOf(p, c), p.ID)
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("upstream: load link: %w", err)
	}
	pend := pending{Provider: p.ID, Subject: c.Subject, AuthRequestID: authRequestID,
		Name: truncate(strings.TrimSpace(c.Name), maxClaimLen), NIK: truncate(claimString(c.Claims, p.NIKClaim), maxClaimLen),
		ExpiresAt: h.Now().Add(pendingTTL)}
	id := storage.NewID()
	if err := h.saveJSON(ctx, pendingKey(id), pend, pendingTTL); err != nil {
		return err
	}
	if err := h.setCookie(w, pendingCookie, id, pendingTTL); err != nil {
		return err
	}
	h.audit(r, storage.AuditEvent{Action: "upstream.unlinked_identity", Subject: p.ID,
		Detail: map[string]string{"upstream": p.ID}})
	redirect(w, r, "/upstream/link")
	return nil
}

// amrOf is what the sign-in counts as (RFC 8176): fed, and mfa when the
// upstream says it used a second factor, by its amr or an acr the operator
// configured as such.
func amrOf(p Provider, c *oidc.IDTokenClaims) []string {
	amr := []string{storage.AMRFederated}
	if slices.Contains(c.AuthenticationMethodsReferences, "mfa") ||
		(c.AuthenticationContextClassReference != "" && slices.Contains(p.MFAACRValues, c.AuthenticationContextClassReference)) {
		amr = append(amr, storage.AMRMFA)
	}
	return amr
}

// claimString reads a string claim; a number (a NIK sent as JSON number)
// is taken as its digits.
func claimString(claims map[string]any, name string) string {
	switch v := claims[name].(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	}
	return ""
}

func (h *Handler) saveJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("upstream: encode %s: %w", key, err)
	}
	if err := h.Drafts.SaveDraft(ctx, key, b, ttl); err != nil {
		return fmt.Errorf("upstream: save state: %w", err)
	}
	return nil
}

// loadJSON reads key into v; found is false when it is gone.
func (h *Handler) loadJSON(ctx context.Context, key string, v any) (bool, error) {
	b, err := h.Drafts.Draft(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("upstream: load state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		h.Logger.WarnContext(ctx, "unreadable upstream state", "error", err)
		return false, nil
	}
	return true, nil
}

func (h *Handler) deleteDraft(ctx context.Context, key string) {
	if err := h.Drafts.DeleteDraft(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.Logger.WarnContext(ctx, "delete upstream state", "error", err)
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
