package login

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"satupintu/captcha"
	"satupintu/storage"
	"satupintu/web"
)

// How the sign-in form applies the brute-force policy (throttle.go): a
// guard decides, before the password is verified, whether it may be; the
// outcome is counted afterwards, against the device the guard found
// trusted or else the login name. Every answer is the same for login names
// that exist and ones that do not.

// refusal is an attempt turned away before its password was checked.
type refusal struct {
	reason string        // for the audit log: locked, throttled, captcha_missing, captcha_failed
	scope  string        // locked: "account" or "address" (never shown)
	wait   time.Duration // throttled: until the next attempt is allowed
}

func (e *refusal) Error() string { return "login: attempt refused: " + e.reason }

// signInGuard returns the check checkPassword runs for f while it holds a
// verification slot, so that simultaneous guesses are judged on counts at
// most a few verifications old (the slots bound how many run at once). It
// sets *device to the attempt's trusted device for the account the login
// name belongs to ("" for an unknown device or name), for counting the
// outcome.
func (h *Handler) signInGuard(r *http.Request, f loginForm, device *string) func(userID string) error {
	return func(userID string) error {
		ctx := r.Context()
		ip := web.RemoteIP(r)
		*device = h.trustedDevice(r, userID)
		v, err := h.throttle.Check(ctx, f.Username, ip, *device)
		if err != nil {
			return err
		}
		switch {
		case v.Locked:
			return &refusal{reason: "locked", scope: v.LockedScope}
		case v.Wait > 0:
			return &refusal{reason: "throttled", wait: v.Wait}
		case !h.Captcha.Required(v.Captcha):
			return nil
		case !captcha.Answered(r):
			return &refusal{reason: "captcha_missing"}
		}
		ok, err := h.verifyCaptcha(r) // captcha.go
		if err != nil {
			return err
		}
		if !ok {
			// Guessing at CAPTCHAs counts against the address.
			if err := h.throttle.FailedCaptcha(ctx, ip); err != nil {
				return err
			}
			return &refusal{reason: "captcha_failed"}
		}
		return nil
	}
}

// asRefusal returns err as a refusal, if it is one.
func asRefusal(err error) (*refusal, bool) {
	var rf *refusal
	ok := errors.As(err, &rf)
	return rf, ok
}

// refuse answers a refused attempt: the form again, with why in words
// that say nothing about the account, and a challenge when one is needed.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, page loginPage, f loginForm, clientID string, rf *refusal) error {
	h.auditFailure(r, storage.AuditEvent{
		Action:   "login.failure",
		Subject:  truncate(f.Username, auditLoginLen),
		ClientID: clientID,
		Detail:   map[string]string{"reason": rf.reason},
	})
	h.Logger.InfoContext(r.Context(), "sign-in refused", "reason", rf.reason, "scope", rf.scope, "client_id", clientID, "ip", web.RemoteIP(r))
	lang := web.Locale(r)
	switch rf.reason {
	case "locked":
		minutes := h.throttle.LockMinutes()
		page.Notice = h.Pages.T(lang, "protection.locked", minutes)
		w.Header().Set("Retry-After", strconv.Itoa(minutes*60))
		return h.renderLogin(w, r, http.StatusTooManyRequests, page)
	case "throttled":
		secs := int(math.Ceil(rf.wait.Seconds()))
		page.Notice = h.Pages.T(lang, "protection.throttled", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return h.renderLogin(w, r, http.StatusTooManyRequests, page)
	case "captcha_missing":
		page.ErrorKey = "protection.captcha.required"
		if err := h.addCaptcha(r, &page, ""); err != nil {
			return err
		}
	default:
		page.ErrorKey = "protection.captcha.wrong"
		if err := h.addCaptcha(r, &page, "protection.captcha.answer_new"); err != nil {
			return err
		}
	}
	return h.render.Render(w, r, http.StatusOK, "login", page)
}

// recordFailure counts a wrong password or unknown login name (against
// device if trusted, else the login name), audits a lock it starts, and
// puts a challenge on page if the next attempt needs one.
func (h *Handler) recordFailure(r *http.Request, page *loginPage, login, clientID, device string) error {
	fl, err := h.throttle.Failed(r.Context(), login, web.RemoteIP(r), device)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		started bool
		scope   string
	}{{fl.LockedAccount, "account"}, {fl.LockedDevice, "device"}, {fl.LockedAddress, "address"}} {
		if !l.started {
			continue
		}
		h.audit(r, storage.AuditEvent{
			Action:   "login.locked",
			Subject:  truncate(login, auditLoginLen),
			ClientID: clientID,
			Detail:   map[string]string{"scope": l.scope, "minutes": strconv.Itoa(h.throttle.LockMinutes())},
		})
		h.Logger.WarnContext(r.Context(), "sign-in locked", "scope", l.scope, "ip", web.RemoteIP(r), "minutes", h.throttle.LockMinutes())
	}
	if h.Captcha.Required(fl.Captcha) {
		return h.addCaptcha(r, page, "")
	}
	return nil
}

// passwordAccepted clears the failures of the login name, or of the
// trusted device the attempt came from. A store error does not stop a
// sign-in whose password was right; the count expires anyway.
func (h *Handler) passwordAccepted(ctx context.Context, login, device string) {
	if err := h.throttle.Succeeded(ctx, login, device); err != nil {
		h.Logger.ErrorContext(ctx, "reset sign-in failures", "error", err)
	}
}

// lockEpoch is the lock epoch of the account login names (Throttle.Epoch):
// an administrator's unlock raises it. A name of no account has epoch 0,
// as an account never unlocked does, so the counters cannot tell them apart.
func (h *Handler) lockEpoch(ctx context.Context, login string) (int64, error) {
	u, err := h.Users.UserByLogin(ctx, login)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return u.LockEpoch, nil
}
