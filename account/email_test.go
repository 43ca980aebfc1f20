package account

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var mailedCode = regexp.MustCompile(`\b(\d{6})\b`)

// TestEmailChangeNeedsACodeFromTheNewAddress: the password, then a code
// mailed to the new address moves the account; the old address is told;
// wrong codes run out; nothing changes before the code.
func TestEmailChangeNeedsACodeFromTheNewAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser(e.session(e.trader, "test"))
	form := b.csrf("/profile/email")

	// The password is asked; a wrong one sends nothing.
	form.Set("email", "Budi.Baru@Contoh.co.id")
	form.Set("password", "salah")
	if resp, body := b.post("/profile/email", form); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="form-error"`) {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	form.Set("password", testPassword)
	resp, _ := b.post("/profile/email", form)
	wantRedirect(t, resp, "/profile/email")
	m := e.smtp.WaitFor(t, "budi.baru@contoh.co.id", 10*time.Second)
	code := mailedCode.FindString(m.Body)
	if code == "" {
		t.Fatalf("no code in the mail:\n%s", m.Body)
	}
	if u, _ := e.dur.UserByID(ctx, e.trader.ID); u.Email != e.trader.Email {
		t.Fatal("the email changed before the code")
	}
	_, page := b.get("/profile/email")
	if !strings.Contains(page, `id="email-code-sent"`) || !strings.Contains(page, "budi.baru@contoh.co.id") {
		t.Fatalf("the page does not ask for the code:\n%s", page)
	}

	confirm := b.csrf("/profile/email")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	confirm.Set("code", wrong)
	if _, body := b.post("/profile/email/confirm", confirm); !strings.Contains(body, e.T("account.email.code_wrong")) {
		t.Fatalf("a wrong code was not refused:\n%s", body)
	}
	confirm.Set("code", code)
	resp, _ = b.post("/profile/email/confirm", confirm)
	wantRedirect(t, resp, "/profile?done=email_changed")
	u, _ := e.dur.UserByID(ctx, e.trader.ID)
	if u.Email != "budi.baru@contoh.co.id" || !u.EmailVerified {
		t.Fatalf("after the code: %q verified %v", u.Email, u.EmailVerified)
	}
	notice := e.smtp.WaitFor(t, e.trader.Email, 10*time.Second)
	if !strings.Contains(notice.Body, "b***@contoh.co.id") || strings.Contains(notice.Body, "budi.baru@") {
		t.Errorf("the old address's notice should name the new one masked:\n%s", notice.Body)
	}
	// The code works once.
	resp, body := b.post("/profile/email/confirm", confirm)
	if resp.StatusCode == http.StatusSeeOther || !strings.Contains(body, e.T("account.email.expired")) {
		t.Fatalf("a used code worked again: %d", resp.StatusCode)
	}
	var changed int
	events, _ := e.dur.ListAudit(ctx, 0, 20)
	for _, ev := range events {
		if ev.Action == "email.change" && ev.Subject == e.trader.ID {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d email.change events, want 1", changed)
	}
}

// TestEmailChangeLimits: five wrong codes end the request; an address
// another account holds is refused without saying whose; sends per hour
// are bounded.
func TestEmailChangeLimits(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser(e.session(e.trader, "test"))
	start := func(email string) *http.Response {
		t.Helper()
		form := b.csrf("/profile/email")
		form.Set("email", email)
		form.Set("password", testPassword)
		resp, _ := b.post("/profile/email", form)
		return resp
	}
	confirm := func(code string) string {
		t.Helper()
		form := b.csrf("/profile/email")
		form.Set("code", code)
		_, body := b.post("/profile/email/confirm", form)
		return body
	}

	start("satu@contoh.co.id")
	m := e.smtp.WaitFor(t, "satu@contoh.co.id", 10*time.Second)
	code := mailedCode.FindString(m.Body)
	for range emailCodeAttempts {
		confirm(strings.Repeat("9", 6))
	}
	if body := confirm(code); !strings.Contains(body, e.T("account.email.expired")) {
		t.Fatalf("the right code worked after %d wrong ones", emailCodeAttempts)
	}

	// Another account's address: the code arrives, the change is refused.
	start(e.exporter.Email)
	m = e.smtp.WaitFor(t, e.exporter.Email, 10*time.Second)
	if body := confirm(mailedCode.FindString(m.Body)); !strings.Contains(body, e.T("account.email.unavailable")) || strings.Contains(body, e.exporter.Username) {
		t.Fatalf("taking another account's address:\n%s", body)
	}
	if u, _ := e.dur.UserByID(ctx, e.trader.ID); u.Email != e.trader.Email {
		t.Fatalf("the email changed to a taken address: %q", u.Email)
	}

	// Sends per hour (two were made above).
	for i := 2; i < emailChangeSends; i++ {
		if resp := start("lagi@contoh.co.id"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send %d refused: %d", i+1, resp.StatusCode)
		}
	}
	form := b.csrf("/profile/email")
	form.Set("email", "lagi@contoh.co.id")
	form.Set("password", testPassword)
	if _, body := b.post("/profile/email", form); !strings.Contains(body, e.T("account.email.too_many")) {
		t.Fatalf("send over the hourly bound was not refused")
	}
}
