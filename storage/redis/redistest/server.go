package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a private redis-server process, for a test that must break
// Redis (fill it, make it a replica, kill it) without breaking the shared
// one every other test uses.
type Server struct {
	URL  string // redis://127.0.0.1:port/0
	Addr string
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// StartServer starts redis-server on a free loopback port, without
// persistence, with args appended to its command line (for example
// "--maxmemory-policy", "noeviction"). It returns once the server answers
// and kills it when t ends. Without redis-server on PATH the test is
// skipped, or fails with SATUPINTU_TEST_REQUIRE=1.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not on PATH: cannot start a private Redis"
		if os.Getenv("SATUPINTU_TEST_REQUIRE") == "1" {
			t.Fatal(msg + " (SATUPINTU_TEST_REQUIRE=1)")
		}
		t.Skip(msg + " (set SATUPINTU_TEST_REQUIRE=1 to fail instead)")
	}
	// The free port is found by listening and closing, so another process
	// may take it first: then the server exits and we try another.
	var lastErr error
	for range 5 {
		s, err := start(t, bin, args)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, args []string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	line := append([]string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, line...)
	out, err := os.CreateTemp(t.TempDir(), "redis-*.log")
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{URL: "redis://" + addr + "/0", Addr: addr, t: t, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)

	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	deadline := time.Now().Add(30 * time.Second) // generous: CI machines are loaded
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		select {
		case <-s.done:
			log, _ := os.ReadFile(out.Name())
			return nil, fmt.Errorf("redis-server on port %s exited: %s", port, strings.TrimSpace(string(log)))
		default:
		}
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on port %s does not answer: %v", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would, and waits for it to exit.
// Stopping twice is harmless.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	<-s.done
}

// Client returns a plain client to the server, closed when the test ends.
func (s *Server) Client() *goredis.Client {
	rdb := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Fill writes about 2 MiB of filler keys and then sets maxmemory 1 MiB below
// what the server uses, so that with the noeviction policy every write is
// refused ("OOM command not allowed") while reads and PING still work, as
// when a production Redis fills up. The margin keeps it refusing however
// Redis's own buffers shrink or grow.
func (s *Server) Fill(ctx context.Context) {
	s.t.Helper()
	rdb := s.Client()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		s.t.Fatalf("redistest: fill: %v", err)
	}
	value := strings.Repeat("x", 4096)
	pipe := rdb.Pipeline()
	for i := range 512 {
		pipe.Set(ctx, "redistest:filler:"+strconv.Itoa(i), value, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.t.Fatalf("redistest: fill: %v", err)
	}
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		s.t.Fatalf("redistest: fill: %v", err)
	}
	var used int64
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if used < 2<<20 {
		s.t.Fatalf("redistest: fill: used_memory is %d after writing 2 MiB", used)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-1<<20, 10)).Err(); err != nil {
		s.t.Fatalf("redistest: fill: %v", err)
	}
}
