package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"satupintu/account"
	"satupintu/captcha"
	"satupintu/device"
	"satupintu/login"
	"satupintu/op"
	"satupintu/quota"
	"satupintu/registration"
	"satupintu/upstream"
	"satupintu/web"
)

// Limits bound what anonymous clients may make the service store. Each is
// a quota.Limit: writes per client address (an IPv6 client's /64) and in
// total, per fixed window. Set one as SATUPINTU_LIMIT_<NAME>=PER/TOTAL/WINDOW,
// for example SATUPINTU_LIMIT_AUTHORIZE=300/100000/15m; 0 turns a bound off.
type Limits struct {
	// Authorize counts new pending authorization requests (/authorize).
	Authorize quota.Limit
	// Register counts new registration drafts (the wizard's first step).
	Register quota.Limit
	// Logout counts pending logouts (/end_session without a valid
	// id_token_hint stores one until the user confirms).
	Logout quota.Limit
	// CaptchaImage counts image codes (the check's form without
	// JavaScript); over it a form gets the proof of work instead.
	CaptchaImage quota.Limit
	// Passkey counts passkey challenges: the sign-in page asks for one on
	// every load, for the browser's autofill.
	Passkey quota.Limit
	// Upstream counts sign-ins started at an upstream identity provider
	// (each stores a pending flow, then at most one pending identity).
	Upstream quota.Limit
	// InviteAccept counts attempts to accept a company invitation, each of
	// which may create an account.
	InviteAccept quota.Limit
	// Device counts new device authorizations (/device_authorization,
	// RFC 8628), which any public device client can ask for.
	Device quota.Limit
	// DeviceCode counts wrong user codes typed on the device page, per
	// address and per account (device.DefaultWrongCodeLimit).
	DeviceCode quota.Limit
}

// How long the items the limits count live: a pending authorization
// request (op); a registration draft between two steps (registration), so
// a shorter draft window would end drafts in the middle of the wizard.
const (
	authRequestLifetime = 15 * time.Minute
	draftLifetime       = registration.DraftTTL
	logoutLifetime      = login.LogoutTTL
	captchaLifetime     = captcha.DefaultTTL
	passkeyLifetime     = login.PasskeyChallengeTTL
	upstreamLifetime    = upstream.Lifetime
	deviceLifetime      = op.DeviceRecordLifetime
)

func defaultLimits() Limits {
	return Limits{
		// A pending request lives at most 15 minutes (op's
		// AuthRequestLifetime) and holds at most 4 KiB; the window matches
		// the lifetime, so one client has at most 600 alive, twice the
		// allowance (the end of one window and a whole new one: quota's
		// package comment), 2.4 MiB, and all clients together 200,000
		// (800 MiB at the cap, about 200 MiB at a typical 1 KiB). 300 leaves
		// room for an office behind one NAT address signing in to several
		// apps.
		Authorize: quota.Limit{Name: "authorize", PerAddress: 300, Total: 100_000, Window: authRequestLifetime},
		// New registration drafts (registration/limits.go explains the
		// bound: a draft never outlives the window from its creation).
		Register: registration.DefaultDraftLimit,
		// A pending logout lives 10 minutes and holds at most 8 KiB: at
		// most 200 alive per address (1.6 MiB), 40,000 in all (320 MiB).
		Logout: quota.Limit{Name: "logout", PerAddress: 100, Total: 20_000, Window: logoutLifetime},
		// An image code lives 10 minutes (two small values).
		CaptchaImage: quota.Limit{Name: "captcha-image", PerAddress: 60, Total: 50_000, Window: captchaLifetime},
		// A challenge lives 5 minutes and holds about 300 bytes: 300 per
		// address is a busy office's sign-in page loads; at most twice
		// that alive per address (180 KiB), and 400,000 in all, about
		// 120 MiB at the cap.
		Passkey: quota.Limit{Name: "passkey", PerAddress: 300, Total: 200_000, Window: passkeyLifetime},
		// A pending flow or identity lives at most 15 minutes and holds
		// under 1 KiB (upstream.DefaultLimit).
		Upstream:     upstream.DefaultLimit,
		InviteAccept: account.DefaultAcceptLimit,
		// A device authorization lives 10 minutes and is kept 5 more to
		// answer expired_token, holding under 1.5 KiB (scope is capped at
		// 1 KiB): 60 per address is a row of kiosks behind one address,
		// 20,000 in total under 30 MiB at the cap.
		Device:     quota.Limit{Name: "device", PerAddress: 60, Total: 20_000, Window: deviceLifetime},
		DeviceCode: device.DefaultWrongCodeLimit,
	}
}

// validate reports each limit whose window is shorter than the life of
// what it counts: such a limit would not bound the live items (to twice
// its allowance: quota's package comment).
func (l Limits) validate() []string {
	var p []string
	for _, c := range []struct {
		env      string
		window   time.Duration
		lifetime time.Duration
		what     string
	}{
		{"AUTHORIZE", l.Authorize.Window, authRequestLifetime, "a pending request"},
		{"REGISTER", l.Register.Window, draftLifetime, "a draft"},
		{"LOGOUT", l.Logout.Window, logoutLifetime, "a pending logout"},
		{"CAPTCHA_IMAGE", l.CaptchaImage.Window, captchaLifetime, "an image code"},
		{"PASSKEY", l.Passkey.Window, passkeyLifetime, "a passkey challenge"},
		{"UPSTREAM", l.Upstream.Window, upstreamLifetime, "an upstream sign-in's state"},
		{"DEVICE", l.Device.Window, deviceLifetime, "a device authorization"},
	} {
		if c.window < c.lifetime {
			p = append(p, fmt.Sprintf("SATUPINTU_LIMIT_%s: the window must be at least %v, the lifetime of %s", c.env, c.lifetime, c.what))
		}
	}
	return p
}

// parseLimit reads PER/TOTAL/WINDOW into l, keeping l's name.
func parseLimit(s string, l *quota.Limit) error {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return fmt.Errorf("%q is not PER_ADDRESS/TOTAL/WINDOW such as 300/100000/15m", s)
	}
	per, err1 := strconv.ParseInt(strings.TrimSpace(parts[0]), 10, 64)
	total, err2 := strconv.ParseInt(strings.TrimSpace(parts[1]), 10, 64)
	window, err3 := time.ParseDuration(strings.TrimSpace(parts[2]))
	if err1 != nil || err2 != nil || err3 != nil || per < 0 || total < 0 || window <= 0 {
		return fmt.Errorf("%q is not PER_ADDRESS/TOTAL/WINDOW such as 300/100000/15m (counts 0 or more, a positive window)", s)
	}
	l.PerAddress, l.Total, l.Window = per, total, window
	return nil
}

// withClientAddress puts the client's address in every request's context
// (quota.WithAddress), for the limits of code that sees only a context. It
// runs after TrustedProxies, so the address is the real client's.
func withClientAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(quota.WithAddress(r.Context(), web.RemoteIP(r))))
	})
}
