// Checks of deploy/Dockerfile and the root .dockerignore.

package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

func parseDockerfile(t *testing.T) [][]instruction {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	stages := [][]instruction{nil} // stages[0]: the ARGs before the first FROM
	var cur strings.Builder
	emit := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for line := range strings.Lines(string(data)) {
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(s, "\\"); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(s)
		emit()
	}
	emit()
	return stages
}

func find(stage []instruction, cmd string) []string {
	var out []string
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	bin := readBinary(t)
	if len(stages) < 3 { // the global ARGs, build, run
		t.Fatalf("Dockerfile: want a build stage and a run stage, have %d stages", len(stages))
	}
	global, build, run := stages[0], stages[1], stages[len(stages)-1]

	// The builder is the Go version go.mod asks for.
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	goVersion := string(m[1])
	if args := find(global, "ARG"); !slices.Contains(args, "GO_VERSION="+goVersion) {
		t.Errorf("Dockerfile: want ARG GO_VERSION=%s (go.mod), have %q", goVersion, args)
	}
	if from := find(build, "FROM"); len(from) != 1 || !strings.Contains(from[0], "golang:${GO_VERSION}") {
		t.Errorf("Dockerfile: the build stage should be FROM golang:${GO_VERSION}…, is %q", from)
	}
	var built bool
	var out string
	for _, r := range find(build, "RUN") {
		if !strings.Contains(r, "go build") {
			continue
		}
		built = true
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags='-s -w'", "./cmd/satupintu", "--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build"} {
			if !strings.Contains(r, want) {
				t.Errorf("Dockerfile: the go build step lacks %s", want)
			}
		}
		if m := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(r); m != nil {
			out = m[1]
		}
	}
	if !built || out == "" {
		t.Fatal("Dockerfile: no `go build -o … ./cmd/satupintu` in the build stage")
	}

	// The run stage: small, non-root, the binary as entrypoint, serve.
	from := find(run, "FROM")
	if len(from) != 1 || !(strings.HasPrefix(from[0], "gcr.io/distroless/static") || from[0] == "scratch") {
		t.Errorf("Dockerfile: the run stage should be distroless/static or scratch, is %q", from)
	}
	users := find(run, "USER")
	if len(users) == 0 {
		t.Error("Dockerfile: the run stage sets no USER")
	}
	for _, u := range users {
		uid, _, _ := strings.Cut(u, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("Dockerfile: USER %q should be a numeric non-root uid (Kubernetes runAsNonRoot checks it)", u)
		}
	}
	var installed string
	for _, c := range find(run, "COPY") {
		if strings.Contains(c, "--from=build") && strings.Contains(c, out+" ") {
			f := strings.Fields(c)
			installed = f[len(f)-1]
		}
	}
	if ep := find(run, "ENTRYPOINT"); len(ep) != 1 || installed == "" || ep[0] != fmt.Sprintf("[%q]", installed) {
		t.Errorf("Dockerfile: ENTRYPOINT %q should be the exec form of the copied binary %s", ep, installed)
	}
	if cmd := find(run, "CMD"); !slices.Equal(cmd, []string{`["serve"]`}) {
		t.Errorf("Dockerfile: CMD %q, want [\"serve\"]", cmd)
	}
	if exp := find(run, "EXPOSE"); !slices.Equal(exp, []string{"8080"}) {
		t.Errorf("Dockerfile: EXPOSE %q, want 8080 (the default --addr)", exp)
	}
	for _, e := range find(run, "ENV") {
		name, _, _ := strings.Cut(e, "=")
		if err := bin.checkEnvName(name); err != nil {
			t.Errorf("Dockerfile: ENV %v", err)
		}
	}
	if v := find(run, "VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/data") {
		t.Errorf("Dockerfile: VOLUME %q, want the data folder /data", v)
	}
	if hc := find(run, "HEALTHCHECK"); len(hc) > 0 {
		t.Error("Dockerfile: HEALTHCHECK cannot run in distroless (no shell, no curl)")
	}
}

// TestDockerignore checks the root .dockerignore: the build context keeps
// everything `go build ./cmd/satupintu` needs and none of the local data.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []*regexp.Regexp
	for line := range strings.Lines(string(data)) {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.HasPrefix(s, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not modelled by this test", s)
		}
		patterns = append(patterns, dockerignorePattern(s))
	}
	ignored := func(p string) bool {
		// A pattern excludes a path or any folder above it.
		for dir := p; dir != "." && dir != "/"; dir = path.Dir(dir) {
			for _, re := range patterns {
				if re.MatchString(dir) {
					return true
				}
			}
		}
		return false
	}
	for _, p := range []string{".git/HEAD", "data/satupintu.db", "data/demo-clients.json", "cmd/satupintu/data/x.db"} {
		if !ignored(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	needed, err := buildInputs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(needed) < 10 {
		t.Fatalf("found only %d build inputs", len(needed))
	}
	for _, p := range needed {
		if ignored(p) {
			t.Errorf(".dockerignore excludes %s, which go build needs", p)
		}
	}
}

// dockerignorePattern translates a .dockerignore line (Go filepath.Match
// syntax plus **) to a regexp on slash-separated paths from the root.
func dockerignorePattern(s string) *regexp.Regexp {
	s = strings.TrimPrefix(path.Clean(s), "/")
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case strings.HasPrefix(s[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(s[i:], "**"):
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String())
}

// buildInputs lists go.mod, go.sum, every non-test Go file outside deploy/
// and every file its //go:embed patterns name, relative to root.
func buildInputs(root string) ([]string, error) {
	inputs := []string{"go.mod", "go.sum"}
	embedRE := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".git", rel == "deploy", d.Name() == "testdata", d.Name() == "data", strings.HasPrefix(d.Name(), ".") && rel != ".":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		inputs = append(inputs, rel)
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range embedRE.FindAllSubmatch(src, -1) {
			for _, pat := range strings.Fields(string(m[1])) {
				matches, err := filepath.Glob(filepath.Join(filepath.Dir(p), filepath.FromSlash(pat)))
				if err != nil || len(matches) == 0 {
					return fmt.Errorf("%s: //go:embed %s matches nothing", rel, pat)
				}
				for _, f := range matches {
					r, _ := filepath.Rel(root, f)
					inputs = append(inputs, filepath.ToSlash(r))
				}
			}
		}
		return nil
	})
	return inputs, err
}
