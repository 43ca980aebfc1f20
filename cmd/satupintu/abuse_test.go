package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/quota"
	"satupintu/storage/memory"
	"satupintu/storage/redis/redistest"
)

// maxStoredAuthRequest is op's cap on one pending request's stored size.
const maxStoredAuthRequest = 4 << 10

// floodLimit is small so the flood test stays quick; production defaults
// are in limits.go and the README.
var floodLimit = quota.Limit{Name: "authorize", PerAddress: 20, Total: 100, Window: authRequestLifetime}

// floodConfig trusts the loopback front so a test can speak for many client
// addresses through X-Forwarded-For, as an Ingress would.
func floodConfig(c *Config) {
	c.Limits.Authorize = floodLimit
	for _, cidr := range []string{"127.0.0.0/8", "::1/128"} {
		_, n, _ := net.ParseCIDR(cidr)
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
}

// pendingMeter reports how many authorization requests the ephemeral store
// holds and how many bytes they take.
type pendingMeter func(t *testing.T) (count int, bytes int64)

// TestAuthorizeFloodIsBounded floods /authorize from one address and from
// many addresses of one IPv6 /64, on each backend: the store keeps at most
// the per-address allowance of each, refused requests get a 429 page, and a
// normal sign-in from elsewhere still works during and after the flood.
func TestAuthorizeFloodIsBounded(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		tp := newTestProviderHash(t, cheapHash, floodConfig)
		mem := tp.ephemeral.(*memory.Store)
		checkAuthorizeFlood(t, tp, func(*testing.T) (int, int64) {
			st := mem.Stats()
			return st.AuthRequests, st.ValueBytes
		})
	})
	t.Run("postgres+redis", func(t *testing.T) {
		_, prefix := redistest.Open(t)
		c := newCluster(t, 1, nodeOptions{prefix: prefix, config: floodConfig, direct: true})
		opt, err := goredis.ParseURL(redistest.URL())
		if err != nil {
			t.Fatal(err)
		}
		rdb := goredis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		checkAuthorizeFlood(t, c.testProvider, func(t *testing.T) (int, int64) {
			return redisUsage(t, rdb, prefix+"req:*")
		})
	})
}

func checkAuthorizeFlood(t *testing.T, tp *testProvider, pending pendingMeter) {
	ctx := t.Context()
	before, _ := pending(t)
	// Big but allowed parameters: the stored request stays under its cap.
	big := strings.Repeat("s", 1000)
	flood := func(addr func(i int) string, n int) (admitted, refused int) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for i := range n {
			f := newFlow()
			f.state, f.nonce = big+f.state, big+f.nonce
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tp.authURL("app-one", f), nil)
			req.Header.Set("X-Forwarded-For", addr(i))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusFound, http.StatusSeeOther, http.StatusOK:
				admitted++
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("flood request %d from %s: status %d", i, addr(i), resp.StatusCode)
			}
		}
		return admitted, refused
	}
	// A normal user from another address signs in while the flood runs.
	signInWorks := func(when string) {
		t.Helper()
		b := tp.newBrowser()
		f := newFlow()
		q := tp.signIn(b, "app-one", f)
		if _, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), tp.relyingParty("app-one", f), rp.WithCodeVerifier(f.verifier)); err != nil {
			t.Fatalf("sign-in %s the flood: code exchange: %v", when, err)
		}
	}

	admitted, refused := flood(func(int) string { return "203.0.113.7" }, 150)
	if admitted != int(floodLimit.PerAddress) || refused != 150-admitted {
		t.Errorf("one address: %d admitted, %d refused; want %d admitted", admitted, refused, floodLimit.PerAddress)
	}
	signInWorks("during")
	admitted, refused = flood(func(i int) string { return fmt.Sprintf("2001:db8:7:7::%x", i+1) }, 150)
	if admitted != int(floodLimit.PerAddress) || refused != 150-admitted {
		t.Errorf("one /64: %d admitted, %d refused; want %d admitted", admitted, refused, floodLimit.PerAddress)
	}

	count, bytes := pending(t)
	// Both floods' admitted requests, plus at most one per normal sign-in
	// still pending (a redeemed request is deleted).
	maxCount := int(2*floodLimit.PerAddress) + 1 + before
	if count > maxCount {
		t.Errorf("store holds %d pending requests after the floods, bound %d", count, maxCount)
	}
	if bound := int64(maxCount) * maxStoredAuthRequest; bytes > bound {
		t.Errorf("pending requests take %d bytes, bound %d", bytes, bound)
	}
	t.Logf("after 300 flood requests: %d pending requests, %d bytes", count, bytes)
	signInWorks("after")
}

// redisUsage counts the keys matching pattern and adds up their memory.
func redisUsage(t *testing.T, rdb *goredis.Client, pattern string) (int, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int
	var bytes int64
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n++
		if m, err := rdb.MemoryUsage(ctx, iter.Val()).Result(); err == nil {
			bytes += m
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	return n, bytes
}

// TestEndSessionFloodIsBounded: /end_session without an id_token_hint
// stores a pending logout until the user confirms; one address (here a
// whole /64) gets only its allowance, the rest a 429 page, and the store
// keeps no more than that.
func TestEndSessionFloodIsBounded(t *testing.T) {
	logoutLimit := quota.Limit{Name: "logout", PerAddress: 5, Total: 50, Window: logoutLifetime}
	tp := newTestProviderHash(t, cheapHash, floodConfig, func(c *Config) { c.Limits.Logout = logoutLimit })
	mem := tp.ephemeral.(*memory.Store)
	before := mem.Stats().OneTime
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	stored, refused := 0, 0
	for i := range 40 {
		q := url.Values{"client_id": {"app-one"}, "post_logout_redirect_uri": {tp.apps["app-one"].postLogout},
			"state": {strings.Repeat("x", 1000)}}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tp.issuer+"/end_session?"+q.Encode(), nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:9:9::%x", i+1))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), "/logout?"):
			stored++
		case resp.StatusCode == http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("end_session %d: %d %s", i, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if stored != int(logoutLimit.PerAddress) || refused != 40-stored {
		t.Errorf("%d pending logouts stored, %d refused; want %d stored", stored, refused, logoutLimit.PerAddress)
	}
	if got := mem.Stats().OneTime - before; got > int(logoutLimit.PerAddress) {
		t.Errorf("store holds %d new one-time values, bound %d", got, logoutLimit.PerAddress)
	}
	// The same client from another address still signs out.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tp.issuer+"/end_session?client_id=app-one", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.20")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("end_session from another address: %d", resp.StatusCode)
	}
}

// TestPasswordResetLimitCountsA64AsOne: 15 addresses of one IPv6 /64 share
// the reset-request allowance of one address (issue 8, finding 7).
func TestPasswordResetLimitCountsA64AsOne(t *testing.T) {
	tp := newTestProviderHash(t, cheapHash, floodConfig)
	b := tp.newBrowser()
	_, page := b.get(tp.issuer + "/password/forgot")
	form := formFields(t, page)
	statuses := map[int]int{}
	for i := range 15 {
		form.Set("email", fmt.Sprintf("orang%d@contoh.co.id", i))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, tp.issuer+"/password/forgot", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:3:3::%x", i+1))
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	// The sent page is followed (same host): 200 for the first ten.
	if statuses[http.StatusOK] != 10 || statuses[http.StatusTooManyRequests] != 5 {
		t.Errorf("answers to 15 reset requests from one /64: %v, want 10 accepted and 5 refused", statuses)
	}
}
