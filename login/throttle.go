package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"satupintu/storage"
)

// Brute-force protection for password sign-in (ASVS 6.1.1, 6.3.1, 2.4.1).
//
// Failed sign-ins are counted per account and per address in the ephemeral
// store, so every node sees the same counts (Redis in production). With
// DefaultThrottlePolicy:
//
//   - Counting. A failure is a wrong password or an unknown login name:
//     both are counted, under the login name as typed (trimmed, lower
//     case, as the user store matches it), so the answers never differ
//     between accounts that exist and accounts that do not (ASVS 6.3.8).
//     The address is the client IP (an IPv6 client's /64). Counts run in a
//     fixed 15-minute window from the first failure.
//   - CAPTCHA. In the default adaptive mode a CAPTCHA is required once a
//     login name has 3 failures, or an address 5, in the window.
//   - Growing delays. From the 5th failure of a login name, at most one
//     password attempt per 5 s, doubling with each further failure up to
//     60 s (5, 10, 20, 40, 60 s). From the 20th failure of an address, one
//     attempt per 1 s from it, doubling up to 10 s. A refused attempt
//     is told how many seconds remain; its password is not checked, and no
//     goroutine sleeps.
//   - Lockout. The 10th failure of a login name locks it for 15 minutes;
//     the 100th failure of an address locks the address for 15 minutes.
//     While locked, every password is refused unchecked, even the right
//     one, with the same message whether or not the account exists.
//     The audit log gets login.locked when a lock starts, and every refused
//     attempt as a login.failure.
//   - A correct password resets the login name's failures (not the
//     address's: one known password must not buy unlimited guesses at
//     other accounts from the same address).
//   - `satupintu user unlock --username U` clears a login name's lock and
//     failures (username and email) in a shared ephemeral store (Redis);
//     with the in-process default, locks end by themselves or on restart.
//
// Behind a proxy. The address is the TCP peer (web.RemoteIP does not trust
// X-Forwarded-For). Behind a TLS-terminating proxy, which an https issuer
// implies (the binary serves plain http), every client has the proxy's
// address, so per-address delays and locks would hold everyone back at
// once: there BehindProxyThrottlePolicy applies, which keeps only the
// address's CAPTCHA threshold (in effect a CAPTCHA for everyone while
// failures are frequent). Per-account limits are unchanged.
//
// So a login name takes at most 10 wrong passwords per ~17 minutes, about
// 35 an hour, and an account (by username and email) about 70: under the
// 100 an hour of ASVS 6.3.1. Checks and counts run around the argon2id
// verification, outside the per-node verification slots, so a burst of
// simultaneous guesses can overshoot a threshold by at most the requests
// verified at that moment (MaxConcurrentVerify per node).
//
// Malicious lockout: anyone can lock a login name by failing 10 times, so
// the lock is kept narrow and short. It stops password checks for that
// name only; sessions already signed in keep working, as does password
// reset by email. From the 3rd failure on each further try needs a solved
// CAPTCHA, so locking someone out takes human effort every 15 minutes
// rather than a script. Address limits throttle rather than lock until
// 100 failures, because a whole office shares one address behind NAT. An
// administrator can lift a lock at once.

// ThrottleRule is the limits for one kind of subject: an account (login
// name) or an address.
type ThrottleRule struct {
	CaptchaAfter int64         // failures from which a CAPTCHA is required (adaptive mode); 0: never
	DelayAfter   int64         // failures from which attempts are spaced; 0: never
	BaseDelay    time.Duration // spacing at DelayAfter failures, doubling with each further failure
	MaxDelay     time.Duration // the spacing stops growing here
	LockAfter    int64         // failures that lock the subject for LockFor; 0: never
}

// ThrottlePolicy is the whole brute-force policy.
type ThrottlePolicy struct {
	Window  time.Duration // failures count in a fixed window from the first
	LockFor time.Duration
	Account ThrottleRule
	Address ThrottleRule
}

// DefaultThrottlePolicy is the documented policy above.
var DefaultThrottlePolicy = ThrottlePolicy{
	Window:  15 * time.Minute,
	LockFor: 15 * time.Minute,
	Account: ThrottleRule{CaptchaAfter: 3, DelayAfter: 5, BaseDelay: 5 * time.Second, MaxDelay: time.Minute, LockAfter: 10},
	Address: ThrottleRule{CaptchaAfter: 5, DelayAfter: 20, BaseDelay: time.Second, MaxDelay: 10 * time.Second, LockAfter: 100},
}

// BehindProxyThrottlePolicy is DefaultThrottlePolicy for a server that
// sees one address for all clients (see "Behind a proxy" above).
var BehindProxyThrottlePolicy = ThrottlePolicy{
	Window:  DefaultThrottlePolicy.Window,
	LockFor: DefaultThrottlePolicy.LockFor,
	Account: DefaultThrottlePolicy.Account,
	Address: ThrottleRule{CaptchaAfter: DefaultThrottlePolicy.Address.CaptchaAfter},
}

// Delay is the spacing between attempts after n failures; 0 means none.
func (r ThrottleRule) Delay(n int64) time.Duration {
	if r.DelayAfter <= 0 || n < r.DelayAfter || r.BaseDelay <= 0 {
		return 0
	}
	d := r.BaseDelay
	for i := r.DelayAfter; i < n && d < r.MaxDelay; i++ {
		d *= 2
	}
	return min(d, max(r.MaxDelay, r.BaseDelay))
}

// NeedsCaptcha reports whether n failures call for a CAPTCHA.
func (r ThrottleRule) NeedsCaptcha(n int64) bool { return r.CaptchaAfter > 0 && n >= r.CaptchaAfter }

// Locks reports whether n failures lock the subject.
func (r ThrottleRule) Locks(n int64) bool { return r.LockAfter > 0 && n >= r.LockAfter }

// Throttle applies a ThrottlePolicy with counters in the ephemeral store.
// The zero Policy is DefaultThrottlePolicy.
type Throttle struct {
	Counters storage.Counters
	Policy   ThrottlePolicy
	Now      func() time.Time // time.Now if nil
}

// Verdict is the answer to "may this sign-in attempt check a password?".
type Verdict struct {
	// Locked: refuse; LockedScope says whether the "account" or the
	// "address" is locked (for the audit log only, never the user).
	Locked      bool
	LockedScope string
	// Wait > 0: refuse, the next attempt is allowed after Wait.
	Wait time.Duration
	// Captcha: the attempt must carry a solved CAPTCHA (adaptive mode).
	Captcha bool
}

// Failure is what recording a failed attempt found.
type Failure struct {
	Captcha bool // the next attempt needs a CAPTCHA (adaptive mode)
	// LockedAccount, LockedAddress: this failure started a lock.
	LockedAccount, LockedAddress bool
}

func (t *Throttle) policy() ThrottlePolicy {
	if t.Policy.Window <= 0 {
		return DefaultThrottlePolicy
	}
	return t.Policy
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Keys of the counters. A login name is hashed: the store's key space then
// holds no personal data and nothing a user typed.
func accountSubject(login string) string {
	sum := sha256.Sum256([]byte(normalizeLogin(login)))
	return "acct:" + hex.EncodeToString(sum[:16])
}

func addressSubject(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "ip:" + ip // RemoteAddr without a port (tests); never empty
	}
	a = a.Unmap()
	if a.Is6() {
		// One IPv6 client usually holds a whole /64.
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// normalizeLogin is the form the user stores match login names in.
func normalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

func failKey(subject string) string { return "login-fail:" + subject }
func lockKey(subject string) string { return "login-lock:" + subject }

// slotKey names the one attempt allowed for subject in the slot-th period
// of length d.
func slotKey(subject string, d time.Duration, slot int64) string {
	return fmt.Sprintf("login-slot:%s:%d:%d", subject, d.Milliseconds(), slot)
}

// claimSlot takes the attempt of the current d-long period for subject and
// reports how long until the next period if it was already taken. Periods
// are aligned to the clock, so every node agrees on them, and claiming is
// one atomic increment: of simultaneous attempts exactly one goes ahead.
func (t *Throttle) claimSlot(ctx context.Context, subject string, d time.Duration) (time.Duration, error) {
	now := t.now()
	slot := now.UnixNano() / int64(d)
	left := time.Duration((slot+1)*int64(d) - now.UnixNano())
	n, err := t.Counters.Incr(ctx, slotKey(subject, d, slot), left)
	if err != nil {
		return 0, fmt.Errorf("login: claim attempt slot: %w", err)
	}
	if n > 1 {
		return left, nil
	}
	return 0, nil
}

// Check decides whether an attempt for login from ip may go on to the
// password. An attempt it lets through past a delay threshold has claimed
// its slot.
func (t *Throttle) Check(ctx context.Context, login, ip string) (Verdict, error) {
	p := t.policy()
	acct, addr := accountSubject(login), addressSubject(ip)
	var v Verdict
	for _, s := range []struct{ scope, subject string }{{"account", acct}, {"address", addr}} {
		n, err := t.Counters.Count(ctx, lockKey(s.subject))
		if err != nil {
			return Verdict{}, fmt.Errorf("login: read lock: %w", err)
		}
		if n > 0 {
			return Verdict{Locked: true, LockedScope: s.scope}, nil
		}
	}
	na, err := t.Counters.Count(ctx, failKey(acct))
	if err != nil {
		return Verdict{}, fmt.Errorf("login: count account failures: %w", err)
	}
	ni, err := t.Counters.Count(ctx, failKey(addr))
	if err != nil {
		return Verdict{}, fmt.Errorf("login: count address failures: %w", err)
	}
	v.Captcha = p.Account.NeedsCaptcha(na) || p.Address.NeedsCaptcha(ni)
	for _, s := range []struct {
		subject string
		d       time.Duration
	}{{acct, p.Account.Delay(na)}, {addr, p.Address.Delay(ni)}} {
		if s.d <= 0 {
			continue
		}
		wait, err := t.claimSlot(ctx, s.subject, s.d)
		if err != nil {
			return Verdict{}, err
		}
		v.Wait = max(v.Wait, wait)
	}
	return v, nil
}

// NeedsCaptcha reports whether a form for login (may be empty: not typed
// yet) from ip should show a CAPTCHA in adaptive mode.
func (t *Throttle) NeedsCaptcha(ctx context.Context, login, ip string) (bool, error) {
	p := t.policy()
	ni, err := t.Counters.Count(ctx, failKey(addressSubject(ip)))
	if err != nil {
		return false, fmt.Errorf("login: count address failures: %w", err)
	}
	if p.Address.NeedsCaptcha(ni) || normalizeLogin(login) == "" {
		return p.Address.NeedsCaptcha(ni), nil
	}
	na, err := t.Counters.Count(ctx, failKey(accountSubject(login)))
	if err != nil {
		return false, fmt.Errorf("login: count account failures: %w", err)
	}
	return p.Account.NeedsCaptcha(na), nil
}

// Failed records a wrong password (or unknown login name) for login from
// ip.
func (t *Throttle) Failed(ctx context.Context, login, ip string) (Failure, error) {
	p := t.policy()
	var f Failure
	for _, s := range []struct {
		subject string
		rule    ThrottleRule
		locked  *bool
	}{{accountSubject(login), p.Account, &f.LockedAccount}, {addressSubject(ip), p.Address, &f.LockedAddress}} {
		n, err := t.Counters.Incr(ctx, failKey(s.subject), p.Window)
		if err != nil {
			return Failure{}, fmt.Errorf("login: count failure: %w", err)
		}
		f.Captcha = f.Captcha || s.rule.NeedsCaptcha(n)
		if s.rule.Locks(n) {
			l, err := t.Counters.Incr(ctx, lockKey(s.subject), p.LockFor)
			if err != nil {
				return Failure{}, fmt.Errorf("login: lock: %w", err)
			}
			*s.locked = l == 1
		}
		// The next attempt waits from now, not from whenever a slot was
		// last claimed.
		if d := s.rule.Delay(n); d > 0 {
			if _, err := t.claimSlot(ctx, s.subject, d); err != nil {
				return Failure{}, err
			}
		}
	}
	return f, nil
}

// FailedCaptcha records a wrong CAPTCHA answer from ip: it counts against
// the address only, so guessing at the (easier) text question is throttled
// like guessing passwords, while it cannot lock anyone's account.
func (t *Throttle) FailedCaptcha(ctx context.Context, ip string) error {
	if _, err := t.Counters.Incr(ctx, failKey(addressSubject(ip)), t.policy().Window); err != nil {
		return fmt.Errorf("login: count captcha failure: %w", err)
	}
	return nil
}

// Succeeded clears login's failures after a correct password.
func (t *Throttle) Succeeded(ctx context.Context, login string) error {
	if err := t.Counters.ResetCounter(ctx, failKey(accountSubject(login))); err != nil {
		return fmt.Errorf("login: reset failures: %w", err)
	}
	return nil
}

// Unlock lifts the lock of each login name and clears its failures (an
// administrator's command; give both the username and the email).
func (t *Throttle) Unlock(ctx context.Context, logins ...string) error {
	for _, l := range logins {
		if normalizeLogin(l) == "" {
			continue
		}
		s := accountSubject(l)
		for _, k := range []string{lockKey(s), failKey(s)} {
			if err := t.Counters.ResetCounter(ctx, k); err != nil {
				return fmt.Errorf("login: unlock: %w", err)
			}
		}
	}
	return nil
}

// LockMinutes is how long a lock lasts, in whole minutes, for messages.
func (t *Throttle) LockMinutes() int {
	return int((t.policy().LockFor + time.Minute - 1) / time.Minute)
}
