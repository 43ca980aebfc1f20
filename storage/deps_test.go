package storage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the arrows of DESIGN.md pointing down:
// storage knows no HTTP, templates or protocol library; UI packages never
// reach a backend; siblings do not import each other.
func TestDependencyDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"satupintu/storage", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login"}},
		// Domain validation is storage's: every UI, the CLI and the admin API
		// call it, so it may depend on none of them.
		{"satupintu/storage/validate", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login", "satupintu/registration", "satupintu/account", "satupintu/web"}},
		{"satupintu/storage/sqlite", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login", "satupintu/web"}},
		{"satupintu/storage/postgres", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login", "satupintu/web"}},
		{"satupintu/storage/redis", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login", "satupintu/web"}},
		{"satupintu/storage/memory", []string{"net/http", "html/template", "github.com/zitadel/oidc", "satupintu/op", "satupintu/login", "satupintu/web"}},
		{"satupintu/op", []string{"satupintu/login", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		{"satupintu/login", []string{"satupintu/upstream", "satupintu/op", "github.com/zitadel/oidc", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		{"satupintu/account", []string{"satupintu/op", "satupintu/login", "satupintu/registration", "github.com/zitadel/oidc", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		// upstream is a relying party of other providers (zitadel's rp), never
		// the provider itself (op, zitadel's op) nor a sibling.
		{"satupintu/upstream", []string{"satupintu/op", "github.com/zitadel/oidc/v3/pkg/op", "satupintu/login", "satupintu/registration", "satupintu/account", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		{"satupintu/registration", []string{"satupintu/upstream", "satupintu/login", "satupintu/op"}},
		// privacy reads every store through storage's interfaces and owns no
		// sign-in: the session and the password check come from login.
		{"satupintu/privacy", []string{"satupintu/op", "satupintu/login", "satupintu/registration", "satupintu/account", "satupintu/upstream", "github.com/zitadel/oidc", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		// device (the user-code page) records decisions; op answers the device.
		{"satupintu/device", []string{"satupintu/op", "satupintu/login", "satupintu/account", "github.com/zitadel/oidc", "satupintu/storage/sqlite", "satupintu/storage/memory", "satupintu/storage/postgres", "satupintu/storage/redis"}},
		{"satupintu/web", []string{"satupintu/op", "satupintu/login", "github.com/zitadel/oidc", "satupintu/storage/sqlite", "satupintu/storage/memory"}},
		{"satupintu/templates", []string{"satupintu/op", "satupintu/login", "satupintu/storage"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", r.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", r.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s (forbidden: %s)", r.pkg, dep, f)
				}
			}
		}
	}
}
