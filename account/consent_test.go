package account

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// grant gives u a live refresh-token grant to clientID with scopes, and an
// access token issued with it; it returns the access token's id.
func (e *env) grant(u storage.User, clientID string, scopes ...string) string {
	e.t.Helper()
	ctx := e.t.Context()
	now := e.clock.Now()
	family := storage.NewID()
	if err := e.dur.CreateRefreshToken(ctx, storage.RefreshToken{ID: storage.NewID(), FamilyID: family, ClientID: clientID,
		UserID: u.ID, Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), AuthTime: now}); err != nil {
		e.t.Fatal(err)
	}
	at := storage.AccessToken{ID: storage.NewID(), ClientID: clientID, UserID: u.ID, Scopes: scopes, FamilyID: family,
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if err := e.eph.CreateAccessToken(ctx, at); err != nil {
		e.t.Fatal(err)
	}
	return at.ID
}

// TestConsentShowsWhatAnAppReceivesAndWithdrawingEndsIt: the page lists
// what each application receives, for listed apps and for unlisted ones
// the person gave access to; withdrawing ends that app's grants, their
// access tokens and its account link, and nothing of other apps.
func TestConsentShowsWhatAnAppReceivesAndWithdrawingEndsIt(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.createClient(storage.Client{ID: "ebpom", Name: "e-BPOM", Listed: true, AccountLinkURL: "https://ebpom.example/link"})
	e.createClient(storage.Client{ID: "batch", Name: "Layanan Batch"}) // unlisted
	e.createClient(storage.Client{ID: "hidden", Name: "Tersembunyi"})  // unlisted, no grant
	ebpomToken := e.grant(e.trader, "ebpom", "openid", "profile", "organization", "offline_access")
	batchToken := e.grant(e.trader, "batch", "openid", "email", "offline_access")
	if err := e.dur.LinkApp(ctx, storage.AppLink{UserID: e.trader.ID, ClientID: "ebpom", AppUsername: "budi.ebpom", LinkedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(e.session(e.trader, "test"))

	if _, body := b.get("/apps"); !strings.Contains(body, `href="/apps/ebpom/data"`) {
		t.Fatalf("Your Apps has no link to what e-BPOM receives:\n%s", body)
	}
	resp, body := b.get("/apps/ebpom/data")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d", resp.StatusCode)
	}
	for _, want := range []string{e.T("account.consent.scope.profile"), e.T("account.consent.scope.organization"),
		e.T("account.consent.scope.offline_access"), "budi.ebpom", e.clock.Now().Format(time.DateOnly)} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(body, e.T("account.consent.scope.email")) {
		t.Error("consent page lists email, which e-BPOM never asked for")
	}
	if resp, _ := b.get("/apps/batch/data"); resp.StatusCode != http.StatusOK {
		t.Errorf("an unlisted app with the user's data has no consent page: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/apps/hidden/data"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unlisted app without the user's data: %d, want 404", resp.StatusCode)
	}

	form := b.csrf("/apps/ebpom/data")
	resp, _ = b.post("/apps/ebpom/withdraw", form)
	wantRedirect(t, resp, "/apps?done=withdrawn")
	if grants, _ := e.dur.UserRefreshTokens(ctx, e.trader.ID, e.clock.Now()); len(grants) != 1 || grants[0].ClientID != "batch" {
		t.Errorf("grants after withdrawing e-BPOM: %+v", grants)
	}
	if _, err := e.eph.AccessTokenByID(ctx, ebpomToken); err == nil {
		t.Error("e-BPOM's access token outlived the withdrawal")
	}
	if _, err := e.eph.AccessTokenByID(ctx, batchToken); err != nil {
		t.Errorf("another app's access token went too: %v", err)
	}
	if _, err := e.dur.AppLink(ctx, e.trader.ID, "ebpom"); err == nil {
		t.Error("the account link outlived the withdrawal")
	}
	_, body = b.get("/apps/ebpom/data")
	if !strings.Contains(body, `id="consent-none"`) || strings.Contains(body, `id="withdraw"`) {
		t.Errorf("after withdrawing, the page still shows access:\n%s", body)
	}
	var audited int
	events, _ := e.dur.ListAudit(ctx, 0, 50)
	for _, ev := range events {
		if ev.Action == "consent.withdraw" && ev.ClientID == "ebpom" && ev.ActorID == e.trader.ID {
			audited++
		}
	}
	if audited != 1 {
		t.Errorf("%d consent.withdraw events, want 1", audited)
	}
}

// T is the Indonesian text of a catalog key, as the pages render it by
// default (HTML-escaped).
func (e *env) T(key string, args ...any) string {
	return html.EscapeString(e.h.Pages.T("id", key, args...))
}
