package login

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/session"
	"satupintu/storage"
	"satupintu/totp"
)

func TestReauthRenewsTheSessionAndReturns(t *testing.T) {
	e := newEnv(t, false)
	c, u, sid := e.signedIn("budi")
	before, err := e.eph.SessionByID(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)

	page := e.get(c, session.ReauthURL("/apps?tab=1"))
	if page.StatusCode != http.StatusOK || strings.Contains(page.Body, `name="code"`) {
		t.Fatalf("reauth page: %d, want the password only\n%s", page.StatusCode, page.Body)
	}
	wantBody(t, page, e.tr("session.reauth.title"), `name="return" value="/apps?tab=1"`)

	res := e.postForm(c, page, "/reauth", url.Values{"password": {"wrong"}, "return": {"/apps?tab=1"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	wantBody(t, res, e.tr("mfa.password_wrong"))
	if e.sessionGone(sid) {
		t.Fatal("a wrong password ended the session")
	}

	res = e.postForm(c, page, "/reauth", url.Values{"password": {testPassword}, "return": {"/apps?tab=1"}})
	wantRedirect(t, res, "/apps?tab=1")
	ck := e.sessionCookie(res)
	if ck == nil {
		t.Fatal("no new session cookie")
	}
	if !e.sessionGone(sid) {
		t.Error("the old session id still works after re-authentication")
	}
	s, _, ok := e.h.CurrentSession(&http.Request{Header: http.Header{"Cookie": {ck.Name + "=" + ck.Value}}})
	if !ok {
		t.Fatal("the new cookie names no session")
	}
	if !s.AuthTime.Equal(e.clock.Now()) || s.SID != before.SID || !s.ExpiresAt.Equal(before.ExpiresAt) || s.UserID != u.ID {
		t.Errorf("renewed session = %+v; want auth time now, same sid and end as %+v", s, before)
	}
	if !slices.Contains(e.auditActions(), "session.reauth ") {
		t.Errorf("audit = %v; want session.reauth", e.auditActions())
	}
}

func TestReauthReturnsOnlyToLocalPaths(t *testing.T) {
	for in, want := range map[string]string{
		"/apps": "/apps", "//evil.example/x": "/", "https://evil.example": "/", "/\\evil": "/",
		"": "/", "/reauth?return=/x": "/", "/reauth": "/",
	} {
		if got := reauthReturn(in); got != want {
			t.Errorf("reauthReturn(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestReauthAsksForTheSecondFactor(t *testing.T) {
	e := newEnv(t, false)
	c, u, _ := e.signedIn("sari")
	secret, _ := e.enrolled(u)
	e.clock.Advance(time.Hour)

	page := e.get(c, session.ReauthURL("/company"))
	wantBody(t, page, `name="code"`)
	res := e.postForm(c, page, "/reauth", url.Values{"password": {testPassword}, "return": {"/company"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("password without code: %d, want the form again", res.StatusCode)
	}
	res = e.postForm(c, page, "/reauth", url.Values{"password": {testPassword}, "code": {totp.Code(secret, e.clock.Now())}, "return": {"/company"}})
	wantRedirect(t, res, "/company")
	ck := e.sessionCookie(res)
	s, _, ok := e.h.CurrentSession(&http.Request{Header: http.Header{"Cookie": {ck.Name + "=" + ck.Value}}})
	if !ok || !slices.Contains(s.AMR, storage.AMRMFA) {
		t.Fatalf("renewed session %+v (ok %v); want mfa in amr", s, ok)
	}
}

func TestReauthNeedsASession(t *testing.T) {
	e := newEnv(t, false)
	wantRedirect(t, e.get(e.newClient(), "/reauth?return=/apps"), "/login")
}

func TestMFAPageSaysWhyASecondFactorIsNeeded(t *testing.T) {
	e := newEnv(t, false)
	c, _, _ := e.signedIn("tono")
	res := e.get(c, "/mfa?need=second_factor")
	wantBody(t, res, e.tr("session.second_factor_required"))
}
