package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// An operator's edit shows on the next page of every language at once (the
// store's change report drops the node's cached copy), hostile text is
// escaped, and the banner shows only while it is on and not past its end.
func TestEditedSettingsShowOnPages(t *testing.T) {
	tp := newTestProvider(t)
	b := tp.newBrowser()
	page := func(path string) string {
		t.Helper()
		resp, body := b.get(tp.issuer + path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return body
	}
	expect := func(path string, want, notWant []string) {
		t.Helper()
		body := page(path)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
		for _, w := range notWant {
			if strings.Contains(body, w) {
				t.Errorf("GET %s has %q", path, w)
			}
		}
	}

	// The defaults are the details the catalogs used to carry.
	expect("/contact?lang=id", []string{"helpdesk@insw.example", "Senin–Jumat", "<title>Contact Center · satupintu</title>"}, []string{`class="banner"`})
	expect("/help?lang=en", []string{"Who can register?", `href="/track"`}, nil)

	until := tp.clock.Now().Add(time.Hour)
	err := tp.durable.UpdateSettings(t.Context(), func(s *storage.Settings) error {
		s.ServiceName = storage.Text{ID: "Satu <b>Pintu</b>", EN: "One Door"}
		s.ContactEmail = storage.Text{ID: "bantuan@insw.go.id", EN: "help@insw.go.id"}
		s.ContactHours = storage.Text{ID: "Setiap hari, 24 jam", EN: "Every day, around the clock"}
		s.ContactPhone = storage.Text{}
		s.FAQ = []storage.FAQEntry{{Question: storage.Text{ID: "Pertanyaan <script>alert(1)</script>"}, Answer: storage.Text{ID: "Jawaban", EN: "Answer"}}}
		s.Links = []storage.HelpLink{{Title: storage.Text{ID: "Video pendaftaran", EN: "Registration video"}, URL: "https://video.example/daftar", Kind: storage.LinkVideo}}
		s.Banner = storage.Banner{Text: storage.Text{ID: `Pemeliharaan <img src=x onerror=alert(1)>`, EN: "Maintenance tonight"}, On: true, Until: until}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	expect("/contact?lang=id",
		[]string{"bantuan@insw.go.id", "Setiap hari, 24 jam", "Satu &lt;b&gt;Pintu&lt;/b&gt;", `class="banner"`, "Pemeliharaan &lt;img src=x onerror=alert(1)&gt;"},
		[]string{"helpdesk@insw.example", "<b>Pintu", "<img src=x", "+62 21 0000 0000"})
	expect("/contact?lang=en",
		[]string{"help@insw.go.id", "Every day, around the clock", "<title>Contact Center · One Door</title>", "Maintenance tonight"},
		[]string{"bantuan@insw.go.id", "Senin–Jumat"})
	// English falls back to Indonesian where there is none.
	expect("/help?lang=en",
		[]string{"Pertanyaan &lt;script&gt;alert(1)&lt;/script&gt;", "Answer", `href="https://video.example/daftar"`, "Registration video"},
		[]string{"<script>alert", "Who can register?"})
	// The banner is on every page, and gone past its end without an edit.
	expect("/login?lang=en", []string{"Maintenance tonight"}, nil)
	tp.clock.Advance(2 * time.Hour)
	expect("/contact?lang=en", []string{"help@insw.go.id"}, []string{`class="banner"`, "Maintenance tonight"})

	// Switched off, it is gone too.
	if err := tp.durable.UpdateSettings(t.Context(), func(s *storage.Settings) error {
		s.Banner = storage.Banner{Text: storage.Text{ID: "Libur"}, On: false}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expect("/help?lang=id", nil, []string{`class="banner"`, "Libur"})
}

func TestSettingsCommands(t *testing.T) {
	c := cli{t, t.TempDir()}
	show := func(args ...string) (version int64, s storage.Settings) {
		t.Helper()
		code, out, errOut := c.run("", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var doc struct {
			Version int64 `json:"version"`
			storage.Settings
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v: output %v\n%s", args, err, out)
		}
		return doc.Version, doc.Settings
	}
	if v, s := show("settings", "show"); v != 0 || s.ServiceName.ID != "satupintu" || len(s.FAQ) == 0 {
		t.Fatalf("defaults: version %d, %+v", v, s.ServiceName)
	}
	if v, s := show("settings", "set", "contact_email", "en", "help@insw.go.id"); v != 1 || s.ContactEmail.EN != "help@insw.go.id" || s.UpdatedBy != "cli" {
		t.Fatalf("after set: version %d, email %+v, by %q", v, s.ContactEmail, s.UpdatedBy)
	}
	show("settings", "set", "banner", "id", "Pemeliharaan pukul 22.00")
	show("settings", "set", "banner_until", "-", "2026-12-31T17:00:00+07:00")
	if v, s := show("settings", "set", "banner_on", "-", "true"); v != 4 || !s.Banner.On || !s.Banner.Until.Equal(time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("banner: version %d, %+v", v, s.Banner)
	}
	for _, bad := range [][]string{
		{"settings", "set", "contact_email", "id", "bukan email"},
		{"settings", "set", "service_name", "id", ""},
		{"settings", "set", "service_name", "fr", "x"},
		{"settings", "set", "banner_on", "-", "perhaps"},
		{"settings", "set", "faq", "id", "x"},
		{"settings", "frobnicate"},
	} {
		if code, _, errOut := c.run("", bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, want 2 with a message", bad, code)
		}
	}
	if v, _ := show("settings", "show"); v != 4 {
		t.Errorf("refused changes were stored: version %d", v)
	}
}

// contactPage fetches node i's Contact Center directly.
func contactPage(t *testing.T, c *cluster, i int) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, c.nodes[i].url.String()+"/contact?lang=id", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// An edit made through one node shows on another that had the settings
// cached: the change travels through Redis, not the TTL.
func TestSettingsEditReachesOtherNodes(t *testing.T) {
	c := newCluster(t, 2, nodeOptions{})
	if page := contactPage(t, c, 1); !strings.Contains(page, "helpdesk@insw.example") {
		t.Fatal("node 1 lacks the default email")
	}
	if err := c.nodes[0].durable.UpdateSettings(t.Context(), func(s *storage.Settings) error {
		s.ContactEmail.ID = "bantuan@insw.go.id"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 shows the new email", func() bool { return strings.Contains(contactPage(t, c, 1), "bantuan@insw.go.id") })
}
