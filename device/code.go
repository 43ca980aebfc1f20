package device

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/web"
)

// codePage is the data of the "device" page: the code form.
type codePage struct {
	UserCode string
	ErrorKey string
}

// confirmPage is the data of the "device_confirm" page: which application
// asks, for what, on the device showing UserCode (RFC 8628 §5.4: the user
// must be able to tell a phished code from their own device's).
type confirmPage struct {
	UserCode   string
	ClientName string
	ClientID   string
	Scopes     []string // catalog keys
	MFA        bool     // the application requires a second factor
	Orgs       []orgOption
}

// donePage is the data of the "device_done" page.
type donePage struct {
	MessageKey string
}

// Why a code is not accepted; one message for wrong, unknown and expired
// codes, so the page tells nothing about other people's codes.
const (
	keyInvalid     = "device.code_invalid"
	keyUsed        = "device.code_used"
	keyTooMany     = "device.too_many"
	keyMFARequired = "device.mfa_required"
)

var (
	errDecided = errors.New("device: authorization already decided")
	errExpired = errors.New("device: authorization expired")
)

// signedIn returns r's session and user, or sends the browser to sign in
// and back to the page with the code typed so far, and reports false.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, code string) (storage.Session, storage.User, bool) {
	s, u, ok := h.CurrentSession(r)
	if !ok {
		back := Path
		if c, valid := storage.NormalizeUserCode(code); valid {
			back += "?" + url.Values{"user_code": {storage.FormatUserCode(c)}}.Encode()
		}
		h.SignIn(w, r, back)
	}
	return s, u, ok
}

// showCode answers GET /device: the code form, prefilled from
// verification_uri_complete's user_code; the user still confirms.
func (h *Handler) showCode(w http.ResponseWriter, r *http.Request) error {
	raw := r.URL.Query().Get("user_code")
	if _, _, ok := h.signedIn(w, r, raw); !ok {
		return nil
	}
	page := codePage{}
	if c, ok := storage.NormalizeUserCode(raw); ok {
		page.UserCode = storage.FormatUserCode(c)
	}
	return h.render.Render(w, r, http.StatusOK, "device", page)
}

// submitCode answers POST /device: a known pending code shows what the
// application asks for, with Allow and Deny.
func (h *Handler) submitCode(w http.ResponseWriter, r *http.Request) error {
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	raw := r.PostForm.Get("user_code")
	s, u, ok := h.signedIn(w, r, raw)
	if !ok {
		return nil
	}
	d, c, key, err := h.lookup(w, r, u, raw)
	if err != nil || key != "" {
		if err == nil {
			err = h.render.Render(w, r, http.StatusOK, "device", codePage{UserCode: shown(raw), ErrorKey: key})
		}
		return err
	}
	if c.RequireMFA && !slices.Contains(s.AMR, storage.AMRMFA) {
		return h.render.Render(w, r, http.StatusOK, "device", codePage{ErrorKey: keyMFARequired})
	}
	orgs, err := h.organizations(r.Context(), u, c.ID, d.Scopes)
	if err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "device_confirm", confirmPage{
		UserCode: storage.FormatUserCode(d.UserCode), ClientName: c.Name, ClientID: c.ID,
		Scopes: h.scopeKeys(d.Scopes), MFA: c.RequireMFA, Orgs: orgs,
	})
}

// decide answers POST /device/decide: Allow completes the authorization
// with the session's user, methods and time; Deny refuses it. Either way
// the device learns it at its next poll.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request) error {
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	raw := r.PostForm.Get("user_code")
	s, u, ok := h.signedIn(w, r, raw)
	if !ok {
		return nil
	}
	allow := r.PostForm.Get("decision") == "allow"
	if !allow && r.PostForm.Get("decision") != "deny" {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: errors.New("device: no decision")}
	}
	// The code is checked, and counted when wrong, as on the form: this
	// form must not be a way around the wrong-code limit.
	d, c, key, err := h.lookup(w, r, u, raw)
	if err != nil || key != "" {
		if err == nil {
			err = h.render.Render(w, r, http.StatusOK, "device", codePage{UserCode: shown(raw), ErrorKey: key})
		}
		return err
	}
	if allow && c.RequireMFA && !slices.Contains(s.AMR, storage.AMRMFA) {
		return h.render.Render(w, r, http.StatusOK, "device", codePage{ErrorKey: keyMFARequired})
	}
	if allow {
		// Before the approval: the first poll after it reads the choice.
		if err := h.chooseOrganization(r, u, c.ID, d.Scopes); err != nil {
			return err
		}
	}
	now := h.Now()
	err = h.Authorizations.UpdateDeviceAuthorization(r.Context(), d.ID, func(d *storage.DeviceAuthorization) error {
		switch {
		case d.State != storage.DevicePending:
			return errDecided
		case !now.Before(d.ExpiresAt):
			return errExpired
		}
		if !allow {
			d.State = storage.DeviceDenied
			return nil
		}
		d.State = storage.DeviceApproved
		d.UserID, d.AuthTime, d.AMR, d.SessionID, d.SID = s.UserID, s.AuthTime, slices.Clone(s.AMR), s.ID, s.SID
		return nil
	})
	switch {
	case errors.Is(err, errDecided):
		return h.render.Render(w, r, http.StatusOK, "device", codePage{ErrorKey: keyUsed})
	case errors.Is(err, errExpired), errors.Is(err, storage.ErrNotFound):
		return h.render.Render(w, r, http.StatusOK, "device", codePage{ErrorKey: keyInvalid})
	case err != nil:
		return fmt.Errorf("device: record decision: %w", err)
	}
	action, result := "device.deny", "denied"
	if allow {
		action, result = "device.approve", "approved"
	}
	// The decision lives in the ephemeral store, no durable write to
	// carry the event: appended on its own.
	h.audit(r, storage.AuditEvent{Action: action, ActorID: u.ID, Subject: u.ID, ClientID: c.ID,
		Detail: map[string]string{"amr": strings.Join(s.AMR, " ")}})
	h.Logger.InfoContext(r.Context(), "device authorization decided", "result", result, "user_id", u.ID, "client_id", c.ID)
	redirect(w, r, Path+"/done?result="+result)
	return nil
}

// showDone answers GET /device/done: go back to the device.
func (h *Handler) showDone(w http.ResponseWriter, r *http.Request) error {
	key := "device.done.denied"
	if r.URL.Query().Get("result") == "approved" {
		key = "device.done.approved"
	}
	return h.render.Render(w, r, http.StatusOK, "device_done", donePage{MessageKey: key})
}

// lookup finds the pending authorization of the code raw, for u. A wrong,
// unknown or expired code is counted against the address and the account
// (WrongCodeLimit) and answered with a message key, as is a spent
// allowance (with 429) and an already decided code.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, u storage.User, raw string) (storage.DeviceAuthorization, storage.Client, string, error) {
	ctx := r.Context()
	ip, account := web.RemoteIP(r), "user:"+u.ID
	for _, who := range []string{ip, account} {
		spent, err := h.WrongCodeLimit.Spent(ctx, h.Counters, who)
		if err != nil {
			return storage.DeviceAuthorization{}, storage.Client{}, "", fmt.Errorf("device: %w", err)
		}
		if spent {
			h.Logger.InfoContext(ctx, "device code refused: too many wrong codes", "user_id", u.ID, "address", quota.AddressKey(ip))
			w.Header().Set("Retry-After", strconv.Itoa(int(h.WrongCodeLimit.Window/time.Second)))
			return storage.DeviceAuthorization{}, storage.Client{}, "", &web.Error{Status: http.StatusTooManyRequests, MessageKey: keyTooMany,
				Err: errors.New("device: wrong-code allowance spent")}
		}
	}
	wrong := func(reason string) (storage.DeviceAuthorization, storage.Client, string, error) {
		for _, who := range []string{ip, account} {
			if err := h.WrongCodeLimit.Take(ctx, h.Counters, who); err != nil && !errors.Is(err, quota.ErrExceeded) {
				return storage.DeviceAuthorization{}, storage.Client{}, "", fmt.Errorf("device: %w", err)
			}
		}
		h.audit(r, storage.AuditEvent{Action: "device.code_failure", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"reason": reason}})
		h.Logger.InfoContext(ctx, "device code refused", "reason", reason, "user_id", u.ID)
		return storage.DeviceAuthorization{}, storage.Client{}, keyInvalid, nil
	}
	code, ok := storage.NormalizeUserCode(raw)
	if !ok {
		return wrong("malformed")
	}
	d, err := h.Authorizations.DeviceAuthorizationByUserCode(ctx, code)
	if errors.Is(err, storage.ErrNotFound) {
		return wrong("unknown")
	}
	if err != nil {
		return storage.DeviceAuthorization{}, storage.Client{}, "", fmt.Errorf("device: load authorization: %w", err)
	}
	if !h.Now().Before(d.ExpiresAt) {
		return wrong("expired")
	}
	if d.State != storage.DevicePending {
		return storage.DeviceAuthorization{}, storage.Client{}, keyUsed, nil
	}
	c, err := h.Clients.ClientByID(ctx, d.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return wrong("client_deleted")
	}
	if err != nil {
		return storage.DeviceAuthorization{}, storage.Client{}, "", fmt.Errorf("device: load client: %w", err)
	}
	return d, c, "", nil
}

// shown is what the code field shows again after a refusal: the code
// normalized, or nothing rather than echoing arbitrary input.
func shown(raw string) string {
	if c, ok := storage.NormalizeUserCode(raw); ok {
		return storage.FormatUserCode(c)
	}
	return ""
}

// scopeKeys names what each scope releases, with the account pages'
// explanations where they have one.
func (h *Handler) scopeKeys(scopes []string) []string {
	var keys []string
	for _, s := range scopes {
		for _, k := range []string{"account.consent.scope." + s, "device.scope." + s} {
			if h.Pages.Catalog().Has(k) {
				keys = append(keys, k)
				break
			}
		}
	}
	return keys
}
