package validate

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"satupintu/storage"
)

// User field names, as the admin API's JSON names them.
const (
	FieldUsername  = "username"
	FieldUserName  = "name"
	FieldRoles     = "roles"
	FieldExpiresAt = "expires_at"
)

// Limits of a user's fields: the username in bytes (it goes into URLs and
// logs), the name in runes.
const (
	MaxUsername = 64
	MaxUserName = 200
)

// hostileText reports control and format characters (C0/C1, zero-width,
// bidi overrides) and invalid UTF-8: nothing a name needs, and what makes
// one look like another.
func hostileText(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// Username checks a username and returns it trimmed and lower-cased (the
// user stores match login names so): 1..MaxUsername bytes, no blanks, no
// @ (a login name with @ is an email), no control or format characters.
func Username(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	bad := s == "" || len(s) > MaxUsername || strings.ContainsRune(s, '@') || hostileText(s) ||
		strings.IndexFunc(s, unicode.IsSpace) >= 0
	if bad {
		return "", detailErr(FieldUsername, KeyUsername, []any{MaxUsername},
			"is required: up to %d characters, no spaces or @", MaxUsername)
	}
	return s, nil
}

// User checks an account as an administrator creates or edits it and
// returns it normalized: username (Username), email (Email), the optional
// name (at most MaxUserName runes, Name's rules) and phone (Phone), and
// roles (officer, admin).
func User(u storage.User) (storage.User, error) {
	var err error
	if u.Username, err = Username(u.Username); err != nil {
		return storage.User{}, err
	}
	if u.Email, err = Email(u.Email); err != nil {
		fe := err.(*FieldError)
		fe.Detail = fmt.Sprintf("%q is not an email address", u.Email)
		return storage.User{}, fe
	}
	if strings.TrimSpace(u.Name) != "" {
		if u.Name, err = Name(FieldUserName, u.Name, MaxUserName); err != nil {
			fe := err.(*FieldError)
			fe.Detail = fmt.Sprintf("must be at most %d characters without control characters", MaxUserName)
			return storage.User{}, fe
		}
	} else {
		u.Name = ""
	}
	if strings.TrimSpace(u.Phone) != "" {
		if u.Phone, err = Phone(u.Phone); err != nil {
			fe := err.(*FieldError)
			fe.Detail = fmt.Sprintf("%q is not an Indonesian phone number", u.Phone)
			return storage.User{}, fe
		}
	} else {
		u.Phone = ""
	}
	for _, r := range u.Roles {
		if r != storage.RoleOfficer && r != storage.RoleAdmin {
			return storage.User{}, detailErr(FieldRoles, KeyRole, nil, "%q must be %s or %s", r, storage.RoleOfficer, storage.RoleAdmin)
		}
	}
	return u, nil
}

// expiryZone is the zone an account's expiry date is read in: Western
// Indonesian Time (UTC+7, no daylight saving), the reference of the
// services' office hours.
func expiryZone() *time.Location { return time.FixedZone("WIB", 7*60*60) }

// ExpiryDate reads an account's last day, "YYYY-MM-DD" or "never", and
// returns when the account stops signing in: the end of that day in WIB
// (the zero time for never, as storage.User.ExpiresAt wants). A day
// already over is refused unless allowPast: expiring an account at once is
// what disabling it is for, and a typo in the year should not do it.
func ExpiryDate(s string, now time.Time, allowPast bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, expiryZone())
	if err != nil || len(s) != len(time.DateOnly) {
		return time.Time{}, detailErr(FieldExpiresAt, KeyExpiryDate, nil, "%q is not a date YYYY-MM-DD or never", s)
	}
	end := d.AddDate(0, 0, 1)
	if !end.After(now) && !allowPast {
		return time.Time{}, detailErr(FieldExpiresAt, KeyExpiryPast, nil, "%s is already over", s)
	}
	return end.UTC(), nil
}
