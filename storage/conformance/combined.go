package conformance

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"satupintu/storage"
)

// testRequestWithCode: the single sign-on step stores a request and its
// code together, and refuses, storing nothing, when either is taken.
func testRequestWithCode(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	r := fullAuthRequest("ar-sso")
	mustOK(t, "CreateAuthRequestWithCode", s.CreateAuthRequestWithCode(ctx, r, time.Hour, "code-sso", time.Minute))
	got, err := s.AuthRequestByID(ctx, "ar-sso")
	mustOK(t, "AuthRequestByID", err)
	checkEqual(t, "AuthRequestByID", r, got)

	// A taken code: the new request is not stored either.
	checkErr(t, "CreateAuthRequestWithCode with a taken code",
		s.CreateAuthRequestWithCode(ctx, fullAuthRequest("ar-other"), time.Hour, "code-sso", time.Minute), storage.ErrAlreadyExists)
	if _, err := s.AuthRequestByID(ctx, "ar-other"); !isNotFound(err) {
		t.Errorf("request of a refused CreateAuthRequestWithCode: %v, want ErrNotFound", err)
	}
	// A taken request id: the code is not stored.
	checkErr(t, "CreateAuthRequestWithCode with a taken id",
		s.CreateAuthRequestWithCode(ctx, fullAuthRequest("ar-sso"), time.Hour, "code-new", time.Minute), storage.ErrAlreadyExists)
	if _, err := s.ConsumeAuthCode(ctx, "code-new"); !isNotFound(err) {
		t.Errorf("code of a refused CreateAuthRequestWithCode: %v, want ErrNotFound", err)
	}

	// The code redeems once, with the request.
	got, err = s.ConsumeAuthCode(ctx, "code-sso")
	mustOK(t, "ConsumeAuthCode", err)
	checkEqual(t, "ConsumeAuthCode", r, got)
	if _, err := s.ConsumeAuthCode(ctx, "code-sso"); !isNotFound(err) {
		t.Errorf("second ConsumeAuthCode: %v, want ErrNotFound", err)
	}
}

// testIssueAccessToken: a token of a sign-in, its session's client list
// and the code's replay record are written together.
func testIssueAccessToken(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	sess := fullSession("sess-issue", "user-1", c)
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	tok := fullAccessToken("t-issue", "fam-issue", c)
	with := storage.TokenWrites{SessionID: sess.ID, Once: storage.OnceValue{Key: "used:1", Value: []byte("grant"), TTL: time.Minute}}
	mustOK(t, "IssueAccessToken", s.IssueAccessToken(ctx, tok, with))

	got, err := s.AccessTokenByID(ctx, tok.ID)
	mustOK(t, "AccessTokenByID", err)
	checkEqual(t, "AccessTokenByID", tok, got)
	gotSess, err := s.SessionByID(ctx, sess.ID)
	mustOK(t, "SessionByID", err)
	if !slices.Contains(gotSess.ClientIDs, tok.ClientID) {
		t.Errorf("session clients %q lack %q", gotSess.ClientIDs, tok.ClientID)
	}
	n := len(gotSess.ClientIDs)

	// The family index holds the token: revoking the family deletes it.
	mustOK(t, "DeleteAccessTokenFamily", s.DeleteAccessTokenFamily(ctx, "fam-issue"))
	if _, err := s.AccessTokenByID(ctx, tok.ID); !isNotFound(err) {
		t.Errorf("token after its family was revoked: %v, want ErrNotFound", err)
	}

	// A taken id stores nothing new; a client already listed is not
	// listed twice; a live one-time key keeps its value; a session that is
	// gone is no error.
	mustOK(t, "IssueAccessToken", s.IssueAccessToken(ctx, fullAccessToken("t-issue2", "", c), storage.TokenWrites{SessionID: sess.ID,
		Once: storage.OnceValue{Key: "used:1", Value: []byte("other"), TTL: time.Minute}}))
	checkErr(t, "IssueAccessToken with a taken id", s.IssueAccessToken(ctx, fullAccessToken("t-issue2", "", c), storage.TokenWrites{}), storage.ErrAlreadyExists)
	gotSess, err = s.SessionByID(ctx, sess.ID)
	mustOK(t, "SessionByID", err)
	if len(gotSess.ClientIDs) != n {
		t.Errorf("session clients %q after a second token of the same client, want %d entries", gotSess.ClientIDs, n)
	}
	v, err := s.TakeOnce(ctx, "used:1")
	mustOK(t, "TakeOnce", err)
	if !bytes.Equal(v, []byte("grant")) {
		t.Errorf("one-time value = %q, want the first one kept", v)
	}
	mustOK(t, "IssueAccessToken for a session that is gone",
		s.IssueAccessToken(ctx, fullAccessToken("t-issue3", "", c), storage.TokenWrites{SessionID: "no-such-session"}))
	if _, err := s.AccessTokenByID(ctx, "t-issue3"); err != nil {
		t.Errorf("token for a session that is gone: %v", err)
	}
}

// testIncrChain: counters in order, stopping after the first over its max.
func testIncrChain(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	steps := []storage.CountStep{{Key: "q:addr", Window: time.Hour, Max: 2}, {Key: "q:total", Window: time.Hour, Max: 10}}
	for want := int64(1); want <= 2; want++ {
		n, err := s.IncrChain(ctx, steps)
		mustOK(t, "IncrChain", err)
		if !slices.Equal(n, []int64{want, want}) {
			t.Errorf("IncrChain #%d = %v, want [%d %d]", want, n, want, want)
		}
	}
	// The address is over its maximum: the total is not counted.
	n, err := s.IncrChain(ctx, steps)
	mustOK(t, "IncrChain", err)
	if !slices.Equal(n, []int64{3}) {
		t.Errorf("IncrChain over the first maximum = %v, want [3]", n)
	}
	if got := mustCount(t, s, "q:total"); got != 2 {
		t.Errorf("total after a refused step = %d, want 2", got)
	}
	// Zero means no maximum; the counters are the ones Incr sees.
	n, err = s.IncrChain(ctx, []storage.CountStep{{Key: "q:addr", Window: time.Hour}, {Key: "q:total", Window: time.Hour}})
	mustOK(t, "IncrChain", err)
	if !slices.Equal(n, []int64{4, 3}) {
		t.Errorf("IncrChain without maxima = %v, want [4 3]", n)
	}
	if _, err := s.IncrChain(ctx, []storage.CountStep{{Key: "q:bad", Window: 0}}); err == nil {
		t.Error("IncrChain with a zero window succeeded, want an error")
	}
}
