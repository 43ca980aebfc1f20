package login

import (
	"net/http"
	"net/url"
	"testing"

	"satupintu/storage"
	"satupintu/totp"
)

// The account changes store their audit event in the transaction of the
// change (storage.WithAudit): one event with the right fields when the
// change commits, none when the store refuses it.

// eventsOf returns the events with action, newest first.
func (e *env) eventsOf(action string) []storage.AuditEvent {
	e.t.Helper()
	var out []storage.AuditEvent
	for _, a := range e.audits() {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

func wantOneEvent(t *testing.T, e *env, action string, u storage.User) {
	t.Helper()
	a := e.eventsOf(action)
	if len(a) != 1 || a[0].ActorID != u.ID || a[0].Subject != u.ID || a[0].IP == "" || a[0].Time.IsZero() {
		t.Errorf("%s events: %+v", action, a)
	}
}

func TestPasswordChangeEventGoesWithTheChange(t *testing.T) {
	e, _ := newPasswordEnv(t)
	c, u, _ := e.signedIn("budi")
	newPassword := "kopi tubruk di teras"
	if res := e.changePassword(c, testPassword, newPassword, newPassword); res.StatusCode != http.StatusOK {
		t.Fatalf("change: %d\n%s", res.StatusCode, res.Body)
	}
	wantOneEvent(t, e, "password.change", u)
}

func TestMFAChangeEventsGoWithTheChange(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("budi", nil)
	secret, codes := e.enrolled(u)
	id := e.newAuthRequest(nil)
	wantStep(t, e, e.signIn(e.client, id, "budi", testPassword), id)
	wantRedirect(t, e.submitCode(e.client, id, totp.Code(secret, e.clock.Now())), "/callback?id="+id)

	page := e.get(e.client, "/mfa")
	res := e.postForm(e.client, page, "/mfa/recovery", url.Values{"password": {testPassword}, "code": {codes[1]}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("renew: %d", res.StatusCode)
	}
	e.clock.Advance(totp.Period)
	wantRedirect(t, e.postForm(e.client, page, "/mfa/disable",
		url.Values{"password": {testPassword}, "code": {totp.Code(secret, e.clock.Now())}}), "/mfa?done=disabled")
	wantOneEvent(t, e, "mfa.recovery_codes", u)
	wantOneEvent(t, e, "mfa.disable", u)
}

func TestRefusedPasskeyChangesWriteNoEvent(t *testing.T) {
	e := newEnv(t, false, withPasskeys(0))
	c, mallory, _ := e.signedIn("mallory")
	victim := e.createUser("siti", nil)
	k := e.addPasskey(victim, "Laptop")
	page := e.get(c, "/mfa")
	// Another's passkey: the rename rolls back, the delete matches no row.
	for _, action := range []string{"/passkeys/" + k.ID + "/rename", "/passkeys/" + k.ID + "/delete"} {
		wantRedirect(t, e.postForm(c, page, action, url.Values{"name": {"pwned"}}), "/mfa")
	}
	// Mallory's own passkey is removed once; removing it again changes
	// nothing and records nothing.
	own := e.addPasskey(mallory, "Kunci")
	wantRedirect(t, e.postForm(c, page, "/passkeys/"+own.ID+"/delete", nil), "/mfa?done=passkey_remove")
	wantRedirect(t, e.postForm(c, page, "/passkeys/"+own.ID+"/delete", nil), "/mfa")
	if a := e.eventsOf("passkey.rename"); len(a) != 0 {
		t.Errorf("refused rename audited: %+v", a)
	}
	a := e.eventsOf("passkey.remove")
	if len(a) != 1 || a[0].ActorID != mallory.ID || a[0].Detail["passkey"] != own.ID {
		t.Errorf("remove events: %+v", a)
	}
}
