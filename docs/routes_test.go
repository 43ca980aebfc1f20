// Package docs holds the architecture notes (architecture.md) and the
// tests that keep them, and the layout they describe, true.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// uiPackages are the packages that serve pages; each lists every route in
// its Mount method, so one place answers "what does this package serve".
var uiPackages = []string{"login", "account", "registration", "privacy", "device", "upstream", "admin"}

var routePattern = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE|HEAD) `)

func TestRoutesAreListedInMount(t *testing.T) {
	for _, pkg := range uiPackages {
		dir := filepath.Join("..", pkg)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			continue // admin lands separately
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		mounts := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range file.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				inMount := fn.Name.Name == "Mount" && fn.Recv != nil
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok || len(call.Args) == 0 || !isRoute(call.Args[0]) {
						return true
					}
					if inMount {
						mounts++
					} else {
						t.Errorf("%s: route registered in %s, not in Mount", fset.Position(call.Pos()), fn.Name.Name)
					}
					return true
				})
			}
		}
		if mounts == 0 {
			t.Errorf("%s: no routes found in Mount", pkg)
		}
	}
}

// isRoute reports whether e is a method pattern: a string literal such as
// "GET /login", or one concatenated from such a literal ("GET "+Path).
func isRoute(e ast.Expr) bool {
	for {
		b, ok := e.(*ast.BinaryExpr)
		if !ok {
			break
		}
		e = b.X
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	s, err := strconv.Unquote(lit.Value)
	return err == nil && routePattern.MatchString(s)
}
