package account

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"satupintu/storage"
)

func TestPrintedNPWP(t *testing.T) {
	for in, want := range map[string]string{
		"012345678901000":  "01.234.567.8-901.000",
		"3171234567890123": "3171234567890123", // the 16-digit form
		"01234":            "01234",
		"01234567890100x":  "01234567890100x",
	} {
		if got := printedNPWP(in); got != want {
			t.Errorf("printedNPWP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProfileShowsCompanyAndUserData(t *testing.T) {
	e := newEnv(t)
	b := e.browser(e.session(e.trader, "test"))
	resp, body := b.get("/profile")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /profile: %d", resp.StatusCode)
	}
	for _, want := range []string{
		"PT Contoh Niaga Nusantara", "Jl. Pelabuhan Raya No. 12, Jakarta Utara, DKI Jakarta 14310, ID",
		">01.234.567.8-901.000<", ">9120001234567<", "Importir",
		`name="name" type="text" value="User budi"`, ">budi<", ">budi@contoh.co.id ·", `href="/profile/email"`, ">2026-09-02<",
		`name="phone" type="tel" value="&#43;6281234567890"`, `value="Direktur"`,
		`href="/mfa"`, `href="/password/change"`, `id="security"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	_, body = b.get("/profile?lang=en")
	if !strings.Contains(body, "Company data") || !strings.Contains(body, "Importer") {
		t.Error("english profile lacks its labels")
	}
}

func TestProfileEditsOnlyTheUsersOwnFields(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser(e.session(e.trader, "test"))
	before, err := e.dur.UserByID(ctx, e.trader.ID)
	if err != nil {
		t.Fatal(err)
	}

	form := b.csrf("/profile")
	form.Set("name", "  Budi   Santoso ")
	form.Set("phone", "0813-9999-8888")
	form.Set("position", "  Manajer   Ekspor ")
	// Mass assignment: none of these may change anything (ASVS 8.2.3); the
	// email changes only with a code (email.go).
	for k, v := range map[string]string{
		"email": "attacker@evil.example", "email_verified": "true",
		"role": storage.RoleAdmin, "roles": storage.RoleOfficer, "organization_id": "other-org",
		"expires_at": "2099-01-01", "disabled": "false", "username": "admin", "id": "x",
		"password_hash": "$argon2id$x", "mfa_enrolled_at": "2025-01-01",
	} {
		form.Set(k, v)
	}
	resp, _ := b.post("/profile", form)
	wantRedirect(t, resp, "/profile?done=saved")

	after, err := e.dur.UserByID(ctx, e.trader.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := before
	want.Name, want.Phone, want.Position, want.UpdatedAt = "Budi Santoso", "+6281399998888", "Manajer Ekspor", e.clock.Now()
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("user after POST /profile (-want +got):\n%s", diff)
	}
	_, body := b.get("/profile?done=saved")
	if !strings.Contains(body, "Perubahan Anda sudah disimpan") {
		t.Error("no saved notice")
	}
	events, err := e.dur.ListAudit(ctx, 0, 5)
	if err != nil || len(events) == 0 || events[0].Action != "profile.update" || events[0].Detail["fields"] != "name,phone,position" {
		t.Errorf("audit: %+v %v", events, err)
	}
}

func TestProfileRejectsInvalidValues(t *testing.T) {
	e := newEnv(t)
	b := e.browser(e.session(e.trader, "test"))
	tests := []struct {
		name                    string
		person, phone, position string
		want                    string
	}{
		{"bad phone", "Budi", "12345", "Direktur", `id="phone-error"`},
		{"empty position", "Budi", "0812 3456 7890", "   ", `id="position-error"`},
		{"control characters", "Budi", "0812 3456 7890", "Dir\u202eektur", `id="position-error"`},
		{"too long", "Budi", "0812 3456 7890", strings.Repeat("x", 101), "100"},
		{"empty name", "  ", "0812 3456 7890", "Direktur", `id="name-error"`},
		{"name with a bidi override", "Bu\u202edi", "0812 3456 7890", "Direktur", `id="name-error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := b.csrf("/profile")
			form.Set("name", tt.person)
			form.Set("phone", tt.phone)
			form.Set("position", tt.position)
			resp, body := b.post("/profile", form)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) || !strings.Contains(body, `role="alert"`) {
				t.Fatalf("%d, want 422 with %q:\n%s", resp.StatusCode, tt.want, body)
			}
			u, _ := e.dur.UserByID(t.Context(), e.trader.ID)
			if u.Name != e.trader.Name || u.Phone != e.trader.Phone || u.Position != e.trader.Position {
				t.Errorf("stored %q %q %q", u.Name, u.Phone, u.Position)
			}
		})
	}
}
