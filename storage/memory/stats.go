package memory

import "time"

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
	var b int64
	s.reqMu.Lock()
	st.AuthRequests, b = countLive(s.requests, now, func(r request) time.Time { return r.exp }, requestBytes)
	st.ValueBytes += b
	st.Codes, _ = countLive(s.codes, now, func(c code) time.Time { return c.exp }, nil)
	s.reqMu.Unlock()

	s.sessMu.RLock()
	st.Sessions, _ = countLive(s.sessions.rows, now, s.sessions.expiry, nil)
	s.sessMu.RUnlock()

	s.tokMu.RLock()
	st.AccessTokens, _ = countLive(s.tokens.rows, now, s.tokens.expiry, nil)
	s.tokMu.RUnlock()

	s.onceMu.Lock()
	st.OneTime, b = countLive(s.once, now, onceExpiry, onceBytes)
	st.ValueBytes += b
	s.onceMu.Unlock()

	s.cntMu.Lock()
	st.Counters, _ = countLive(s.counters, now, func(c counter) time.Time { return c.exp }, nil)
	s.cntMu.Unlock()

	s.draftMu.Lock()
	st.Drafts, b = countLive(s.drafts, now, onceExpiry, onceBytes)
	st.ValueBytes += b
	s.draftMu.Unlock()
	return st
}

// countLive counts m's entries live at now and adds up their size (none
// when size is nil). The caller holds m's lock.
func countLive[V any](m map[string]V, now time.Time, expiry func(V) time.Time, size func(V) int64) (n int, bytes int64) {
	for _, v := range m {
		if live(expiry(v), now) {
			n++
			if size != nil {
				bytes += size(v)
			}
		}
	}
	return n, bytes
}

func onceBytes(v onceValue) int64 { return int64(len(v.v)) }

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
