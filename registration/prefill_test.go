package registration

import (
	"testing"
	"time"

	"satupintu/storage"
)

// "Verified by" holds only while the name and NIK are as the upstream
// asserted them; the upstream identity is kept either way, so approval
// links the new user to it.
func TestPrefilledRegistrationKeepsVerifiedByOnlyWhileUnchanged(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	up := &draftUpstream{ID: "inapas", Subject: "sub-1", VerifiedBy: "INApas", FullName: "Siti Rahmawati", NIK: "3171234567890123"}
	tests := []struct {
		name         string
		values       map[string]string
		wantVerified string
	}{
		{"as asserted", map[string]string{FieldFullName: "Siti Rahmawati", FieldIdentityType: "nik", FieldIdentityNumber: "3171234567890123"}, "INApas"},
		{"name changed", map[string]string{FieldFullName: "Siti R.", FieldIdentityType: "nik", FieldIdentityNumber: "3171234567890123"}, ""},
		{"NIK changed", map[string]string{FieldFullName: "Siti Rahmawati", FieldIdentityType: "nik", FieldIdentityNumber: "3171234567890124"}, ""},
		{"passport instead", map[string]string{FieldFullName: "Siti Rahmawati", FieldIdentityType: "passport", FieldIdentityNumber: "A1234567"}, ""},
	}
	for _, tc := range tests {
		d := newDraft(now)
		d.Values, d.Upstream = tc.values, up
		g := d.registration("id", "SP-1", "doc", now)
		if g.UpstreamID != "inapas" || g.UpstreamSubject != "sub-1" || g.VerifiedBy != tc.wantVerified {
			t.Errorf("%s: upstream %q/%q verified by %q, want inapas/sub-1 and %q", tc.name, g.UpstreamID, g.UpstreamSubject, g.VerifiedBy, tc.wantVerified)
		}
	}
	if g := newDraft(now).registration("id", "SP-1", "doc", now); g.UpstreamID != "" || g.VerifiedBy != "" {
		t.Errorf("a draft without an upstream: %+v", g)
	}

	// A revision that changes the identity drops the mark.
	g := storage.Registration{FullName: "Siti Rahmawati", IdentityType: "nik", IdentityNumber: "3171234567890123", VerifiedBy: "INApas"}
	same := g
	applyRegistrantFields(&g, same)
	if g.VerifiedBy != "INApas" {
		t.Error("an unchanged revision dropped verified-by")
	}
	changed := g
	changed.FullName = "Someone Else"
	applyRegistrantFields(&g, changed)
	if g.VerifiedBy != "" {
		t.Error("a revision with another name kept verified-by")
	}
}
