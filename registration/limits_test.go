package registration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"satupintu/quota"
	"satupintu/web/webtest"
)

// startDraft posts the first step from c, which creates a draft.
func (e *wizEnv) startDraft(c *http.Client) webtest.Response {
	e.t.Helper()
	return e.submitStep(c, StepPurpose, "next", wizValid()[StepPurpose])
}

// New drafts are bounded per address, 15 addresses of one IPv6 /64 sharing
// one allowance (issue 8 item 7), with a friendly 429 that stores nothing.
func TestWizardDraftLimitGroupsIPv6By64(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.DraftLimit = quota.Limit{Name: "reg-draft", PerAddress: 5, Total: 100, Window: 24 * time.Hour}
	var refused int
	for i := range 15 {
		c := e.clientFrom(fmt.Sprintf("2001:db8:aa:bb:%x::%x", i, i+1))
		res := e.startDraft(c)
		switch res.StatusCode {
		case http.StatusSeeOther:
		case http.StatusTooManyRequests:
			refused++
			wizWant(t, res, http.StatusTooManyRequests, e.T("reg.busy"))
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			if e.draftID(c) != "" {
				t.Error("a refused request got a draft")
			}
		default:
			t.Fatalf("draft %d: status %d", i, res.StatusCode)
		}
	}
	if refused != 10 {
		t.Errorf("%d of 15 drafts from one /64 refused, want 10 (5 allowed)", refused)
	}
	// Another /64 and an IPv4 address have their own allowance; a draft
	// already made goes on (saves are not new drafts).
	wizWantRedirect(t, e.startDraft(e.clientFrom("2001:db8:aa:bc::1")), "/register/trader")
	c := e.clientFrom("192.0.2.1")
	e.fillTo(c, StepConfirm, nil)
	// The window over, the /64 may start again.
	e.clock.Advance(24*time.Hour + time.Second)
	wizWantRedirect(t, e.startDraft(e.clientFrom("2001:db8:aa:bb::99")), "/register/trader")
}

// A draft lives at most DraftLimit.Window from its creation, however often
// it is saved: that is what bounds the live drafts to the allowance.
func TestWizardDraftHasAMaximumAge(t *testing.T) {
	e := newWizEnv(t, false)
	e.h.DraftLimit = quota.Limit{Name: "reg-draft", PerAddress: 5, Window: 3 * time.Hour}
	c := e.client
	e.fillTo(c, StepNIB, nil)
	for range 2 {
		e.clock.Advance(80 * time.Minute)
		wizWantRedirect(t, e.submitStep(c, StepTrader, "next", wizValid()[StepTrader]), "/register/nib")
	}
	e.clock.Advance(21 * time.Minute) // 3 h 1 min after creation, 21 min after the last save
	wizWant(t, e.get(c, "/register/nib"), http.StatusOK, e.T("reg.draft_expired"))
}

// The ephemeral draft holds small form fields only: a hand-made request
// filling every field to the cut cannot grow it past maxDraftBytes.
func TestWizardDraftSizeIsCapped(t *testing.T) {
	e := newWizEnv(t, false)
	c := e.client
	e.fillTo(c, StepAddress, nil)
	big := strings.Repeat("<", maxStoredValue) // JSON escapes each to six bytes
	var last webtest.Response
	for _, slug := range []string{StepAddress, StepPerson, StepContact} {
		values := url.Values{}
		for _, f := range steps[stepIndex(slug)].fields {
			values.Set(f.name, big)
		}
		last = e.submitStep(c, slug, "back", values)
		if last.StatusCode != http.StatusSeeOther {
			break
		}
	}
	wizWant(t, last, http.StatusRequestEntityTooLarge)
	raw, err := e.eph.Draft(t.Context(), draftKeyPrefix+e.draftID(c))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > maxDraftBytes {
		t.Errorf("stored draft is %d bytes, more than %d", len(raw), maxDraftBytes)
	}
}

// Tracking lookups are bounded per address, 15 addresses of one IPv6 /64
// sharing one allowance (issue 8 item 7).
func TestTrackLimitGroupsIPv6By64(t *testing.T) {
	e := newWizEnv(t, false)
	lookup := func(ip string) webtest.Response {
		c := e.clientFrom(ip)
		form := url.Values{"csrf_token": {e.csrf(c, "/track")}, FieldServiceNumber: {NewServiceNumber(e.clock.Now())},
			FieldEmail: {"siti@example.co.id"}}
		return e.post(c, "/track", form)
	}
	limit := DefaultTrackLimit.PerAddress
	var refused int
	for i := range 15 {
		switch res := lookup(fmt.Sprintf("2001:db8:5:6:%x::1", i)); res.StatusCode {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			refused++
			wizWant(t, res, http.StatusTooManyRequests, e.T("track.rate_limited"))
		default:
			t.Fatalf("lookup %d: %d", i, res.StatusCode)
		}
	}
	if want := 15 - int(limit); refused != want {
		t.Errorf("%d of 15 lookups from one /64 refused, want %d", refused, want)
	}
	if res := lookup("2001:db8:5:7::1"); res.StatusCode != http.StatusOK {
		t.Errorf("another /64: %d", res.StatusCode)
	}
}
