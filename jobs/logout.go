package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/riverqueue/river"
)

// LogoutArgs is one back-channel logout to deliver (OIDC Back-Channel
// Logout 1.0): tell ClientID that the session SID of user UserID ended.
// The token is made when the job runs, not when it is queued, so a retry
// an hour later still sends a fresh, short-lived one; and the job holds no
// token for River's tools to show.
type LogoutArgs struct {
	ClientID string `json:"client_id"`
	UserID   string `json:"sub"`
	SID      string `json:"sid,omitempty"`
}

// Kind names logout jobs in River's table; never change it while jobs of
// the old name may wait.
func (LogoutArgs) Kind() string { return "backchannel_logout" }

// logoutMaxAttempts: with the queue's backoff (10 s doubling to 30 min)
// about six hours of trying. A relying party down longer than that has
// lost its sessions' state anyway, or will find them at its next check.
const logoutMaxAttempts = 20

// InsertOpts bounds the attempts; logouts are not unique, each ended
// session is told once.
func (LogoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: logoutMaxAttempts}
}

// Logouts queues back-channel logouts on a Queue (op.LogoutQueue).
type Logouts struct{ q *Queue }

// NewLogouts returns the producer side; the worker is registered with
// RegisterLogoutWorker once the provider that signs the tokens exists.
func NewLogouts(q *Queue) *Logouts { return &Logouts{q: q} }

// QueueLogout queues the logout of one client for the ended session.
func (l *Logouts) QueueLogout(ctx context.Context, clientID, userID, sid string) error {
	if err := l.q.Enqueue(ctx, nil, LogoutArgs{ClientID: clientID, UserID: userID, SID: sid}, nil); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// LogoutNotices gives, at delivery time, the client's registered
// back-channel logout URI and a freshly signed logout token (op.Provider).
// An empty uri means there is nothing to deliver any more.
type LogoutNotices interface {
	LogoutNotice(ctx context.Context, clientID, userID, sid string) (uri, token string, err error)
}

// FormPoster posts a form to a client-registered URI under the provider's
// SSRF rules (account.Linker.PostForm).
type FormPoster interface {
	PostForm(ctx context.Context, endpoint string, form url.Values) (int, error)
}

// logoutTimeout bounds one delivery attempt; the poster's own limits are
// shorter, this covers the signing key load too.
const logoutTimeout = 30 * time.Second

// LogoutWorker delivers back-channel logouts: it POSTs the logout token as
// the form field logout_token (§2.5). Anything but 200 or 204 is retried
// with the queue's backoff.
type LogoutWorker struct {
	river.WorkerDefaults[LogoutArgs]
	Notices LogoutNotices
	Poster  FormPoster
	Logger  *slog.Logger
}

// RegisterLogoutWorker registers w on q, before q starts.
func RegisterLogoutWorker(q *Queue, w *LogoutWorker) error {
	if w.Logger == nil {
		w.Logger = q.logger
	}
	return Register(q, w)
}

// Timeout bounds one attempt.
func (w *LogoutWorker) Timeout(*river.Job[LogoutArgs]) time.Duration { return logoutTimeout }

// Work makes the token and posts it.
func (w *LogoutWorker) Work(ctx context.Context, job *river.Job[LogoutArgs]) error {
	a := job.Args
	uri, token, err := w.Notices.LogoutNotice(ctx, a.ClientID, a.UserID, a.SID)
	if err != nil {
		return fmt.Errorf("logout: %s: %w", a.ClientID, err)
	}
	if uri == "" {
		w.Logger.InfoContext(ctx, "back-channel logout dropped: no uri", "job_id", job.ID, "client_id", a.ClientID)
		return nil
	}
	status, err := w.Poster.PostForm(ctx, uri, url.Values{"logout_token": {token}})
	if err != nil {
		return fmt.Errorf("logout: post to %s: %w", a.ClientID, err)
	}
	// §2.8: 200 OK on success; some answer 204, which means the same.
	if status != http.StatusOK && status != http.StatusNoContent {
		return fmt.Errorf("logout: %s answered status %d", a.ClientID, status)
	}
	w.Logger.InfoContext(ctx, "back-channel logout delivered", "job_id", job.ID, "client_id", a.ClientID, "attempt", job.Attempt)
	return nil
}
