package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/password"
	"satupintu/storage"
	"satupintu/storage/redis/redistest"
)

// userinfoStatus asks node i's userinfo with the access token.
func userinfoStatus(t *testing.T, c *cluster, i int, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, c.nodes[i].url.String()+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds; the deadline is generous, as a
// loaded machine may deliver a message late, never as a speed check.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signedInToken runs a code flow on node 0 and returns the access token.
func signedInToken(t *testing.T, c *cluster) string {
	t.Helper()
	b := c.on(0).newBrowser()
	f := newFlow()
	q := c.signIn(b, "app-one", f)
	tok := c.tokenRequest("app-one", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.apps["app-one"].redirect}, "code_verifier": {f.verifier}})
	if tok.status != http.StatusOK {
		t.Fatalf("token: %+v", tok)
	}
	return tok.AccessToken
}

// A user disabled through one node is refused by another that had the
// user cached: the change travels through Redis, not the TTL (the nodes'
// clocks stand still).
func TestCacheInvalidationReachesOtherNodes(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	at := signedInToken(t, c)
	if s := userinfoStatus(t, c, 1, at); s != http.StatusOK {
		t.Fatalf("userinfo on node 1: %d", s)
	}
	// Node 1 now holds the user; node 0 disables them.
	if err := c.nodes[0].durable.UpdateUser(t.Context(), c.user.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 refuses the disabled user", func() bool { return userinfoStatus(t, c, 1, at) != http.StatusOK })
}

// A change whose message was lost (written behind the nodes' backs, as a
// tool without Redis would) shows once the subscription is re-established:
// a node that reconnects forgets everything it cached.
func TestCacheIsFlushedWhenTheSubscriptionReconnects(t *testing.T) {
	c := newCluster(t, 1, nodeOptions{})
	at := signedInToken(t, c)
	if s := userinfoStatus(t, c, 0, at); s != http.StatusOK {
		t.Fatalf("userinfo: %d", s)
	}
	if _, err := c.nodes[0].durable.Pool().Exec(t.Context(), `UPDATE users SET disabled = TRUE WHERE id = $1`, c.user.ID); err != nil {
		t.Fatal(err)
	}
	if s := userinfoStatus(t, c, 0, at); s != http.StatusOK {
		t.Fatalf("userinfo right after a write the cache was not told of: %d; is the user cached at all?", s)
	}
	killPubSub(t)
	eventually(t, "the node forgets its cache after reconnecting", func() bool { return userinfoStatus(t, c, 0, at) != http.StatusOK })
}

// killPubSub closes Redis's pub/sub connections, as a network cut would.
func killPubSub(t *testing.T) {
	t.Helper()
	o, err := goredis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(o)
	defer rdb.Close()
	if err := rdb.Do(context.WithoutCancel(t.Context()), "client", "kill", "type", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
}

// A client changed through one node is seen at once by the provider's
// client cache on that node and, through Redis, on another node that had
// the client cached (the nodes' clocks stand still, so no entry expires).
func TestClientChangeReachesOtherNodes(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	svc := c.apps["service"]
	grant := url.Values{"grant_type": {"client_credentials"}}
	for i := range c.nodes {
		c.target.Store(int32(i))
		if r := c.tokenRequestAuth(grant, svc.id, svc.secret); r.status != http.StatusOK {
			t.Fatalf("token on node %d: %+v", i, r)
		}
	}
	// Both nodes now hold the client; node 0 changes its secret.
	if err := c.nodes[0].durable.UpdateClient(t.Context(), svc.id, func(cl *storage.Client) error {
		cl.SecretHash = password.HashSecret("a-new-secret-a-new-secret")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d refuses the old secret", i), func() bool {
			c.target.Store(int32(i))
			return c.tokenRequestAuth(grant, svc.id, svc.secret).status == http.StatusUnauthorized
		})
	}
}
