package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
)

// Brute-force protection for password sign-in (ASVS 6.1.1, 6.3.1, 2.4.1),
// which an attacker cannot turn against the account's owner (OWASP, "Slow
// Down Online Guessing Attacks with Device Cookies").
//
// Failed sign-ins are counted in the ephemeral store, so every node sees
// the same counts (Redis in production). With DefaultThrottlePolicy:
//
//   - Devices. Every successful password check gives the browser a new
//     device cookie: the user id (hashed), a random nonce and the time,
//     authenticated and encrypted by the session cookie's codec, HttpOnly,
//     SameSite=Lax, Secure with the __Host- prefix under https, kept for a
//     year (DeviceCookieTTL). An attempt is from a trusted device when it
//     carries such a cookie, at most a year old, for the account the login
//     name belongs to; every other attempt (no cookie, a forged or
//     tampered one, another account's, an unknown login name) is from an
//     unknown device. A browser holds one device cookie: signing in to
//     another account there replaces it.
//   - Counting. A failure is a wrong password or an unknown login name.
//     From an unknown device it counts against the login name as typed
//     (trimmed, lower case, as the user store matches it), so the answers
//     never differ between accounts that exist and accounts that do not
//     (ASVS 6.3.8). From a trusted device it counts against that device
//     (its nonce) instead, never against the login name. Every failure
//     also counts against the address: the client IP, an IPv6 client's
//     /64. Counts run in a fixed 15-minute window from the first failure.
//   - Judging. An attempt from an unknown device is judged by its login
//     name's count and its address's; one from a trusted device by that
//     device's count alone. An address may be shared by many people (a
//     carrier's CGNAT, an office, a /64), so an attacker's failures there
//     must not lock out or slow down an owner's browser; the device's own
//     CAPTCHA, delays and lock bound what a stolen cookie can guess.
//   - CAPTCHA. In the default adaptive mode a CAPTCHA is required once the
//     login name (unknown devices) or the device (trusted) has 3 failures,
//     or, for unknown devices, the address 5, in the window.
//   - Growing delays. From the 5th failure of a login name or device, at
//     most one password attempt per 5 s, doubling with each further
//     failure up to 60 s (5, 10, 20, 40, 60 s). From the 20th failure of
//     an address, one attempt per 1 s from its unknown devices, doubling
//     up to 10 s. A refused attempt is told how many seconds remain; its
//     password is not checked, and no goroutine sleeps.
//   - Lockout. The 10th failure of a login name from unknown devices locks
//     that name for unknown devices for 15 minutes; the 10th failure of a
//     trusted device locks that device alone for 15 minutes; the 100th
//     failure of an address locks the address for unknown devices for 15
//     minutes. While locked, every password is refused unchecked, even the
//     right one, with the same message whether or not the account exists.
//     Neither a locked login name nor a locked address stops the owner's
//     trusted devices: the owner signs in from a browser that signed in
//     before with the right password (and the CAPTCHA or delay its own
//     count calls for), while the attacker's unknown devices stay locked.
//     The audit log gets login.locked when a lock starts (scope account,
//     device or address).
//   - A correct password resets the failures of what it was counted
//     against: the login name's from an unknown device, the device's from
//     a trusted one (whose cookie is replaced anyway). A trusted device's
//     success leaves the login name's unknown-device failures and lock in
//     place, so the owner signing in does not hand the attacker new
//     guesses. The address's failures are never reset (one known password
//     must not buy unlimited guesses at other accounts from the same
//     address).
//   - `satupintu user unlock --username U` (or the admin console) raises
//     the account's lock epoch (storage.User.LockEpoch) in the database.
//     The login name's counters are keyed by it, so the username's and
//     the email's lock and failures are left behind on every node, and
//     on the embedded server, whose in-process counters no other process
//     can reach. A device lock ends by itself; the device's owner can
//     also drop the cookie and be an unknown device.
//
// Behind a TLS-terminating proxy, the address is the real client's only
// when SATUPINTU_TRUSTED_PROXIES names the proxy (web.TrustedProxies);
// otherwise every client has the proxy's address, so per-address delays
// and locks would hold everyone back at once: there
// BehindProxyThrottlePolicy applies, which keeps only the address's
// CAPTCHA threshold. Per-account and per-device limits are unchanged.
//
// So a login name takes at most 10 wrong passwords from unknown devices
// per ~17 minutes, about 35 an hour, and an account (by username and
// email) about 70: under the 100 an hour of ASVS 6.3.1. A trusted device
// adds 35 an hour, but only its holder's: guessing there needs the cookie
// of a browser that signed in to that very account. Checks and counts run
// around the argon2id verification, outside the per-node verification
// slots, so a burst of simultaneous guesses can overshoot a threshold by
// at most the requests verified at that moment (MaxConcurrentVerify per
// node).
//
// Audit. Each refused or failed attempt is a login.failure event, but a
// flood must not grow the audit table with it (one client managed 107 a
// second): per client address (an IPv6 /64) and reason, in one-minute
// windows aligned to the clock, the first AuditFailuresPerWindow failures
// are written as they happen, with the login name, client and user; the
// rest are only counted in the ephemeral store, and their number is
// written as one login.failures event (detail reason, count, from, to)
// together with the first failure written for that address and reason in
// a later window, up to a day later (throttle_audit.go). A flood thus
// writes at most AuditFailuresPerWindow+1 rows a minute per address and
// reason. The count of the last window of a burst is only written if that
// address fails again for that reason within the day.

// ThrottleRule is the limits for one kind of subject: an account (login
// name, from unknown devices), a trusted device or an address.
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
	Account ThrottleRule // a login name, for attempts from unknown devices
	Device  ThrottleRule // a trusted device, for attempts that carry its cookie; zero: as Account
	Address ThrottleRule
}

// DefaultThrottlePolicy is the documented policy above.
var DefaultThrottlePolicy = ThrottlePolicy{
	Window:  15 * time.Minute,
	LockFor: 15 * time.Minute,
	Account: ThrottleRule{CaptchaAfter: 3, DelayAfter: 5, BaseDelay: 5 * time.Second, MaxDelay: time.Minute, LockAfter: 10},
	Device:  ThrottleRule{CaptchaAfter: 3, DelayAfter: 5, BaseDelay: 5 * time.Second, MaxDelay: time.Minute, LockAfter: 10},
	Address: ThrottleRule{CaptchaAfter: 5, DelayAfter: 20, BaseDelay: time.Second, MaxDelay: 10 * time.Second, LockAfter: 100},
}

// BehindProxyThrottlePolicy is DefaultThrottlePolicy for a server that
// sees one address for all clients (see "Behind a proxy" above).
var BehindProxyThrottlePolicy = ThrottlePolicy{
	Window:  DefaultThrottlePolicy.Window,
	LockFor: DefaultThrottlePolicy.LockFor,
	Account: DefaultThrottlePolicy.Account,
	Device:  DefaultThrottlePolicy.Device,
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
	// Epoch returns the lock epoch of the account a login name belongs
	// to (0 for a name of no account); nil: always 0.
	Epoch func(ctx context.Context, login string) (int64, error)
}

// Verdict is the answer to "may this sign-in attempt check a password?".
type Verdict struct {
	// Locked: refuse; LockedScope says whether the "account" (for unknown
	// devices), the "device" or the "address" is locked (for the audit log
	// only, never the user).
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
	// LockedAccount, LockedDevice, LockedAddress: this failure started a
	// lock of the login name (for unknown devices), of the trusted device,
	// of the address.
	LockedAccount, LockedDevice, LockedAddress bool
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

// accountKey is the login name's counters' subject under its account's
// lock epoch. Epoch 0 (never unlocked, or no such account) is the plain
// subject, so a name of no account and one of an account never unlocked
// are counted alike.
func (t *Throttle) accountKey(ctx context.Context, login string) (string, error) {
	s := accountSubject(login)
	if t.Epoch == nil {
		return s, nil
	}
	e, err := t.Epoch(ctx, normalizeLogin(login))
	if err != nil {
		return "", fmt.Errorf("login: read lock epoch: %w", err)
	}
	if e != 0 {
		s += ":" + strconv.FormatInt(e, 10)
	}
	return s, nil
}

// deviceSubject is a trusted device's: its cookie's random nonce, which
// holds nothing personal either.
func deviceSubject(device string) string { return "dev:" + device }

// attemptSubject is what an attempt for login is counted against besides
// its address: the login name from an unknown device (device ""), the
// device when it is trusted for the account.
func (t *Throttle) attemptSubject(ctx context.Context, login, device string) (scope, subject string, rule ThrottleRule, err error) {
	p := t.policy()
	if device != "" {
		if p.Device == (ThrottleRule{}) {
			return "device", deviceSubject(device), p.Account, nil
		}
		return "device", deviceSubject(device), p.Device, nil
	}
	acct, err := t.accountKey(ctx, login)
	return "account", acct, p.Account, err
}

// throttleSubject is one thing an attempt is judged by: its counters'
// subject and the rule for them.
type throttleSubject struct {
	scope, subject string
	rule           ThrottleRule
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

// slotMargin is how long an attempt slot's counter outlives its period
// (claimSlot): longer than any clock skew between nodes and Redis, and
// than two steps of the browser tests (each bounded by a minute), whose
// node clock stands still while Redis's runs.
const slotMargin = 2 * time.Minute

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
//
// The slot's counter outlives its period by slotMargin. It is only read
// during its own period (the key names it), so the margin changes nothing
// but this: Redis expires keys by its own clock, and a node whose clock
// lags Redis's (or a test's stopped clock) must still find the slot taken
// until that node's period ends, instead of granting a second attempt.
func (t *Throttle) claimSlot(ctx context.Context, subject string, d time.Duration) (time.Duration, error) {
	now := t.now()
	slot := now.UnixNano() / int64(d)
	left := time.Duration((slot+1)*int64(d) - now.UnixNano())
	n, err := t.Counters.Incr(ctx, slotKey(subject, d, slot), left+slotMargin)
	if err != nil {
		return 0, fmt.Errorf("login: claim attempt slot: %w", err)
	}
	if n > 1 {
		return left, nil
	}
	return 0, nil
}

// Check decides whether an attempt for login from ip may go on to the
// password. device is the id of the attempt's trusted device cookie for
// the account login names, "" from an unknown device (see the policy
// above). An attempt it lets through past a delay threshold has claimed
// its slot.
func (t *Throttle) Check(ctx context.Context, login, ip, device string) (Verdict, error) {
	p := t.policy()
	scope, acct, rule, err := t.attemptSubject(ctx, login, device)
	if err != nil {
		return Verdict{}, err
	}
	subjects := []throttleSubject{{scope, acct, rule}}
	// A trusted device is judged by its own count alone: its address may
	// be a CGNAT or office address, or a /64, shared with an attacker
	// whose failures must neither lock nor slow the owner's browser. The
	// device's own delays and lock bound what a stolen cookie can guess.
	if device == "" {
		subjects = append(subjects, throttleSubject{"address", addressSubject(ip), p.Address})
	}
	var v Verdict
	for _, s := range subjects {
		n, err := t.Counters.Count(ctx, lockKey(s.subject))
		if err != nil {
			return Verdict{}, fmt.Errorf("login: read lock: %w", err)
		}
		if n > 0 {
			return Verdict{Locked: true, LockedScope: s.scope}, nil
		}
	}
	for _, s := range subjects {
		n, err := t.Counters.Count(ctx, failKey(s.subject))
		if err != nil {
			return Verdict{}, fmt.Errorf("login: count %s failures: %w", s.scope, err)
		}
		v.Captcha = v.Captcha || s.rule.NeedsCaptcha(n)
		d := s.rule.Delay(n)
		if d <= 0 {
			continue
		}
		wait, err := t.claimSlot(ctx, s.subject, d)
		if err != nil {
			return Verdict{}, err
		}
		v.Wait = max(v.Wait, wait)
	}
	return v, nil
}

// NeedsCaptcha reports whether a form for login (may be empty: not typed
// yet) from ip should show a CAPTCHA in adaptive mode. It judges as for an
// unknown device: the form is shown before anyone knows whose device it is,
// and a trusted device's attempt is then checked by Check, which asks for
// the challenge only if the device's own count calls for it.
func (t *Throttle) NeedsCaptcha(ctx context.Context, login, ip string) (bool, error) {
	p := t.policy()
	ni, err := t.Counters.Count(ctx, failKey(addressSubject(ip)))
	if err != nil {
		return false, fmt.Errorf("login: count address failures: %w", err)
	}
	if p.Address.NeedsCaptcha(ni) || normalizeLogin(login) == "" {
		return p.Address.NeedsCaptcha(ni), nil
	}
	acct, err := t.accountKey(ctx, login)
	if err != nil {
		return false, err
	}
	na, err := t.Counters.Count(ctx, failKey(acct))
	if err != nil {
		return false, fmt.Errorf("login: count account failures: %w", err)
	}
	return p.Account.NeedsCaptcha(na), nil
}

// Failed records a wrong password (or unknown login name) for login from
// ip, against the login name or, with a trusted device, the device.
func (t *Throttle) Failed(ctx context.Context, login, ip, device string) (Failure, error) {
	p := t.policy()
	var f Failure
	_, acct, rule, err := t.attemptSubject(ctx, login, device)
	if err != nil {
		return Failure{}, err
	}
	acctLocked := &f.LockedAccount
	if device != "" {
		acctLocked = &f.LockedDevice
	}
	// Every failure counts against the address, a trusted device's too,
	// but only unknown devices are judged by that count (Check).
	for _, s := range []struct {
		subject string
		rule    ThrottleRule
		locked  *bool
		judged  bool
	}{{acct, rule, acctLocked, true}, {addressSubject(ip), p.Address, &f.LockedAddress, device == ""}} {
		n, err := t.Counters.Incr(ctx, failKey(s.subject), p.Window)
		if err != nil {
			return Failure{}, fmt.Errorf("login: count failure: %w", err)
		}
		f.Captcha = f.Captcha || (s.judged && s.rule.NeedsCaptcha(n))
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

// Succeeded clears the failures a correct password for login answers:
// the login name's from an unknown device (device ""), only the device's
// from a trusted one, so the owner signing in never lifts the lock that
// holds back the attacker's unknown devices.
func (t *Throttle) Succeeded(ctx context.Context, login, device string) error {
	_, subject, _, err := t.attemptSubject(ctx, login, device)
	if err != nil {
		return err
	}
	if err := t.Counters.ResetCounter(ctx, failKey(subject)); err != nil {
		return fmt.Errorf("login: reset failures: %w", err)
	}
	return nil
}

// Unlock lifts the lock of each login name under its current epoch and
// clears its failures (give both the username and the email). An
// administrator raises the epoch instead (storage.UnlockSignIn), which
// reaches counters this process cannot.
func (t *Throttle) Unlock(ctx context.Context, logins ...string) error {
	for _, l := range logins {
		if normalizeLogin(l) == "" {
			continue
		}
		s, err := t.accountKey(ctx, l)
		if err != nil {
			return err
		}
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
