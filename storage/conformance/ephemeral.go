package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"satupintu/storage"
)

// RunEphemeral runs the short-lived-state suite. open must return a fresh
// store that reads the time from clock.Now, or call clock.UseRealTime if it
// cannot; the suite closes the store when the subtest ends.
func RunEphemeral(t *testing.T, open func(t *testing.T, clock *Clock) storage.Ephemeral) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Ephemeral, c *Clock)
		// waits marks tests that wait for an expiry: on a real clock they
		// run in parallel so the sleeps overlap.
		waits bool
	}{
		{name: "ping", run: testEphemeralPing},
		{name: "count sessions", run: testCountSessions},
		{name: "missing entries are ErrNotFound", run: testEphemeralNotFound},
		{name: "auth request round trip", run: testAuthRequestRoundTrip},
		{name: "update auth request", run: testUpdateAuthRequest},
		{name: "auth code is single-use", run: testAuthCode},
		{name: "concurrent code redemption has one winner", run: testAuthCodeConcurrent},
		{name: "session lifecycle", run: testSessions},
		{name: "concurrent session clients lose nothing", run: testSessionClientsConcurrent},
		{name: "session cap ends the oldest sessions", run: testSessionCap},
		{name: "concurrent capped creates keep the cap", run: testSessionCapConcurrent},
		{name: "access tokens", run: testAccessTokens},
		{name: "one-time values", run: testOneTime},
		{name: "concurrent take has one winner", run: testOneTimeConcurrent},
		{name: "counters", run: testCounters},
		{name: "concurrent increments lose nothing", run: testCountersConcurrent},
		{name: "drafts", run: testDrafts},
		{name: "request with code in one step", run: testRequestWithCode},
		{name: "access token with its writes in one step", run: testIssueAccessToken},
		{name: "counter chain", run: testIncrChain},
		{name: "device authorization round trip", run: testDeviceAuthorization},
		{name: "device user code is unique", run: testDeviceUserCodeUnique},
		{name: "concurrent device decisions have one winner", run: testDeviceConcurrent},
		{name: "auth request expires", run: testAuthRequestExpiry, waits: true},
		{name: "auth request update keeps its TTL", run: testAuthRequestUpdateKeepsTTL, waits: true},
		{name: "auth code expires", run: testAuthCodeExpiry, waits: true},
		{name: "session expires at ExpiresAt", run: testSessionExpiry, waits: true},
		{name: "access token expires at ExpiresAt", run: testAccessTokenExpiry, waits: true},
		{name: "one-time value expires", run: testOneTimeExpiry, waits: true},
		{name: "counter window is fixed and expires", run: testCounterWindow, waits: true},
		{name: "draft expires ttl after the last save", run: testDraftExpiry, waits: true},
		{name: "device authorization expires", run: testDeviceExpiry, waits: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A whole-second start keeps ExpiresAt values microsecond-exact.
			c := NewClock(time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC))
			s := open(t, c)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			if tc.waits && c.Real() {
				t.Parallel()
			}
			tc.run(t, s, c)
		})
	}
}

func testEphemeralPing(t *testing.T, s storage.Ephemeral, _ *Clock) {
	mustOK(t, "Ping", s.Ping(t.Context()))
}

func testEphemeralNotFound(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	// Something exists, so a backend cannot pass by being empty.
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req"), time.Hour))
	mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession("sess", "user-1", c)))
	mustOK(t, "CreateAccessToken", s.CreateAccessToken(ctx, fullAccessToken("tok", "fam", c)))
	mustOK(t, "PutOnce", s.PutOnce(ctx, "key", []byte("v"), time.Hour))

	if got, err := s.AuthRequestByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("AuthRequestByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	checkErr(t, "UpdateAuthRequest", s.UpdateAuthRequest(ctx, "missing", func(*storage.AuthRequest) error {
		t.Error("UpdateAuthRequest called fn for a missing request")
		return nil
	}), storage.ErrNotFound)
	// A code for a request that does not exist could never be redeemed.
	checkErr(t, "SaveAuthCode for a missing request", s.SaveAuthCode(ctx, "missing", "code", time.Minute), storage.ErrNotFound)
	if got, err := s.ConsumeAuthCode(ctx, "code"); !isNotFound(err) {
		t.Errorf("ConsumeAuthCode: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.SessionByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("SessionByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	checkErr(t, "AddSessionClient", s.AddSessionClient(ctx, "missing", "ebpom"), storage.ErrNotFound)
	if got, err := s.UserSessions(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("UserSessions of a user without sessions: got (%v, %v), want (none, nil)", got, err)
	}
	if got, err := s.AccessTokenByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("AccessTokenByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.TakeOnce(ctx, "missing"); !isNotFound(err) {
		t.Errorf("TakeOnce: got (%q, %v), want ErrNotFound", got, err)
	}
	// Deleting what is not there succeeds: logout and revocation are
	// idempotent (RFC 7009 §2.2 answers 200 for an unknown token).
	mustOK(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, "missing"))
	mustOK(t, "DeleteSession", s.DeleteSession(ctx, "missing"))
	mustOK(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, "nobody"))
	mustOK(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, "missing"))
	mustOK(t, "DeleteAccessTokenFamily", s.DeleteAccessTokenFamily(ctx, "missing"))
}

func fullAuthRequest(id string) storage.AuthRequest {
	maxAge := int64(3600)
	return storage.AuthRequest{
		ID:                  id,
		ClientID:            "ebpom",
		RedirectURI:         "https://ebpom.example.go.id/callback",
		Scopes:              []string{"openid", "profile", "organization"},
		State:               "state-123",
		Nonce:               "nonce-456",
		ResponseType:        "code",
		ResponseMode:        "query",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              &maxAge,
		LoginHint:           "budi@example.co.id",
		HintSubject:         "sub-789",
		UILocales:           []string{"id", "en"},
		ACRValues:           []string{"urn:satupintu:mfa"},
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		CreatedAt:           instant(0),
		Done:                true,
		UserID:              "user-1",
		AuthTime:            instant(1),
		AMR:                 []string{"pwd"},
		SessionID:           "sess-1",
		SID:                 "sid-1",
	}
}

func testAuthRequestRoundTrip(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	for _, r := range []storage.AuthRequest{fullAuthRequest("full"), {ID: "minimal"}} {
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r, time.Hour))
		got, err := s.AuthRequestByID(ctx, r.ID)
		mustOK(t, "AuthRequestByID", err)
		checkEqual(t, "AuthRequestByID", r, got)
		checkUTC(t, "AuthRequestByID", got)
	}
	if got, _ := s.AuthRequestByID(ctx, "minimal"); got.MaxAge != nil {
		t.Errorf("nil MaxAge came back as %d", *got.MaxAge)
	}
	checkErr(t, "CreateAuthRequest with a taken id", s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "full"}, time.Hour),
		storage.ErrAlreadyExists)

	// What a caller holds is a copy: changing it changes nothing stored.
	got, err := s.AuthRequestByID(ctx, "full")
	mustOK(t, "AuthRequestByID", err)
	got.Scopes[0], *got.MaxAge, got.AMR[0] = "changed", 1, "changed"
	again, err := s.AuthRequestByID(ctx, "full")
	mustOK(t, "AuthRequestByID", err)
	checkEqual(t, "request after the caller changed its copy", fullAuthRequest("full"), again)
}

func testUpdateAuthRequest(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	r := fullAuthRequest("req")
	r.Done, r.UserID, r.AuthTime, r.AMR, r.SessionID, r.SID = false, "", time.Time{}, nil, "", ""
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r, time.Hour))

	want := fullAuthRequest("req")
	mustOK(t, "UpdateAuthRequest", s.UpdateAuthRequest(ctx, r.ID, func(got *storage.AuthRequest) error {
		checkEqual(t, "record given to UpdateAuthRequest's fn", r, *got)
		got.Done, got.UserID, got.AuthTime, got.AMR, got.SessionID = want.Done, want.UserID, want.AuthTime, want.AMR, want.SessionID
		got.SID = want.SID
		return nil
	}))
	// The failing fn scribbles on everything, slices and pointers included:
	// none of it may reach the stored request.
	err := s.UpdateAuthRequest(ctx, r.ID, func(got *storage.AuthRequest) error {
		got.UserID, got.Scopes[0], *got.MaxAge, got.AMR[0] = "attacker", "admin", 0, "none"
		return errFn
	})
	checkErr(t, "UpdateAuthRequest with a failing fn", err, errFn)
	got, err := s.AuthRequestByID(ctx, r.ID)
	mustOK(t, "AuthRequestByID", err)
	checkEqual(t, "updated request", want, got)
	checkUTC(t, "updated request", got)
}

func testAuthCode(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	r := fullAuthRequest("req")
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r, time.Hour))
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, r.ID, "code-1", time.Minute))
	got, err := s.ConsumeAuthCode(ctx, "code-1")
	mustOK(t, "ConsumeAuthCode", err)
	checkEqual(t, "ConsumeAuthCode", r, got)
	checkUTC(t, "ConsumeAuthCode", got)

	// RFC 6749 §4.1.2: a code is used once; the request goes with it.
	if got, err := s.ConsumeAuthCode(ctx, "code-1"); !isNotFound(err) {
		t.Errorf("second ConsumeAuthCode: got (%+v, %v), want ErrNotFound", got, err)
	}
	if _, err := s.AuthRequestByID(ctx, r.ID); !isNotFound(err) {
		t.Errorf("AuthRequestByID after the code was consumed: got %v, want ErrNotFound", err)
	}

	// Deleting the request (user cancelled) makes its code useless.
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req-2"), time.Hour))
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, "req-2", "code-2", time.Minute))
	mustOK(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, "req-2"))
	if _, err := s.AuthRequestByID(ctx, "req-2"); !isNotFound(err) {
		t.Errorf("AuthRequestByID after delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeAuthCode(ctx, "code-2"); !isNotFound(err) {
		t.Errorf("ConsumeAuthCode of a deleted request: got %v, want ErrNotFound", err)
	}
}

func testAuthCodeConcurrent(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req"), time.Hour))
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, "req", "code", time.Minute))
	const n = 10
	errs := runConcurrently(n, func(int) error {
		_, err := s.ConsumeAuthCode(ctx, "code")
		return err
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !isNotFound(err):
			t.Errorf("ConsumeAuthCode %d: got %v, want nil or ErrNotFound", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d concurrent redemptions of one code succeeded, want exactly 1", winners, n)
	}
}

func fullSession(id, user string, c *Clock) storage.Session {
	return storage.Session{
		ID:        id,
		SID:       "sid-" + id,
		UserID:    user,
		AuthTime:  instant(-5),
		AMR:       []string{"pwd", "otp"},
		ClientIDs: []string{"ebpom"},
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		IP:        "203.0.113.7",
		CreatedAt: instant(-5),
		ExpiresAt: c.Now().Add(8 * time.Hour).In(jakarta()),
	}
}

func testSessions(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	sess := fullSession("s1", "user-1", c)
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	got, err := s.SessionByID(ctx, sess.ID)
	mustOK(t, "SessionByID", err)
	checkEqual(t, "SessionByID", sess, got)
	checkUTC(t, "SessionByID", got)
	checkErr(t, "CreateSession with a taken id", s.CreateSession(ctx, fullSession("s1", "user-2", c)), storage.ErrAlreadyExists)

	// Each client is recorded once, in the order they first got tokens.
	for _, client := range []string{"insw", "ebpom", "insw", "cargolink"} {
		mustOK(t, "AddSessionClient", s.AddSessionClient(ctx, sess.ID, client))
	}
	got, err = s.SessionByID(ctx, sess.ID)
	mustOK(t, "SessionByID", err)
	checkEqual(t, "ClientIDs", []string{"ebpom", "insw", "cargolink"}, got.ClientIDs)

	mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession("s2", "user-1", c)))
	mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession("s3", "user-2", c)))
	mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession("s4", "user-2", c)))
	checkUserSessions := func(user string, want ...string) {
		t.Helper()
		list, err := s.UserSessions(ctx, user)
		mustOK(t, "UserSessions", err)
		var ids []string
		for _, l := range list {
			ids = append(ids, l.ID)
			if l.UserID != user {
				t.Errorf("UserSessions(%s) returned a session of %s", user, l.UserID)
			}
		}
		slices.Sort(ids)
		checkEqual(t, "UserSessions("+user+")", want, ids)
		checkUTC(t, "UserSessions", list)
	}
	checkUserSessions("user-1", "s1", "s2")
	checkUserSessions("user-2", "s3", "s4")

	mustOK(t, "DeleteSession", s.DeleteSession(ctx, "s1"))
	if _, err := s.SessionByID(ctx, "s1"); !isNotFound(err) {
		t.Errorf("SessionByID after delete: got %v, want ErrNotFound", err)
	}
	checkUserSessions("user-1", "s2")
	mustOK(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, "user-2"))
	checkUserSessions("user-2")
	checkUserSessions("user-1", "s2")
	if _, err := s.SessionByID(ctx, "s3"); !isNotFound(err) {
		t.Errorf("SessionByID after DeleteUserSessions: got %v, want ErrNotFound", err)
	}
}

func testSessionClientsConcurrent(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	sess := fullSession("s1", "user-1", c)
	sess.ClientIDs = nil
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	const n = 10
	errs := runConcurrently(n, func(i int) error {
		return s.AddSessionClient(ctx, sess.ID, fmt.Sprintf("client-%02d", i%5))
	})
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("AddSessionClient %d", i), err)
	}
	got, err := s.SessionByID(ctx, sess.ID)
	mustOK(t, "SessionByID", err)
	slices.Sort(got.ClientIDs)
	checkEqual(t, "ClientIDs after concurrent adds", []string{"client-00", "client-01", "client-02", "client-03", "client-04"}, got.ClientIDs)
}

// cappedSession is fullSession for the i-th sign-in of user: each later
// one expires a second later, so the i order is the expiry order.
func cappedSession(id, user string, i int, c *Clock) storage.Session {
	s := fullSession(id, user, c)
	s.CreatedAt = instant(i)
	s.ExpiresAt = s.ExpiresAt.Add(time.Duration(i) * time.Second)
	return s
}

func sessionIDs(list []storage.Session) []string {
	ids := []string{}
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func testSessionCap(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	created := map[string]storage.Session{}
	createSession := func(sess storage.Session, limit int) []string {
		t.Helper()
		created[sess.ID] = sess
		ended, err := s.CreateSessionCapped(ctx, sess, limit)
		mustOK(t, "CreateSessionCapped "+sess.ID, err)
		for _, e := range ended {
			checkEqual(t, "ended session "+e.ID, created[e.ID], e)
		}
		return sessionIDs(ended)
	}
	create := func(id, user string, i, limit int) []string {
		t.Helper()
		return createSession(cappedSession(id, user, i, c), limit)
	}
	live := func(user string, want ...string) {
		t.Helper()
		list, err := s.UserSessions(ctx, user)
		mustOK(t, "UserSessions", err)
		checkEqual(t, "live sessions of "+user, want, sessionIDs(list))
	}
	// Out of creation order on purpose: expiry, not the order of calls,
	// decides which is oldest.
	for _, x := range []struct {
		id string
		i  int
	}{{"s2", 2}, {"s1", 1}, {"s3", 3}} {
		if ended := create(x.id, "user-1", x.i, 3); len(ended) != 0 {
			t.Errorf("under the cap, %s ended %v", x.id, ended)
		}
	}
	create("other", "user-2", 0, 3)
	checkEqual(t, "ended by the 4th of 3", []string{"s1"}, create("s4", "user-1", 4, 3))
	live("user-1", "s2", "s3", "s4")
	if _, err := s.SessionByID(ctx, "s1"); !isNotFound(err) {
		t.Errorf("SessionByID of the ended session: %v, want ErrNotFound", err)
	}
	live("user-2", "other") // another user's sessions are not counted

	// A deleted session frees its place.
	mustOK(t, "DeleteSession", s.DeleteSession(ctx, "s2"))
	checkEqual(t, "ended after a logout", []string{}, create("s5", "user-1", 5, 3))
	live("user-1", "s3", "s4", "s5")

	// A lower cap ends as many as it takes; the new session always stays,
	// even when it ends before the others.
	checkEqual(t, "ended by a cap of 2", []string{"s3", "s4"}, create("s0", "user-1", -1, 2))
	live("user-1", "s0", "s5")

	// A taken id ends nothing.
	_, err := s.CreateSessionCapped(ctx, cappedSession("s5", "user-1", 9, c), 1)
	checkErr(t, "CreateSessionCapped with a taken id", err, storage.ErrAlreadyExists)
	live("user-1", "s0", "s5")

	// No cap: nothing ended, by either create.
	checkEqual(t, "ended without a cap", []string{}, create("s6", "user-1", 6, 0))
	mustOK(t, "CreateSession", s.CreateSession(ctx, cappedSession("s7", "user-1", 7, c)))
	live("user-1", "s0", "s5", "s6", "s7")

	// Equal expiries: the smaller id goes first.
	same := cappedSession("", "user-3", 0, c).ExpiresAt
	for _, id := range []string{"b", "a"} {
		sess := cappedSession(id, "user-3", 0, c)
		sess.ExpiresAt = same
		createSession(sess, 2)
	}
	checkEqual(t, "ended among equal expiries", []string{"a"}, create("c", "user-3", 1, 2))
	live("user-3", "b", "c")

	// Many sign-ins keep exactly the cap, the newest.
	for i := range 25 {
		create(fmt.Sprintf("m%02d", i), "user-4", i, 5)
	}
	live("user-4", "m20", "m21", "m22", "m23", "m24")
}

// Sign-ins at the same moment on several nodes: the cap holds, and every
// session is either live or ended by exactly one create.
func testSessionCapConcurrent(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	const n, limit = 10, 3
	ended := make([][]storage.Session, n)
	errs := runConcurrently(n, func(i int) error {
		var err error
		ended[i], err = s.CreateSessionCapped(ctx, cappedSession(fmt.Sprintf("s%02d", i), "user-1", i, c), limit)
		return err
	})
	seen := map[string]int{}
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("CreateSessionCapped %d", i), err)
		for _, e := range ended[i] {
			seen[e.ID]++
		}
	}
	list, err := s.UserSessions(ctx, "user-1")
	mustOK(t, "UserSessions", err)
	if len(list) != limit {
		t.Errorf("%d live sessions after %d concurrent sign-ins, want the cap %d", len(list), n, limit)
	}
	for _, l := range list {
		seen[l.ID]++
	}
	for i := range n {
		if id := fmt.Sprintf("s%02d", i); seen[id] != 1 {
			t.Errorf("session %s is live or ended %d times, want once", id, seen[id])
		}
	}
}

func fullAccessToken(id, family string, c *Clock) storage.AccessToken {
	return storage.AccessToken{
		ID:             id,
		ClientID:       "ebpom",
		UserID:         "user-1",
		Scopes:         []string{"openid", "organization"},
		Audience:       []string{"ebpom", "https://api.example.go.id"},
		FamilyID:       family,
		OrganizationID: "org-1",
		JKT:            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		CreatedAt:      instant(0),
		ExpiresAt:      c.Now().Add(time.Hour).In(jakarta()),
	}
}

func testAccessTokens(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	full := fullAccessToken("t1", "fam-a", c)
	clientCredentials := storage.AccessToken{ID: "t0", ClientID: "insw", ExpiresAt: c.Now().Add(time.Hour)}
	for _, tok := range []storage.AccessToken{full, clientCredentials} {
		mustOK(t, "CreateAccessToken", s.CreateAccessToken(ctx, tok))
		got, err := s.AccessTokenByID(ctx, tok.ID)
		mustOK(t, "AccessTokenByID", err)
		checkEqual(t, "AccessTokenByID", tok, got)
		checkUTC(t, "AccessTokenByID", got)
	}
	checkErr(t, "CreateAccessToken with a taken id", s.CreateAccessToken(ctx, fullAccessToken("t1", "x", c)), storage.ErrAlreadyExists)

	for _, tok := range []storage.AccessToken{fullAccessToken("t2", "fam-a", c), fullAccessToken("t3", "fam-b", c)} {
		mustOK(t, "CreateAccessToken", s.CreateAccessToken(ctx, tok))
	}
	mustOK(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, "t0"))
	mustOK(t, "DeleteAccessTokenFamily", s.DeleteAccessTokenFamily(ctx, "fam-a"))
	for id, live := range map[string]bool{"t0": false, "t1": false, "t2": false, "t3": true} {
		_, err := s.AccessTokenByID(ctx, id)
		switch {
		case live && err != nil:
			t.Errorf("token %s should remain: %v", id, err)
		case !live && !isNotFound(err):
			t.Errorf("token %s should be deleted: got %v", id, err)
		}
	}
}

func testOneTime(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	value := []byte("captcha-answer\x00\xff")
	mustOK(t, "PutOnce", s.PutOnce(ctx, "k", value, time.Minute))
	value[0] = 'X' // the store must have kept its own copy
	checkErr(t, "PutOnce with a taken key", s.PutOnce(ctx, "k", []byte("other"), time.Minute), storage.ErrAlreadyExists)
	got, err := s.TakeOnce(ctx, "k")
	mustOK(t, "TakeOnce", err)
	if !bytes.Equal(got, []byte("captcha-answer\x00\xff")) {
		t.Errorf("TakeOnce = %q, want the value put", got)
	}
	if got, err := s.TakeOnce(ctx, "k"); !isNotFound(err) {
		t.Errorf("second TakeOnce: got (%q, %v), want ErrNotFound", got, err)
	}
	// Once taken, the key is free again.
	mustOK(t, "PutOnce after take", s.PutOnce(ctx, "k", []byte("again"), time.Minute))
}

func testOneTimeConcurrent(t *testing.T, s storage.Ephemeral, _ *Clock) {
	ctx := t.Context()
	mustOK(t, "PutOnce", s.PutOnce(ctx, "k", []byte("v"), time.Minute))
	errs := runConcurrently(10, func(int) error {
		_, err := s.TakeOnce(ctx, "k")
		return err
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !isNotFound(err):
			t.Errorf("TakeOnce %d: got %v, want nil or ErrNotFound", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent takes of one value succeeded, want exactly 1", winners)
	}
}

func testAuthRequestExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	from := c.Now()
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req"), ttl))
	exp := c.expiresIn(from, ttl)
	// The code outlives the request: redeeming it must still fail.
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, "req", "code", 10*ttl))
	checkExpiry(t, c, exp, "AuthRequestByID", func() error {
		_, err := s.AuthRequestByID(ctx, "req")
		return err
	})
	checkErr(t, "UpdateAuthRequest of an expired request", s.UpdateAuthRequest(ctx, "req", func(*storage.AuthRequest) error {
		return nil
	}), storage.ErrNotFound)
	if _, err := s.ConsumeAuthCode(ctx, "code"); !isNotFound(err) {
		t.Errorf("ConsumeAuthCode for an expired request: got %v, want ErrNotFound", err)
	}
	// An expired id is free again.
	mustOK(t, "CreateAuthRequest over an expired one", s.CreateAuthRequest(ctx, fullAuthRequest("req"), ttl))
}

func testAuthRequestUpdateKeepsTTL(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	from := c.Now()
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req"), ttl))
	exp := c.expiresIn(from, ttl)
	c.Advance(ttl / 2)
	err := s.UpdateAuthRequest(ctx, "req", func(r *storage.AuthRequest) error {
		r.State = "updated"
		return nil
	})
	if err != nil && c.before(exp.earliest) {
		t.Fatalf("UpdateAuthRequest before expiry: %v", err)
	}
	// The update did not restart the lifetime: the request expires when it
	// would have without it.
	checkExpiry(t, c, exp, "AuthRequestByID after update", func() error {
		_, err := s.AuthRequestByID(ctx, "req")
		return err
	})
}

func testAuthCodeExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("req"), 10*ttl))
	mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest("edge"), 10*ttl))
	from := c.Now()
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, "edge", "edge-code", ttl))
	mustOK(t, "SaveAuthCode", s.SaveAuthCode(ctx, "req", "code", ttl))
	exp := c.expiresIn(from, ttl)
	justBeforeExpiry(c, exp)
	if _, err := s.ConsumeAuthCode(ctx, "edge-code"); err != nil && c.before(exp.earliest) {
		t.Errorf("ConsumeAuthCode before expiry: %v", err)
	}
	pastExpiry(c, exp)
	if got, err := s.ConsumeAuthCode(ctx, "code"); !isNotFound(err) {
		t.Fatalf("ConsumeAuthCode at expiry: got (%+v, %v), want ErrNotFound", got, err)
	}
	// The request itself lives on until its own TTL.
	if _, err := s.AuthRequestByID(ctx, "req"); err != nil {
		t.Errorf("AuthRequestByID after its code expired: %v", err)
	}
}

func testSessionExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	sess := fullSession("s1", "user-1", c)
	sess.ExpiresAt = c.Now().Add(ttl)
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	long := fullSession("s2", "user-1", c)
	mustOK(t, "CreateSession", s.CreateSession(ctx, long))
	checkExpiry(t, c, expiresAt(sess.ExpiresAt), "SessionByID", func() error {
		_, err := s.SessionByID(ctx, "s1")
		return err
	})
	checkErr(t, "AddSessionClient to an expired session", s.AddSessionClient(ctx, "s1", "ebpom"), storage.ErrNotFound)
	list, err := s.UserSessions(ctx, "user-1")
	mustOK(t, "UserSessions", err)
	if len(list) != 1 || list[0].ID != "s2" {
		t.Errorf("UserSessions after one session expired: got %d sessions, want only s2", len(list))
	}
}

func testAccessTokenExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	tok := fullAccessToken("t1", "fam", c)
	tok.ExpiresAt = c.Now().Add(ttl)
	mustOK(t, "CreateAccessToken", s.CreateAccessToken(ctx, tok))
	checkExpiry(t, c, expiresAt(tok.ExpiresAt), "AccessTokenByID", func() error {
		_, err := s.AccessTokenByID(ctx, "t1")
		return err
	})
}

func testOneTimeExpiry(t *testing.T, s storage.Ephemeral, c *Clock) {
	ctx := t.Context()
	ttl := c.shortTTL()
	from := c.Now()
	mustOK(t, "PutOnce", s.PutOnce(ctx, "edge", []byte("v"), ttl))
	mustOK(t, "PutOnce", s.PutOnce(ctx, "expiring", []byte("v"), ttl))
	exp := c.expiresIn(from, ttl)
	justBeforeExpiry(c, exp)
	if _, err := s.TakeOnce(ctx, "edge"); err != nil && c.before(exp.earliest) {
		t.Errorf("TakeOnce before expiry: %v", err)
	}
	pastExpiry(c, exp)
	if got, err := s.TakeOnce(ctx, "expiring"); !isNotFound(err) {
		t.Errorf("TakeOnce at expiry: got (%q, %v), want ErrNotFound", got, err)
	}
	mustOK(t, "PutOnce over an expired key", s.PutOnce(ctx, "expiring", []byte("v2"), ttl))
}

// testCountSessions: the dashboard's count sees live sessions only.
func testCountSessions(t *testing.T, s storage.Ephemeral, c *Clock) {
	sc, ok := s.(storage.SessionCounter)
	if !ok {
		t.Skip("the backend cannot count sessions")
	}
	ctx := t.Context()
	n, err := sc.CountSessions(ctx)
	mustOK(t, "CountSessions of none", err)
	if n != 0 {
		t.Fatalf("CountSessions = %d on an empty store", n)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession(id, "user-"+id, c)))
	}
	mustOK(t, "DeleteSession", s.DeleteSession(ctx, "s2"))
	n, err = sc.CountSessions(ctx)
	mustOK(t, "CountSessions", err)
	if n != 2 {
		t.Fatalf("CountSessions = %d, want 2", n)
	}
}
