// The tests of this package check the deployment files. This file has what
// they share: the facts about the binary they hold the files against, read
// from its source, and YAML parsing. The others: kubernetes_test.go,
// compose_test.go, dockerfile_test.go.

package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// Paths, relative to this package's directory (where go test runs).
const (
	repoRoot   = ".."
	binaryDir  = "../cmd/satupintu"
	baseDir    = "kubernetes/base"
	composeYML = "compose.yaml"
	dockerfile = "Dockerfile"
)

// Environment variables that are not satupintu's but that the Go runtime
// reads (TZ: package time).
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true, "TZ": true}

// binary is what the deployment files may rely on, read from the source of
// cmd/satupintu (not a hand-kept list, so it cannot drift).
type binary struct {
	// env holds NAME for every SATUPINTU_NAME the configuration reads.
	env map[string]bool
	// fileVariants: SATUPINTU_NAME_FILE is read for every NAME.
	fileVariants bool
	// routes holds method patterns such as "GET /healthz".
	routes map[string]bool
	// text is every string literal, for the usage text.
	text string
	// drain is serve's graceful shutdown timeout.
	drain time.Duration
	// demoPorts are the ports of the demo apps' external URLs.
	demoPorts []string
	// argon2idMiB is the memory of one password verification
	// (password.OWASP) and verifyPerCPU how many run at once per GOMAXPROCS
	// (login.Handler.MaxConcurrentVerify's default): what a pod's memory
	// limit must hold.
	argon2idMiB, verifyPerCPU int64
}

var (
	binaryOnce sync.Once
	binaryInfo binary
	binaryErr  error
)

func readBinary(t *testing.T) binary {
	t.Helper()
	binaryOnce.Do(func() { binaryInfo, binaryErr = parseBinary(binaryDir) })
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryInfo
}

var (
	configName  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`)
	fullEnvName = regexp.MustCompile(`^SATUPINTU_([A-Z0-9_]+)$`)
	// "shutdown, cancel := context.WithTimeout(ctx, 20*time.Second)" or
	// "shutdownTimeout = 20 * time.Second".
	drainRE = []*regexp.Regexp{
		regexp.MustCompile(`(?i)shutdown[^\n]*WithTimeout\([^\n]*?(\d+)\s*\*\s*time\.Second`),
		regexp.MustCompile(`(?i)shutdown\w*\s*=\s*(\d+)\s*\*\s*time\.Second`),
	}
	demoURLRE = regexp.MustCompile(`ExternalURL:\s*"http://localhost:(\d+)"`)
	argonRE   = regexp.MustCompile(`OWASP\s*=\s*Params\{Memory:\s*(\d+)\s*\*\s*1024`)
	// "N * runtime.GOMAXPROCS(0)", or the bare call for one per CPU.
	verifyRE = regexp.MustCompile(`MaxConcurrentVerify\s*=\s*(?:(\d+)\s*\*\s*)?runtime\.GOMAXPROCS`)
)

func parseBinary(dir string) (binary, error) {
	b := binary{env: map[string]bool{}, routes: map[string]bool{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		return b, fmt.Errorf("no Go files in %s: %v", dir, err)
	}
	var text strings.Builder
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return b, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return b, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				// str("ADDR", &cfg.Addr), dur("SESSION_TTL", …): the
				// configuration reads SATUPINTU_ + its first argument.
				if len(n.Args) > 0 {
					if s, ok := stringLit(n.Args[0]); ok && configName.MatchString(s) {
						b.env[s] = true
					}
				}
			case *ast.BasicLit:
				s, ok := stringLit(n)
				if !ok {
					break
				}
				text.WriteString(s)
				text.WriteByte('\n')
				if m := fullEnvName.FindStringSubmatch(s); m != nil {
					b.env[m[1]] = true
				}
				if s == "_FILE" {
					b.fileVariants = true
				}
				if method, p, ok := strings.Cut(s, " /"); ok && (method == "GET" || method == "POST") {
					b.routes[method+" /"+p] = true
				}
			}
			return true
		})
		for _, re := range drainRE {
			for _, m := range re.FindAllSubmatch(src, -1) {
				n, _ := strconv.Atoi(string(m[1]))
				b.drain = max(b.drain, time.Duration(n)*time.Second)
			}
		}
		for _, m := range demoURLRE.FindAllSubmatch(src, -1) {
			b.demoPorts = append(b.demoPorts, string(m[1]))
		}
	}
	b.text = text.String()
	for _, x := range []struct {
		file string
		re   *regexp.Regexp
		dst  *int64
	}{
		{"../password/password.go", argonRE, &b.argon2idMiB},
		{"../login/login.go", verifyRE, &b.verifyPerCPU},
	} {
		src, err := os.ReadFile(x.file)
		if err != nil {
			return b, err
		}
		if m := x.re.FindSubmatch(src); m != nil {
			*x.dst = 1 // an optional factor that is absent
			if len(m[1]) > 0 {
				*x.dst, _ = strconv.ParseInt(string(m[1]), 10, 64)
			}
		}
	}
	return b, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// checkEnvName reports a variable the binary does not read.
func (b binary) checkEnvName(name string) error {
	if runtimeEnv[name] {
		return nil
	}
	rest, ok := strings.CutPrefix(name, "SATUPINTU_")
	if !ok {
		return fmt.Errorf("%s is neither a SATUPINTU_ setting nor a Go runtime variable", name)
	}
	if b.env[rest] {
		return nil
	}
	if base, ok := strings.CutSuffix(rest, "_FILE"); ok && b.fileVariants && b.env[base] {
		return nil
	}
	return fmt.Errorf("%s is not read by cmd/satupintu (it reads %s)", name, strings.Join(sortedKeys(b.env), ", "))
}

// checkCommand reports a command line the binary does not have: args must
// appear in the usage text after "satupintu ".
func (b binary) checkCommand(args []string) error {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	if len(words) == 0 {
		return fmt.Errorf("command line %q has no command", args)
	}
	if want := "satupintu " + strings.Join(words, " "); !strings.Contains(b.text, want) {
		return fmt.Errorf("command line %q: the usage text has no %q", args, want)
	}
	return nil
}

func TestBinaryFacts(t *testing.T) {
	// The other tests lean on these; if the source moves, say so here.
	b := readBinary(t)
	for _, name := range []string{"ISSUER", "ADDR", "DATA_DIR", "DEMO", "DATABASE_URL", "REDIS_URL", "COOKIE_HASH_KEY", "COOKIE_BLOCK_KEY", "LOG_FORMAT"} {
		if !b.env[name] {
			t.Errorf("cmd/satupintu does not seem to read SATUPINTU_%s (found %v)", name, sortedKeys(b.env))
		}
	}
	if !b.fileVariants {
		t.Error(`cmd/satupintu has no "_FILE" variant of its settings any more; deploy/ mentions SATUPINTU_*_FILE`)
	}
	for _, r := range []string{"GET /healthz", "GET /readyz"} {
		if !b.routes[r] {
			t.Errorf("cmd/satupintu has no route %q; the probes use it", r)
		}
	}
	if b.drain == 0 {
		t.Error("cannot find serve's graceful shutdown timeout (… WithTimeout(…, N*time.Second) after shutdown) in cmd/satupintu; update drainRE")
	}
	if b.argon2idMiB == 0 || b.verifyPerCPU == 0 {
		t.Errorf("cannot find argon2id's memory (password.OWASP: %d MiB) or the verifications per CPU (login: %d); update argonRE/verifyRE", b.argon2idMiB, b.verifyPerCPU)
	}
	if len(b.demoPorts) == 0 {
		t.Error(`cannot find the demo apps' ExternalURL: "http://localhost:PORT" in cmd/satupintu; update demoURLRE`)
	}
}

// yamlDoc is one document of a YAML file.
type yamlDoc struct {
	file string
	n    int // 1-based position in the file
	json []byte
}

func (d yamlDoc) String() string { return fmt.Sprintf("%s#%d", d.file, d.n) }

// splitYAML splits a stream at "---" lines and converts each document to
// JSON, refusing duplicate keys. Documents of only comments are skipped.
func splitYAML(file string, data []byte) ([]yamlDoc, error) {
	var docs []yamlDoc
	var cur bytes.Buffer
	n := 0
	flush := func() error {
		n++
		content := false
		for line := range strings.Lines(cur.String()) {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				content = true
				break
			}
		}
		defer cur.Reset()
		if !content {
			return nil
		}
		j, err := yaml.YAMLToJSONStrict(cur.Bytes())
		if err != nil {
			return fmt.Errorf("%s document %d: %w", file, n, err)
		}
		docs = append(docs, yamlDoc{file: file, n: n, json: j})
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "---") && strings.TrimSpace(strings.TrimPrefix(line, "---")) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return docs, flush()
}

func TestEveryYAMLFileParses(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitYAML(f, data)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(docs) == 0 {
			t.Errorf("%s: no YAML documents", f)
		}
		if strings.HasSuffix(f, ".yml") {
			t.Errorf("%s: name it .yaml like the others", f)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
