package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	fence    = regexp.MustCompile("(?s)```.*?```")
	backtick = regexp.MustCompile("`([^`\n]+)`")
	// sourceFile names a file by an extension the repository keeps.
	sourceFile = regexp.MustCompile(`\.(go|md|ya?ml|json|html|js|css|sql)$`)
)

// repoRoot is the module root, one level up from docs.
const repoRoot = ".."

// topLevel returns the repository's top-level names git tracks: a
// backticked text starting with one of them is a path into the repository.
func topLevel(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files").Output()
	names := map[string]bool{}
	if err != nil {
		// No git (a source archive): fall back to what is on disk.
		entries, err := os.ReadDir(repoRoot)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names[e.Name()] = true
		}
		return names
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		first, _, _ := strings.Cut(line, "/")
		names[first] = true
	}
	return names
}

// repoPaths returns the repository paths markdown text names in
// backticks: relative paths whose first segment is a top-level entry of
// the repository (`storage/sqlstore`, `deploy/compose.yaml`), or source
// files named with a directory. Commands, URLs, URL paths (/login),
// environment variables, patterns and runtime files (data/…) are not paths
// into the repository and are skipped.
func repoPaths(text string, top map[string]bool) []string {
	var paths []string
	for _, m := range backtick.FindAllStringSubmatch(fence.ReplaceAllString(text, ""), -1) {
		p := m[1]
		if strings.ContainsAny(p, " {}*<>…=:@,$?") || strings.HasPrefix(p, "/") || strings.HasPrefix(p, ".") || strings.HasPrefix(p, "-") {
			continue
		}
		first, _, hasDir := strings.Cut(p, "/")
		switch {
		case first == "data" || first == "testdata":
			continue // made at run time
		case top[first] && (hasDir || first == p && strings.Contains(p, ".")):
		case hasDir && sourceFile.MatchString(p):
		default:
			continue
		}
		paths = append(paths, strings.TrimSuffix(p, "/"))
	}
	return paths
}

func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(repoRoot, "README.md")}, docs...)
}

// Every repository path the README and docs/*.md name exists.
func TestDocumentedPathsExist(t *testing.T) {
	top := topLevel(t)
	checked := 0
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range repoPaths(string(b), top) {
			checked++
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(p))); err != nil {
				t.Errorf("%s names %s, which does not exist", f, p)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d paths checked: the scan is broken", checked)
	}
}

func TestRepoPathsScan(t *testing.T) {
	top := map[string]bool{"storage": true, "deploy": true, "README.md": true}
	text := "See `storage/sqlstore`, `deploy/compose.yaml`, `README.md`, `static/app.js`, `/login`, " +
		"`SATUPINTU_ADDR`, `data/satupintu.db`, `go test ./...`, `storage`, `300/100000/15m`, `https://x/y`.\n" +
		"```\n`storage/not-in-a-fence`\n```"
	got := strings.Join(repoPaths(text, top), " ")
	if want := "storage/sqlstore deploy/compose.yaml README.md static/app.js"; got != want {
		t.Errorf("repoPaths = %q; want %q", got, want)
	}
}

// Every top-level Go package is described in docs/architecture.md.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	b, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		goFiles, _ := filepath.Glob(filepath.Join(repoRoot, e.Name(), "*.go"))
		sub, _ := filepath.Glob(filepath.Join(repoRoot, e.Name(), "*", "*.go"))
		if len(goFiles) == 0 && len(sub) == 0 {
			continue
		}
		if !strings.Contains(doc, "`"+e.Name()+"`") && !strings.Contains(doc, "`"+e.Name()+"/") {
			t.Errorf("docs/architecture.md does not describe the top-level package %s", e.Name())
		}
	}
}
