package memory

// Stats counts the live entries of a Store and the bytes of the values it
// holds, so tests (and later metrics) can check that what anonymous clients
// store stays within its documented bound.
type Stats struct {
	AuthRequests int
	Codes        int
	Sessions     int
	AccessTokens int
	OneTime      int
	Counters     int
	Drafts       int
	// ValueBytes adds up the variable-size parts: the strings of pending
	// authorization requests and the one-time and draft values.
	ValueBytes int64
}

// Stats reports the live entries at the store's current time.
func (s *Store) Stats() Stats {
	now := s.now()
	var st Stats
	s.reqMu.Lock()
	for _, r := range s.requests {
		if live(r.exp, now) {
			st.AuthRequests++
			st.ValueBytes += requestBytes(r)
		}
	}
	for _, c := range s.codes {
		if live(c.exp, now) {
			st.Codes++
		}
	}
	s.reqMu.Unlock()

	s.sessMu.RLock()
	for _, v := range s.sessions.rows {
		if live(v.ExpiresAt, now) {
			st.Sessions++
		}
	}
	s.sessMu.RUnlock()

	s.tokMu.RLock()
	for _, v := range s.tokens.rows {
		if live(v.ExpiresAt, now) {
			st.AccessTokens++
		}
	}
	s.tokMu.RUnlock()

	s.onceMu.Lock()
	for _, v := range s.once {
		if live(v.exp, now) {
			st.OneTime++
			st.ValueBytes += int64(len(v.v))
		}
	}
	s.onceMu.Unlock()

	s.cntMu.Lock()
	for _, c := range s.counters {
		if live(c.exp, now) {
			st.Counters++
		}
	}
	s.cntMu.Unlock()

	s.draftMu.Lock()
	for _, v := range s.drafts {
		if live(v.exp, now) {
			st.Drafts++
			st.ValueBytes += int64(len(v.v))
		}
	}
	s.draftMu.Unlock()
	return st
}

func requestBytes(r request) int64 {
	n := len(r.r.ID) + len(r.r.ClientID) + len(r.r.RedirectURI) + len(r.r.State) + len(r.r.Nonce) +
		len(r.r.ResponseType) + len(r.r.ResponseMode) + len(r.r.CodeChallenge) +
		len(r.r.CodeChallengeMethod) + len(r.r.LoginHint) + len(r.r.HintSubject) + len(r.r.UserID) +
		len(r.r.SessionID)
	for _, l := range [][]string{r.r.Scopes, r.r.Prompt, r.r.UILocales, r.r.ACRValues, r.r.AMR} {
		for _, s := range l {
			n += len(s)
		}
	}
	return int64(n)
}
