package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserTestTimeout bounds a whole browser test, chromium's start included,
// so a stuck page can never hang CI. It is generous on purpose: CI machines
// are loaded (two busy cores, -race, other packages' tests alongside), and a
// bound that a slow but healthy run can reach makes the suite flaky. Tests
// wait on conditions; this only ends a run that is truly stuck.
const browserTestTimeout = 4 * time.Minute

const chromiumMissing = "chromium not installed: apt-get install -y chromium"

// findChromium returns the path of a Chromium-family browser, or "".
func findChromium() string {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newChromium starts a headless chromium for t and returns a chromedp
// context for one tab in it. It skips the test when no browser is installed,
// unless SATUPINTU_TEST_REQUIRE=1, which makes that a failure.
//
// The returned context ends after browserTestTimeout; the browser and every
// process it started are gone when t's cleanups have run. Call it before
// starting the servers the browser talks to: a watchdog then also bounds
// their shutdown (httptest.Server.Close waits for every running handler, so
// a handler stuck on a lock would otherwise hold the test until go test's
// own -timeout, 10 minutes by default).
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		if os.Getenv("SATUPINTU_TEST_REQUIRE") == "1" {
			t.Fatal(chromiumMissing)
		}
		t.Skip(chromiumMissing)
	}
	watchdog(t, browserTestTimeout+30*time.Second)

	// A fresh profile per test: no cookies, cache or state carried over.
	profile := filepath.Join(t.TempDir(), "profile")
	// DefaultExecAllocatorOptions (checked for chromedp v0.23) add only
	// switches that quieten or harden the browser — no proxy, no port, no
	// feature that phones home — so they are kept as the base. The flags
	// below are the ones this project requires; chromedp talks to the
	// browser over a pipe, so no debugging port is opened either.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	out := &lockedBuffer{}
	opts = append(opts, chromedp.CombinedOutput(out))

	timeout, cancelTimeout := context.WithTimeout(context.Background(), browserTestTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(out.logf), chromedp.WithErrorf(out.logf))
	t.Cleanup(func() {
		cancelCtx()   // closes the tab and the browser
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
		// chromedp kills leftover children (zygote, utility processes) only
		// for profiles it created itself; this one is ours.
		killChromiumUsing(profile)
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.tail(8<<10))
		}
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser and open the tab now
		t.Fatalf("start chromium %s: %v\n%s", path, err, out.tail(8<<10))
	}
	return ctx
}

// watchdog ends the test binary with every goroutine's stack if t, its
// cleanups included, is not done within d. Cleanups registered after it run
// before it is disarmed.
func watchdog(t *testing.T, d time.Duration) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: not done after %s, cleanups included; goroutines:\n%s\n", name, d, buf)
		panic(name + ": browser test hung")
	})
	t.Cleanup(func() { timer.Stop() })
}

// killChromiumUsing kills the processes started with our profile directory
// (chromium passes --user-data-dir to every child) and waits until none is
// left, so the test leaves no processes behind and its temporary directory
// can be removed.
func killChromiumUsing(profile string) {
	want := []byte("--user-data-dir=" + profile)
	deadline := time.Now().Add(5 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		found := false
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					if p, err := os.FindProcess(pid); err == nil {
						p.Kill()
					}
					found = true
					break
				}
			}
		}
		if found {
			quiet = 0
		} else {
			quiet++
		}
	}
}

// lockedBuffer collects chromium's output and chromedp's messages, shown
// only when the test fails (t.Log is unsafe once the test has finished, and
// chromium is noisy).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
}

// tail returns the last n bytes of the output, without the lines about
// D-Bus (there is none in a container; chromium complains at every start).
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out strings.Builder
	for line := range strings.Lines(b.buf.String()) {
		if !strings.Contains(line, "dbus") {
			out.WriteString(line)
		}
	}
	s := out.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
