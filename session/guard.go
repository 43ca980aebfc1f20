package session

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"satupintu/storage"
	"satupintu/web"
)

// The pages the checks send a browser to; the login package serves them.
const (
	SignInPath = "/login"
	// ReauthPath asks the signed-in user for the password (and second
	// factor) again, then returns to the path in ReturnParam.
	ReauthPath = "/reauth"
	// EnrolPath is where a second factor is set up.
	EnrolPath = "/mfa"
	// ReturnParam names the query parameter of ReauthPath that carries the
	// way back: a local path, checked again by the page.
	ReturnParam = "return"
	// NeedParam on EnrolPath says why the browser was sent there;
	// NeedSecondFactor is its one value today.
	NeedParam        = "need"
	NeedSecondFactor = "second_factor"
)

// Signed is who is asking: the session and its user.
type Signed struct {
	Session storage.Session
	User    storage.User
}

type signedKey struct{}

// NewContext returns ctx carrying who; the checks put it there, tests of
// guarded handlers may too.
func NewContext(ctx context.Context, who Signed) context.Context {
	return context.WithValue(ctx, signedKey{}, who)
}

// From returns who a check found signed in for this request; ok is false
// outside a check.
func From(ctx context.Context) (Signed, bool) {
	who, ok := ctx.Value(signedKey{}).(Signed)
	return who, ok
}

// Middleware wraps a page handler with a check.
type Middleware func(web.HandlerFunc) web.HandlerFunc

// Chain wraps fn in checks, the first outermost:
// Chain(fn, g.RequireUser, g.RequireRole(storage.RoleAdmin)).
func Chain(fn web.HandlerFunc, checks ...Middleware) web.HandlerFunc {
	for i := len(checks) - 1; i >= 0; i-- {
		fn = checks[i](fn)
	}
	return fn
}

// Guard runs the checks a page needs before it reads the request body.
// Each check implies RequireUser, so any one of them can stand alone; the
// handler behind it finds the session and user with From. Every check runs
// on the server for each request (ASVS 8.3.1).
type Guard struct {
	// Current says who is signed in (Manager.CurrentSession). Required.
	Current func(r *http.Request) (storage.Session, storage.User, bool)
	// SignIn, if set, sends the browser to the sign-in page and, after it,
	// back to path (login.Handler.SignInAndReturn). Nil: plain redirect to
	// SignInPath.
	SignIn func(w http.ResponseWriter, r *http.Request, path string)
	// HasPasskey, if set, reports whether the user has a passkey, which
	// counts as a second factor for RequireSecondFactor.
	HasPasskey func(ctx context.Context, userID string) (bool, error)
	// Home is where re-authentication returns after a refused POST (whose
	// path may take no GET); "/" if empty. The admin console sets "/admin".
	Home string
	// ForbiddenKey is the message of RequireRole's 403 page;
	// "session.forbidden" if empty.
	ForbiddenKey string
	// Now is the clock RequireFreshAuth measures with; time.Now if nil.
	Now func() time.Time
}

// RequireUser runs next for a signed-in user. Anyone else goes to the
// sign-in page (303), and back to this page after it when it is a GET.
func (g *Guard) RequireUser(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, ok := From(r.Context()); ok {
			return next(w, r)
		}
		s, u, ok := g.Current(r)
		if !ok {
			web.NoStore(w)
			if g.SignIn != nil && isRead(r) {
				g.SignIn(w, r, r.URL.RequestURI())
				return nil
			}
			http.Redirect(w, r, SignInPath, http.StatusSeeOther)
			return nil
		}
		return next(w, r.WithContext(NewContext(r.Context(), Signed{Session: s, User: u})))
	}
}

// RequireRole runs next for a signed-in user holding one of roles; a
// signed-in user with none of them gets a 403 page, before the body is
// read.
func (g *Guard) RequireRole(roles ...string) Middleware {
	return func(next web.HandlerFunc) web.HandlerFunc {
		return g.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			who, _ := From(r.Context())
			if !slices.ContainsFunc(roles, who.User.HasRole) {
				key := g.ForbiddenKey
				if key == "" {
					key = "session.forbidden"
				}
				return &web.Error{Status: http.StatusForbidden, MessageKey: key,
					Err: fmt.Errorf("session: user %s holds none of %v", who.User.ID, roles)}
			}
			return next(w, r)
		})
	}
}

// RequireSecondFactor runs next for a user with a second factor enrolled
// (TOTP, or a passkey when HasPasskey is set); anyone else is sent to the
// enrolment page, which says why.
func (g *Guard) RequireSecondFactor(next web.HandlerFunc) web.HandlerFunc {
	return g.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
		who, _ := From(r.Context())
		if who.User.MFAEnrolled() {
			return next(w, r)
		}
		if g.HasPasskey != nil {
			has, err := g.HasPasskey(r.Context(), who.User.ID)
			if err != nil {
				return fmt.Errorf("session: look up passkeys of %s: %w", who.User.ID, err)
			}
			if has {
				return next(w, r)
			}
		}
		web.NoStore(w)
		http.Redirect(w, r, EnrolPath+"?"+NeedParam+"="+NeedSecondFactor, http.StatusSeeOther)
		return nil
	})
}

// RequireSecondFactorUsed runs next when this session was opened with a
// second factor (AMR "mfa"): holding one is not enough for the pages that
// need it (the operators' console). A session opened with the password
// alone goes to re-authenticate with the code (a GET comes back to
// itself, any other method to Home, refused); a user whose only second
// factor is a passkey, which /reauth does not ask for, is told to sign in
// with it.
func (g *Guard) RequireSecondFactorUsed(next web.HandlerFunc) web.HandlerFunc {
	return g.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
		who, _ := From(r.Context())
		if slices.Contains(who.Session.AMR, storage.AMRMFA) {
			return next(w, r)
		}
		if !who.User.MFAEnrolled() {
			return &web.Error{Status: http.StatusForbidden, MessageKey: "session.use_passkey",
				Err: fmt.Errorf("session: %s signed in without their passkey", who.User.ID)}
		}
		back := g.Home
		if back == "" {
			back = "/"
		}
		if isRead(r) {
			back = r.URL.RequestURI()
		}
		web.NoStore(w)
		http.Redirect(w, r, ReauthURL(back), http.StatusSeeOther)
		return nil
	})
}

// RequireFreshAuth runs next when the session's authentication is at most
// maxAge old (ASVS 7.5.1: sensitive changes ask again). Otherwise the
// browser goes to the re-authentication page: a GET comes back to itself
// afterwards; any other method is refused, nothing done, and comes back
// to Home.
func (g *Guard) RequireFreshAuth(maxAge time.Duration) Middleware {
	return func(next web.HandlerFunc) web.HandlerFunc {
		return g.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			who, _ := From(r.Context())
			if Fresh(who.Session, maxAge, g.now()) {
				return next(w, r)
			}
			back := g.Home
			if back == "" {
				back = "/"
			}
			if isRead(r) {
				back = r.URL.RequestURI()
			}
			web.NoStore(w)
			http.Redirect(w, r, ReauthURL(back), http.StatusSeeOther)
			return nil
		})
	}
}

// ReauthURL is the re-authentication page that returns to path.
func ReauthURL(path string) string {
	return ReauthPath + "?" + url.Values{ReturnParam: {path}}.Encode()
}

// Fresh reports whether s was authenticated at most maxAge before now.
func Fresh(s storage.Session, maxAge time.Duration, now time.Time) bool {
	return now.Sub(s.AuthTime) <= maxAge
}

func isRead(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

func (g *Guard) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}
