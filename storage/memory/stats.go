package memory

import (
	"time"

	"satupintu/storage"
)

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
	Devices      int
	// ValueBytes adds up the variable-size parts: the strings of pending
	// authorization requests and the one-time and draft values.
	ValueBytes int64
}

// Stats reports the live entries at the store's current time. It scans
// every entry: for tests and occasional reads, not for every scrape.
func (s *Store) Stats() Stats {
	now := s.now()
	var st Stats
	var b int64
	s.reqMu.Lock()
	st.AuthRequests, b = countLive(s.requests, now, requestBytes)
	st.ValueBytes += b
	st.Codes, _ = countLive(s.codes, now, nil)
	s.reqMu.Unlock()

	s.sessMu.RLock()
	st.Sessions, _ = countLive(s.sessions.table, now, nil)
	s.sessMu.RUnlock()

	s.tokMu.RLock()
	st.AccessTokens, _ = countLive(s.tokens.table, now, nil)
	s.tokMu.RUnlock()

	s.onceMu.Lock()
	st.OneTime, b = countLive(s.once, now, bytesLen)
	st.ValueBytes += b
	s.onceMu.Unlock()

	s.cntMu.Lock()
	st.Counters, _ = countLive(s.counters, now, nil)
	s.cntMu.Unlock()

	s.draftMu.Lock()
	st.Drafts, b = countLive(s.drafts, now, bytesLen)
	st.ValueBytes += b
	s.draftMu.Unlock()

	s.devices.mu.Lock()
	st.Devices, _ = countLive(s.devices.byID, now, nil)
	s.devices.mu.Unlock()
	return st
}

// Evictions returns, by kind, how many live entries were evicted since
// start because their kind was full (WithMaxEntries). It takes no lock, so
// a metrics scrape may call it. Anything above zero means the bound is too
// small for the load, or someone is flooding the store.
func (s *Store) Evictions() map[string]uint64 {
	return map[string]uint64{
		"auth_requests":         s.requests.evicted.Load(),
		"codes":                 s.codes.evicted.Load(),
		"sessions":              s.sessions.evicted.Load(),
		"access_tokens":         s.tokens.evicted.Load(),
		"one_time":              s.once.evicted.Load(),
		"counters":              s.counters.evicted.Load(),
		"drafts":                s.drafts.evicted.Load(),
		"device_authorizations": s.devices.byID.evicted.Load(),
	}
}

// Entries returns, by kind, how many entries the store holds: the live
// ones and those expired since the kind's last write. It counts without
// scanning, for a metrics scrape to compare with the bound.
func (s *Store) Entries() map[string]int {
	out := make(map[string]int, 8)
	s.reqMu.Lock()
	out["auth_requests"], out["codes"] = len(s.requests.rows), len(s.codes.rows)
	s.reqMu.Unlock()
	s.sessMu.RLock()
	out["sessions"] = len(s.sessions.rows)
	s.sessMu.RUnlock()
	s.tokMu.RLock()
	out["access_tokens"] = len(s.tokens.rows)
	s.tokMu.RUnlock()
	s.onceMu.Lock()
	out["one_time"] = len(s.once.rows)
	s.onceMu.Unlock()
	s.cntMu.Lock()
	out["counters"] = len(s.counters.rows)
	s.cntMu.Unlock()
	s.draftMu.Lock()
	out["drafts"] = len(s.drafts.rows)
	s.draftMu.Unlock()
	s.devices.mu.Lock()
	out["device_authorizations"] = len(s.devices.byID.rows)
	s.devices.mu.Unlock()
	return out
}

// countLive counts t's entries live at now and adds up their size (none
// when size is nil). The caller holds t's lock.
func countLive[V any](t *table[V], now time.Time, size func(V) int64) (n int, bytes int64) {
	for _, s := range t.rows {
		if live(s.exp, now) {
			n++
			if size != nil {
				bytes += size(s.v)
			}
		}
	}
	return n, bytes
}

func bytesLen(v []byte) int64 { return int64(len(v)) }

func requestBytes(r storage.AuthRequest) int64 {
	n := len(r.ID) + len(r.ClientID) + len(r.RedirectURI) + len(r.State) + len(r.Nonce) +
		len(r.ResponseType) + len(r.ResponseMode) + len(r.CodeChallenge) +
		len(r.CodeChallengeMethod) + len(r.LoginHint) + len(r.HintSubject) + len(r.UserID) +
		len(r.SessionID)
	for _, l := range [][]string{r.Scopes, r.Prompt, r.UILocales, r.ACRValues, r.AMR} {
		for _, s := range l {
			n += len(s)
		}
	}
	return int64(n)
}
