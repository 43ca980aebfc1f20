package account

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"satupintu/storage"
	"satupintu/web"
)

// sessionHandle names a session on the page and in the form action without
// revealing its id: the id is what the session cookie references, and it
// must not appear in HTML, URLs or logs (ASVS 7.2.x). The handle is a hash
// of it, useless for anything but finding the session among the user's own.
func sessionHandle(id string) string {
	sum := sha256.Sum256([]byte("satupintu session handle\x00" + id))
	return hex.EncodeToString(sum[:16])
}

// sessionView is one row of the sessions page.
type sessionView struct {
	Handle    string
	Current   bool
	Created   string
	Expires   string
	UserAgent string
	IP        string
	Apps      []string // names of the applications signed in with it
}

// sessionsPage is the data of the "account_sessions" page.
type sessionsPage struct {
	Nav      []navItem
	Sessions []sessionView
	Others   int // sessions besides the current one
	Notice   string
}

// maxUserAgent is how much of a user agent the page shows.
const maxUserAgent = 160

// showSessions answers GET /sessions: the user's active sessions, the
// current one first (ASVS 7.5.2).
func (h *Handler) showSessions(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	ctx := r.Context()
	sessions, err := h.Sessions.UserSessions(ctx, who.user.ID)
	if err != nil {
		return fmt.Errorf("account: list sessions: %w", err)
	}
	names, err := h.clientNames(ctx)
	if err != nil {
		return err
	}
	page := sessionsPage{Nav: nav("/sessions"), Notice: notices[r.URL.Query().Get("done")]}
	for _, s := range sessions {
		v := sessionView{
			Handle: sessionHandle(s.ID), Current: s.ID == who.session.ID,
			Created: formatTime(s.CreatedAt), Expires: formatTime(s.ExpiresAt),
			UserAgent: truncate(s.UserAgent, maxUserAgent), IP: s.IP,
		}
		for _, id := range s.ClientIDs {
			name := names[id]
			if name == "" {
				name = id // a client deleted since
			}
			v.Apps = append(v.Apps, name)
		}
		if v.Current {
			page.Sessions = append([]sessionView{v}, page.Sessions...)
		} else {
			page.Sessions = append(page.Sessions, v)
			page.Others++
		}
	}
	return h.render.Render(w, r, http.StatusOK, "account_sessions", page)
}

// clientNames maps client ids to display names.
func (h *Handler) clientNames(ctx context.Context) (map[string]string, error) {
	clients, err := h.Clients.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("account: list clients: %w", err)
	}
	names := make(map[string]string, len(clients))
	for _, c := range clients {
		names[c.ID] = c.Name
	}
	return names, nil
}

// endSession answers POST /sessions/{handle}/end. The session is looked up
// among the signed-in user's own sessions only, so another user's session
// cannot be ended by guessing or copying its handle (ASVS 8.2.2).
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) (web.Done, error) {
	who := signedFrom(r)
	ctx := r.Context()
	sessions, err := h.Sessions.UserSessions(ctx, who.user.ID)
	if err != nil {
		return web.Done{}, fmt.Errorf("account: list sessions: %w", err)
	}
	handle := r.PathValue("handle")
	for _, s := range sessions {
		if subtle.ConstantTimeCompare([]byte(sessionHandle(s.ID)), []byte(handle)) != 1 {
			continue
		}
		if err := h.end(r, s); err != nil {
			return web.Done{}, err
		}
		e := &storage.AuditEvent{Action: "session.end", ActorID: who.user.ID, Subject: who.user.ID,
			Detail: map[string]string{"current": strconv.FormatBool(s.ID == who.session.ID)}}
		if s.ID == who.session.ID {
			return web.Redirect("/logged-out", e), nil // this browser's own session: signed out
		}
		return web.Redirect("/sessions?done=ended", e), nil
	}
	return web.Done{}, &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: errors.New("account: no such session of the user")}
}

// endOtherSessions answers POST /sessions/end-others: every session of the
// user but this one ends, as after a lost phone or a shared computer.
func (h *Handler) endOtherSessions(w http.ResponseWriter, r *http.Request) (web.Done, error) {
	who := signedFrom(r)
	sessions, err := h.Sessions.UserSessions(r.Context(), who.user.ID)
	if err != nil {
		return web.Done{}, fmt.Errorf("account: list sessions: %w", err)
	}
	n := 0
	for _, s := range sessions {
		if s.ID == who.session.ID {
			continue
		}
		if err := h.end(r, s); err != nil {
			return web.Done{}, err
		}
		n++
	}
	// Sessions live in the ephemeral store: no durable write to carry the
	// event, which is appended on its own.
	return web.Redirect("/sessions?done=ended", &storage.AuditEvent{Action: "session.end_others", ActorID: who.user.ID,
		Subject: who.user.ID, Detail: map[string]string{"count": strconv.Itoa(n)}}), nil
}

// end deletes session s on the server: its cookie, wherever it is, no
// longer authenticates (ASVS 7.4.1).
func (h *Handler) end(r *http.Request, s storage.Session) error {
	ctx := r.Context()
	if err := h.Sessions.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("account: delete session: %w", err)
	}
	h.Logger.InfoContext(ctx, "session ended by its user", "user_id", s.UserID)
	if h.OnSessionEnd != nil {
		h.OnSessionEnd(ctx, s)
	}
	return nil
}
