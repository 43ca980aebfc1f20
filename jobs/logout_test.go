package jobs_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"

	"satupintu/jobs"
)

// notices stands in for op.Provider: a token per call, numbered.
type notices struct{}

func (notices) LogoutNotice(_ context.Context, clientID, userID, sid string) (string, string, error) {
	return "https://" + clientID + ".example/bcl", "token-for-" + userID + "-" + sid, nil
}

// relyingParty stands in for the SSRF-safe poster and the relying party
// behind it: it answers status (or fails with err) and records the forms.
type relyingParty struct {
	mu     sync.Mutex
	status int
	err    error
	forms  []url.Values
	uris   []string
}

func (r *relyingParty) PostForm(_ context.Context, uri string, form url.Values) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forms = append(r.forms, form)
	r.uris = append(r.uris, uri)
	return r.status, r.err
}

func (r *relyingParty) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.forms)
}

// TestLogoutSurvivesOutageAndRestart: a logout queued while the relying
// party is down is retried, survives the node that queued it, and is
// delivered by the next node once the relying party is back.
func TestLogoutSurvivesOutageAndRestart(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			down := &relyingParty{err: errors.New("connection refused")}
			s, q := b.open(t, testConfig())
			if err := jobs.RegisterLogoutWorker(q, &jobs.LogoutWorker{Notices: notices{}, Poster: down}); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			first := &node{store: s, queue: q}
			if err := jobs.NewLogouts(q).QueueLogout(t.Context(), "insw", "user-1", "sid-1"); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "two failed attempts", func() bool { return down.calls() >= 2 })
			first.stop()

			up := &relyingParty{status: 200}
			s, q = b.open(t, testConfig())
			if err := jobs.RegisterLogoutWorker(q, &jobs.LogoutWorker{Notices: notices{}, Poster: up}); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			second := &node{store: s, queue: q}
			t.Cleanup(second.stop)
			waitUntil(t, "delivery by the restarted node", func() bool { return up.calls() >= 1 })
			up.mu.Lock()
			defer up.mu.Unlock()
			if got := up.forms[0].Get("logout_token"); got != "token-for-user-1-sid-1" || up.uris[0] != "https://insw.example/bcl" {
				t.Errorf("posted %v to %s", up.forms[0], up.uris[0])
			}
		})
	}
}

// TestLogoutRetriesOnErrorStatus: a relying party answering 500 gets the
// token again; 200 ends the job.
func TestLogoutRetriesOnErrorStatus(t *testing.T) {
	b := backends(t)[0]
	rp := &relyingParty{status: 500}
	s, q := b.open(t, testConfig())
	if err := jobs.RegisterLogoutWorker(q, &jobs.LogoutWorker{Notices: notices{}, Poster: rp}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := &node{store: s, queue: q}
	t.Cleanup(n.stop)
	if err := jobs.NewLogouts(q).QueueLogout(t.Context(), "insw", "user-1", "sid-1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a retry after 500", func() bool { return rp.calls() >= 2 })
	rp.mu.Lock()
	rp.status = 200
	rp.mu.Unlock()
	waitUntil(t, "the queue to settle", func() bool {
		d, err := q.Depth(t.Context())
		return err == nil && d.Available+d.Running+d.Retryable+d.Scheduled == 0
	})
	if d, err := q.Depth(t.Context()); err != nil || d.Discarded != 0 {
		t.Errorf("depth %+v, %v: the delivered logout was given up", d, err)
	}
}
