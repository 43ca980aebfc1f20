package account

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"satupintu/storage"
)

var endAction = regexp.MustCompile(`action="/sessions/([0-9a-f]+)/end"`)

func TestSessionsListAndEnd(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM"})
	current := e.session(e.trader, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "ebpom")
	phone := e.session(e.trader, "Mozilla/5.0 (Android 14) Chrome/126.0")
	office := e.session(e.trader, "Mozilla/5.0 (Windows NT 10.0) Edge/125.0")
	stranger := e.session(e.exporter, "Stranger/1.0")
	b := e.browser(current)

	_, body := b.get("/sessions")
	for _, want := range []string{"Browser ini", "Firefox/128.0", "Android 14", "Windows NT 10.0", "e-BPOM", "192.0.2.10", "Keluarkan semua sesi lain (2)"} {
		if !strings.Contains(body, want) {
			t.Errorf("sessions page lacks %q", want)
		}
	}
	for _, s := range []storage.Session{current, phone, office, stranger} {
		if strings.Contains(body, s.ID) {
			t.Error("a session id is on the page")
		}
	}
	if strings.Contains(body, "Stranger/1.0") {
		t.Error("another user's session is listed")
	}
	if m := endAction.FindAllStringSubmatch(body, -1); len(m) != 2 {
		t.Fatalf("want 2 end buttons (not for the current session), got %d", len(m))
	}

	t.Run("another user's session cannot be ended", func(t *testing.T) {
		for _, handle := range []string{sessionHandle(stranger.ID), stranger.ID, "nonsense"} {
			form := b.csrf("/sessions")
			resp, _ := b.post("/sessions/"+handle+"/end", form)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("ending %q: %d, want 404", handle, resp.StatusCode)
			}
		}
		if _, err := e.eph.SessionByID(ctx, stranger.ID); err != nil {
			t.Fatalf("the stranger's session is gone: %v", err)
		}
	})

	t.Run("one session", func(t *testing.T) {
		form := b.csrf("/sessions")
		resp, _ := b.post("/sessions/"+sessionHandle(phone.ID)+"/end", form)
		wantRedirect(t, resp, "/sessions?done=ended")
		if _, err := e.eph.SessionByID(ctx, phone.ID); err == nil {
			t.Error("the session still exists")
		}
		_, body := b.get("/sessions?done=ended")
		if strings.Contains(body, "Android 14") || !strings.Contains(body, "Sesi sudah diakhiri") {
			t.Error("ended session still listed, or no notice")
		}
	})

	t.Run("all others", func(t *testing.T) {
		form := b.csrf("/sessions")
		resp, _ := b.post("/sessions/end-others", form)
		wantRedirect(t, resp, "/sessions?done=ended")
		left, err := e.eph.UserSessions(ctx, e.trader.ID)
		if err != nil || len(left) != 1 || left[0].ID != current.ID {
			t.Fatalf("left: %+v %v", left, err)
		}
		if _, err := e.eph.SessionByID(ctx, stranger.ID); err != nil {
			t.Fatalf("the stranger's session is gone: %v", err)
		}
		_, body := b.get("/sessions")
		if strings.Contains(body, "end-others") {
			t.Error("end-others offered with no other session")
		}
	})

	t.Run("ending the current session signs this browser out", func(t *testing.T) {
		form := b.csrf("/sessions")
		resp, _ := b.post("/sessions/"+sessionHandle(current.ID)+"/end", form)
		wantRedirect(t, resp, "/logged-out")
		resp, _ = b.get("/sessions")
		wantRedirect(t, resp, "/login")
	})
	events, err := e.dur.ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, ","); got != "session.end,session.end_others,session.end" {
		t.Errorf("audit actions %s", got)
	}
}
