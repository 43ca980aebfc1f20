package registration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"satupintu/quota"
	"satupintu/storage"
	"satupintu/storage/conformance"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/redis/redistest"
	"satupintu/storage/storagetest"
)

// wizDraftSpy passes every call to the real ephemeral store and remembers
// the wizard drafts written, so a test can count how many are alive and
// how large they are on any backend.
type wizDraftSpy struct {
	storage.Ephemeral
	mu   sync.Mutex
	keys map[string]bool
}

func (s *wizDraftSpy) SaveDraft(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := s.Ephemeral.SaveDraft(ctx, key, value, ttl)
	if err == nil && strings.HasPrefix(key, draftKeyPrefix) {
		s.mu.Lock()
		s.keys[key] = true
		s.mu.Unlock()
	}
	return err
}

// live returns the ids of the drafts still stored and their total size.
func (s *wizDraftSpy) live(t *testing.T) ([]string, int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		ids   []string
		bytes int
	)
	for key := range s.keys {
		v, err := s.Ephemeral.Draft(t.Context(), key)
		if err != nil {
			continue
		}
		if len(v) > maxDraftBytes {
			t.Errorf("draft %s is %d bytes, more than %d", key, len(v), maxDraftBytes)
		}
		ids, bytes = append(ids, strings.TrimPrefix(key, draftKeyPrefix)), bytes+len(v)
	}
	return ids, bytes
}

// The abuse test of issue 8 item 1: one address, then many addresses of
// one IPv6 /64, flood the wizard (new drafts, codes, letter uploads and
// replacements) while a registrant elsewhere completes it. The ephemeral
// store keeps at most the documented number of drafts (2 × PerAddress per
// address, each at most maxDraftBytes), the durable store at most one
// letter per draft and PendingLetters in all, and the floods get 429s.
func TestWizardFloodStaysWithinBounds(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		clk := conformance.NewClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
		eph, dur := storagetest.Embedded(t, clk.Now)
		floodWizard(t, clk, eph, dur, nil)
	})
	t.Run("redis and postgres", func(t *testing.T) {
		if os.Getenv("SATUPINTU_TEST_REDIS_URL") == "" || os.Getenv("SATUPINTU_TEST_DATABASE_URL") == "" {
			t.Skip("SATUPINTU_TEST_REDIS_URL and SATUPINTU_TEST_DATABASE_URL are not both set")
		}
		clk := conformance.NewClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
		dur, _ := postgrestest.Open(t)
		eph, prefix := redistest.Open(t)
		opts, err := goredis.ParseURL(redistest.URL())
		if err != nil {
			t.Fatal(err)
		}
		rdb := goredis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		// Redis's own view: the keys of wizard drafts under the test's
		// prefix, and their bytes.
		redisDrafts := func() (int, int64) {
			var (
				n     int
				bytes int64
			)
			iter := rdb.Scan(t.Context(), 0, prefix+"draft:"+draftKeyPrefix+"*", 100).Iterator()
			for iter.Next(t.Context()) {
				l, err := rdb.StrLen(t.Context(), iter.Val()).Result()
				if err != nil {
					t.Fatal(err)
				}
				n, bytes = n+1, bytes+l
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			return n, bytes
		}
		floodWizard(t, clk, eph, dur, redisDrafts)
	})
}

func floodWizard(t *testing.T, clk *conformance.Clock, eph storage.Ephemeral, dur wizDurable, backendDrafts func() (int, int64)) {
	spy := &wizDraftSpy{Ephemeral: eph, keys: map[string]bool{}}
	e := newWizEnvOn(t, false, clk, spy, dur)
	// Small bounds, so the flood reaches them quickly; the shapes are the
	// defaults'.
	e.h.DraftLimit = quota.Limit{Name: "reg-draft", PerAddress: 4, Total: 50, Window: 24 * time.Hour}
	e.h.CodeLimit = quota.Limit{Name: "reg-code", PerAddress: 3, Total: 50, Window: time.Hour}
	e.h.UploadLimit = quota.Limit{Name: "reg-upload", PerAddress: 8, Total: 100, Window: time.Hour}
	e.h.PendingLetters = storage.DraftDocumentCap{MaxCount: 20, MaxBytes: 20 << 20}

	const attempts = 30
	flood := func(name string, addr func(i int) string) (created, refused int) {
		var verified []*http.Client
		for i := range attempts {
			c := e.clientFrom(addr(i))
			res := e.startDraft(c)
			if res.StatusCode == http.StatusTooManyRequests {
				refused++
				continue
			}
			wizWantRedirect(t, res, "/register/trader")
			created++
			// Each new draft goes on to ask for a code.
			email := fmt.Sprintf("%s-%d@example.co.id", name, i)
			data := wizValid()
			data[StepContact][FieldEmail] = []string{email}
			e.fillTo(c, StepVerify, data)
			if _, ok := e.lastMail(email, "reg.code.mail.subject"); ok {
				wizWantRedirect(t, e.verify(c, email), "/register/dokumen")
				verified = append(verified, c)
			}
		}
		// Every verified draft uploads and replaces its letter over and
		// over.
		var uploadsRefused int
		for round := range 4 {
			for _, c := range verified {
				res := e.upload(c, "next", fmt.Sprintf("surat-%d.pdf", round), wizPDF)
				switch res.StatusCode {
				case http.StatusSeeOther:
				case http.StatusTooManyRequests:
					uploadsRefused++
				default:
					t.Fatalf("%s upload: %d\n%s", name, res.StatusCode, res.Body)
				}
			}
		}
		if uploadsRefused == 0 {
			t.Errorf("%s: no upload was refused (%d verified drafts × 4 uploads, allowance %d)", name, len(verified), e.h.UploadLimit.PerAddress)
		}
		if len(verified) > int(e.h.CodeLimit.PerAddress) {
			t.Errorf("%s: %d drafts verified, more than the %d codes an address may be sent", name, len(verified), e.h.CodeLimit.PerAddress)
		}
		return created, refused
	}

	created, refused := flood("v4", func(int) string { return "203.0.113.5" })
	if created != int(e.h.DraftLimit.PerAddress) || refused != attempts-created {
		t.Errorf("one IPv4 address: %d drafts created, %d refused, want %d and %d", created, refused, e.h.DraftLimit.PerAddress, attempts-created)
	}
	created6, refused6 := flood("v6", func(i int) string { return fmt.Sprintf("2001:db8:66:1:%x::%x", i, i+1) })
	if created6 != int(e.h.DraftLimit.PerAddress) || refused6 != attempts-created6 {
		t.Errorf("one /64: %d drafts created, %d refused, want %d and %d", created6, refused6, e.h.DraftLimit.PerAddress, attempts-created6)
	}

	// A registrant elsewhere is unaffected.
	c := e.clientFrom("198.51.100.7")
	data := wizValid()
	data[StepContact][FieldEmail] = []string{"normal@example.co.id"}
	e.serviceNumber(c, e.submit(c, data), "normal@example.co.id")

	// The stores stayed within their bounds.
	ids, bytes := spy.live(t)
	maxDrafts := 2 * 2 * int(e.h.DraftLimit.PerAddress) // two flooding groups, two windows each
	if len(ids) > maxDrafts || bytes > maxDrafts*maxDraftBytes {
		t.Errorf("%d drafts of %d bytes live, bound %d drafts of at most %d bytes", len(ids), bytes, maxDrafts, maxDraftBytes)
	}
	if backendDrafts != nil {
		n, b := backendDrafts()
		if n > maxDrafts || b > int64(maxDrafts*maxDraftBytes) || n != len(ids) {
			t.Errorf("the backend holds %d drafts of %d bytes (the spy counts %d), bound %d", n, b, len(ids), maxDrafts)
		}
	}
	var letters int
	for _, id := range ids {
		if e.hasDocument(id) {
			letters++
		}
	}
	if letters > int(e.h.PendingLetters.MaxCount) || letters > 2*int(e.h.CodeLimit.PerAddress) {
		t.Errorf("%d letters pending, bound %d (and one per verified draft)", letters, e.h.PendingLetters.MaxCount)
	}
	if letters == 0 {
		t.Error("no letter pending: the flood did not reach the upload")
	}
	t.Logf("%d drafts (%d bytes) and %d letters live after the floods", len(ids), bytes, letters)
}
