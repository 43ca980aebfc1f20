package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"satupintu/jobs"
	"satupintu/mail"
	"satupintu/mail/mailtest"
	"satupintu/storage"
	"satupintu/storage/postgres"
	"satupintu/storage/postgres/postgrestest"
	"satupintu/storage/sqlite"
)

// wait bounds every condition a test waits for: generous, because the
// suite must pass on a machine whose cores are busy with other work.
const wait = 60 * time.Second

// testConfig retries quickly so an outage test takes seconds, not minutes.
func testConfig() jobs.Config {
	return jobs.Config{RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond}
}

// durable is what the outbox tests need of a store: a transaction that
// runs hooks (CreateActionToken) and Close.
type durable interface {
	CreateActionToken(ctx context.Context, t storage.ActionToken, then ...storage.TxHook) error
	Close() error
}

// backend opens node after node on one database, as a restarted or second
// server would.
type backend struct {
	name string
	open func(t *testing.T, c jobs.Config) (durable, *jobs.Queue)
}

func backends(t *testing.T) []backend {
	path := filepath.Join(t.TempDir(), "satupintu.db")
	var pgURL string
	return []backend{
		{"sqlite", func(t *testing.T, c jobs.Config) (durable, *jobs.Queue) {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			q, err := jobs.OpenSQLite(t.Context(), s.WriteDB(), c)
			if err != nil {
				s.Close()
				t.Fatalf("OpenSQLite: %v", err)
			}
			return s, q
		}},
		{"postgres", func(t *testing.T, c jobs.Config) (durable, *jobs.Queue) {
			if pgURL == "" {
				pgURL = postgrestest.URL(t) // skips without Postgres unless required
			}
			s, err := postgres.Open(t.Context(), pgURL)
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			q, err := jobs.OpenPostgres(t.Context(), s.Pool(), c)
			if err != nil {
				s.Close()
				t.Fatalf("OpenPostgres: %v", err)
			}
			return s, q
		}},
	}
}

// node is one running server's store, queue and outbox.
type node struct {
	store  durable
	queue  *jobs.Queue
	outbox *jobs.Outbox
}

func startNode(t *testing.T, b backend, sender mail.Sender) *node {
	t.Helper()
	return startNodeWith(t, b, sender, testConfig(), testKey())
}

// testKey is the outbox key every node of a test shares.
func testKey() []byte { return bytes.Repeat([]byte{0x5a}, 32) }

func startNodeWith(t *testing.T, b backend, sender mail.Sender, c jobs.Config, key []byte) *node {
	t.Helper()
	s, q := b.open(t, c)
	o, err := jobs.NewOutbox(q, sender, key)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	n := &node{store: s, queue: q, outbox: o}
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down as cmd/satupintu does: the queue, then the store.
func (n *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.queue.Stop(ctx); err != nil {
		panic(err)
	}
	n.store.Close()
}

// gate stands between the sender and the mail server: while closed it
// hangs up on every connection, as a mail server that is down would (the
// client fails at the greeting); open, it relays bytes both ways.
type gate struct {
	ln       net.Listener
	target   string
	open     atomic.Bool
	refused  atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	shutdown bool
}

func newGate(t *testing.T, target string) *gate {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target}
	g.wg.Go(g.serve)
	t.Cleanup(g.close)
	return g
}

func (g *gate) port() int { return g.ln.Addr().(*net.TCPAddr).Port }

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			g.refused.Add(1)
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, c, up)
		g.mu.Unlock()
		g.wg.Go(func() { io.Copy(up, c); up.Close() })
		g.wg.Go(func() { io.Copy(c, up); c.Close() })
	}
}

func (g *gate) close() {
	g.ln.Close()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

func smtpSender(t *testing.T, port int) mail.Sender {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, From: "noreply@satupintu.example"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func message(to, subject string) mail.Message {
	return mail.Message{To: to, Subject: subject, Text: "Isi pesan untuk " + to + "\n\nBody for " + to}
}

// inTx queues m inside a store transaction (a token insert), which commits
// unless fail is set.
func inTx(ctx context.Context, n *node, m mail.Message, fail bool) error {
	tok := storage.ActionToken{ID: "sha256-" + storage.NewID(), UserID: "u", Purpose: storage.TokenPasswordReset,
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	hooks := []storage.TxHook{n.outbox.Hook(m)}
	if fail {
		hooks = append(hooks, func(context.Context, storage.Tx) error {
			return errors.New("the change fails after the mail was queued")
		})
	}
	return n.store.CreateActionToken(ctx, tok, hooks...)
}

// A mail server that is down when the mails are queued receives each of
// them once it is back, even though the node that queued them stopped in
// between; and no later node sends any of them again.
func TestOutboxSurvivesOutageAndRestart(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
			g := newGate(t, smtp.Addr())
			sender := smtpSender(t, g.port())

			first := startNode(t, b, sender)
			recipients := []string{"satu@contoh.co.id", "dua@contoh.co.id", "tiga@contoh.co.id"}
			if err := inTx(ctx, first, message(recipients[0], "Dalam transaksi"), false); err != nil {
				t.Fatalf("queue in a transaction: %v", err)
			}
			for _, to := range recipients[1:] {
				if err := first.outbox.Mail(ctx, nil, message(to, "Di luar transaksi")); err != nil {
					t.Fatalf("queue: %v", err)
				}
			}
			// Every mail was tried and refused at least once.
			waitUntil(t, "three refused deliveries", func() bool { return g.refused.Load() >= 3 })
			first.stop()

			g.open.Store(true)
			second := startNode(t, b, sender)
			for _, to := range recipients {
				m := smtp.WaitFor(t, to, wait)
				if m.Body == "" || m.Subject == "" {
					t.Errorf("mail to %s arrived empty: %+v", to, m)
				}
			}
			waitUntil(t, "the queue to empty", func() bool {
				d, err := second.queue.Depth(ctx)
				return err == nil && d == jobs.Depth{}
			})
			second.stop()

			// A third node finds nothing left to send: a mail queued
			// after it started arrives, and nothing else does.
			third := startNode(t, b, sender)
			if err := third.outbox.Mail(ctx, nil, message("penanda@contoh.co.id", "Penanda")); err != nil {
				t.Fatal(err)
			}
			smtp.WaitFor(t, "penanda@contoh.co.id", wait)
			counts := map[string]int{}
			for _, m := range smtp.Messages() {
				for _, to := range m.To {
					counts[to]++
				}
			}
			for _, to := range append(recipients, "penanda@contoh.co.id") {
				if counts[to] != 1 {
					t.Errorf("%s received %d mails, want 1 (all: %v)", to, counts[to], counts)
				}
			}
		})
	}
}

// A mail queued in a transaction that rolls back is never sent.
func TestOutboxRolledBackMailIsNeverSent(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
			n := startNode(t, b, smtpSender(t, smtp.Port()))

			err := inTx(ctx, n, message("batal@contoh.co.id", "Tidak pernah"), true)
			if err == nil {
				t.Fatal("the failing change succeeded")
			}
			if err := inTx(ctx, n, message("jadi@contoh.co.id", "Terkirim"), false); err != nil {
				t.Fatal(err)
			}
			// The queue works in order; once the committed mail is
			// delivered and the queue is empty, the other had its chance.
			smtp.WaitFor(t, "jadi@contoh.co.id", wait)
			waitUntil(t, "the queue to empty", func() bool {
				d, err := n.queue.Depth(ctx)
				return err == nil && d == jobs.Depth{}
			})
			if got := smtp.Messages(); len(got) != 1 {
				t.Errorf("received %d mails, want only the committed one: %v", len(got), recipientsOf(got))
			}
		})
	}
}

// A mail that fails every attempt is discarded after MaxAttempts and
// counted as such; a message the sender refuses as malformed is given up
// at once, never reaching the server.
func TestOutboxGivesUp(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
			g := newGate(t, smtp.Addr())
			c := testConfig()
			c.MaxAttempts = 2
			n := startNodeWith(t, b, smtpSender(t, g.port()), c, testKey())

			if err := n.outbox.Mail(ctx, nil, message("tidak.sampai@contoh.co.id", "Gagal")); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the mail to be discarded", func() bool {
				d, err := n.queue.Depth(ctx)
				return err == nil && d == jobs.Depth{Discarded: 1}
			})
			if got := g.refused.Load(); got != 2 {
				t.Errorf("%d attempts, want MaxAttempts (2)", got)
			}

			g.open.Store(true)
			bad := message("tidak.sampai@contoh.co.id", "Gagal")
			bad.To = "bukan alamat"
			if err := n.outbox.Mail(ctx, nil, bad); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the malformed mail to be given up", func() bool {
				d, err := n.queue.Depth(ctx)
				return err == nil && d == jobs.Depth{Discarded: 1}
			})
			if got := g.refused.Load(); got != 2 || len(smtp.Messages()) != 0 {
				t.Errorf("the malformed mail reached the server (%d refused, %d received)", got, len(smtp.Messages()))
			}
		})
	}
}

func recipientsOf(ms []mailtest.Received) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprint(m.To))
	}
	return out
}

// Several nodes starting at once on an empty database all open their
// queue: River's migrations run once, the others wait and find them done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	openers := map[string]func(ctx context.Context) (func() error, error){}
	path := filepath.Join(t.TempDir(), "fresh.db")
	// Our own migrations are not under test here (sqlstore's suite covers
	// them), and a brand-new SQLite file refuses a second connection while
	// the first switches it to WAL; so the stores open one by one and only
	// the queues race.
	stores := make(chan *sqlite.Store, 4)
	for range 4 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		stores <- s
	}
	openers["sqlite"] = func(ctx context.Context) (func() error, error) {
		s := <-stores
		_, err := jobs.OpenSQLite(ctx, s.WriteDB(), testConfig())
		return s.Close, err
	}
	openers["postgres"] = func(ctx context.Context) (func() error, error) {
		return nil, errors.New("postgres: no URL")
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			open := openers[name]
			if name == "postgres" {
				u := postgrestest.URL(t)
				open = func(ctx context.Context) (func() error, error) {
					s, err := postgres.Open(ctx, u)
					if err != nil {
						return nil, err
					}
					_, err = jobs.OpenPostgres(ctx, s.Pool(), testConfig())
					return s.Close, err
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() {
					closeStore, err := open(t.Context())
					if closeStore != nil {
						defer closeStore()
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// A queued mail is sealed in River's table: neither its recipient nor its
// link can be read there. A node with another key gives it up; a node with
// the right key delivers it.
func TestQueuedMailIsSealed(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "satupintu.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	smtp := mailtest.NewServer(t, mailtest.WithoutSTARTTLS())
	start := func(key []byte) (*jobs.Queue, *jobs.Outbox) {
		q, err := jobs.OpenSQLite(ctx, s.WriteDB(), testConfig())
		if err != nil {
			t.Fatal(err)
		}
		o, err := jobs.NewOutbox(q, smtpSender(t, smtp.Port()), key)
		if err != nil {
			t.Fatal(err)
		}
		return q, o
	}

	q, o := start(testKey())
	m := message("rahasia@contoh.co.id", "Aktivasi")
	m.Text = "Buka https://satupintu.example/activate?token=TOKENRAHASIA"
	if err := o.Mail(ctx, nil, m); err != nil {
		t.Fatal(err)
	}
	var args string
	if err := s.WriteDB().QueryRowContext(ctx, "SELECT CAST(args AS TEXT) FROM river_job").Scan(&args); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"TOKENRAHASIA", "rahasia@contoh.co.id", "Aktivasi"} {
		if strings.Contains(args, secret) {
			t.Errorf("River's table shows %q: %s", secret, args)
		}
	}

	// Another key: the worker cannot open it and gives it up.
	other := bytes.Repeat([]byte{0x11}, 32)
	wrong, _ := start(other)
	if err := wrong.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the unreadable mail to be given up", func() bool {
		d, err := wrong.Depth(ctx)
		return err == nil && d == jobs.Depth{}
	})
	if err := wrong.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(smtp.Messages()); n != 0 {
		t.Fatalf("a node with another key sent %d mails", n)
	}

	// The right key delivers what is queued now.
	if err := o.Mail(ctx, nil, m); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.WithoutCancel(ctx))
	got := smtp.WaitFor(t, "rahasia@contoh.co.id", wait)
	if !strings.Contains(got.Body, "TOKENRAHASIA") {
		t.Errorf("the delivered mail lost its link:\n%s", got.Body)
	}
}
