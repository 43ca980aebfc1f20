package main

import (
	"net/http"
	"strings"
	"testing"

	"satupintu/templates"
)

// An attacker's failures lock the account for unknown devices on every
// node, while the owner's browser, which signed in before, still signs in
// with the right password, on another node: the device cookie is checked
// with the shared cookie keys and counted in the shared Redis (OWASP's
// device cookies, login/throttle.go).
func TestOwnersDeviceSignsInDuringLockoutOnAnyNode(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	locked := pages.T("id", "protection.locked", 15)

	owner := c.newBrowser()
	resp, page := c.on(0).attempt(owner, c.user.Username, c.password)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("the owner's first sign-in: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	// The working day ends: the session is gone, the device cookie stays.
	owner.client.Jar.SetCookies(owner.issuer, []*http.Cookie{{Name: "satupintu_session", Value: "", Path: "/", MaxAge: -1}})

	attacker := c.newBrowser()
	c.lockOut(attacker, c.user.Username)
	for i, b := range []*browser{attacker, c.newBrowser()} {
		resp, page := c.attempt(b, c.user.Username, c.password)
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, locked) {
			t.Fatalf("unknown device %d with the right password: %d\n%s", i, resp.StatusCode, page)
		}
	}

	resp, page = c.on(1).attempt(owner, c.user.Username, c.password)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("the owner's device during the lock, on the other node: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if resp, _ := c.attempt(c.newBrowser(), c.user.Username, c.password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the owner's sign-in lifted the lock for unknown devices: %d", resp.StatusCode)
	}
}
