package postgres_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"satupintu/storage"
	"satupintu/storage/postgres/postgrestest"
)

// A database that answers and reads but refuses writes (a standby after a
// failover, default_transaction_read_only, a full disk) must fail the
// write probe with storage.ErrUnavailable, which /readyz reports, and its
// failed writes must be 503s, not 500s. Ping alone cannot see it.
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := postgrestest.OwnDatabase(t)
	s := open(t, u)
	for range 2 { // an upsert: again and again
		if err := s.ProbeWrite(ctx); err != nil {
			t.Fatalf("ProbeWrite on a writable database: %v", err)
		}
	}

	postgrestest.MakeReadOnly(t, u)
	// The pool meets the connections that were ended, then reconnects.
	for i := 0; s.Ping(ctx) != nil; i++ {
		if i == 10 {
			t.Fatalf("Ping still failing: %v", s.Ping(ctx))
		}
	}
	if _, err := s.UserByID(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a read: %v, want ErrNotFound", err)
	}
	err := s.ProbeWrite(ctx)
	checkOutage(t, "ProbeWrite", err)
	if err != nil && !strings.Contains(err.Error(), "25006") {
		t.Errorf("ProbeWrite failed, but not for the read-only database: %v", err)
	}
	checkOutage(t, "CreateUser", s.CreateUser(ctx, storage.User{ID: storage.NewID(), Username: "budi"}))
}

// A pool whose server went away after it was opened (crash, network
// partition) answers storage.ErrUnavailable on every call: the dead pooled
// connection first, then the refused dials.
func TestServerGoneAfterOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := postgrestest.URL(t)
	cfgHost, cfgPort := serverAddr(t, u)
	p := newCutProxy(t, net.JoinHostPort(cfgHost, cfgPort))
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	s := open(t, postgrestest.WithParams(t, u, map[string]string{"host": host, "port": port}))
	user := storage.User{ID: storage.NewID(), Username: "budi"}
	if err := s.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}

	p.cut()
	for range 3 { // the dead connection, then dials to a closed port
		_, err := s.UserByID(ctx, user.ID)
		checkOutage(t, "UserByID", err)
	}
	checkOutage(t, "ProbeWrite", s.ProbeWrite(ctx))
	checkOutage(t, "Ping", s.Ping(ctx))
}

// serverAddr is the host and port the test URL names.
func serverAddr(t *testing.T, u string) (string, string) {
	t.Helper()
	cfg := admin(t, u).Config()
	return cfg.Host, strconv.Itoa(int(cfg.Port))
}

// cutProxy forwards TCP connections to target until cut, which closes
// them all and the listener: to the pool the server is gone.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
