// Checks of compose.yaml: the Compose Specification schema through
// compose-go, then the references between services and to the binary.

package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	composetypes "github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads compose.yaml with compose-go, the library `docker
// compose` itself uses: it validates against the Compose Specification's
// JSON schema (embedded, no network) and resolves anchors, merges and
// defaults. The host's environment is not used, so the test is hermetic.
func loadCompose(t *testing.T) *composetypes.Project {
	t.Helper()
	data, err := os.ReadFile(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // parsing only; generous for a loaded machine
	defer cancel()
	p, err := loader.LoadWithContext(ctx, composetypes.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []composetypes.ConfigFile{{Filename: filepath.Join(wd, composeYML), Content: data}},
		Environment: composetypes.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("satupintu", true)
		o.ResolvePaths = false
	})
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	bin := readBinary(t)
	svc := func(name string) composetypes.ServiceConfig {
		t.Helper()
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("compose.yaml: no service %q", name)
		}
		return s
	}
	env := func(s composetypes.ServiceConfig, name string) string {
		if v := s.Environment[name]; v != nil {
			return *v
		}
		return ""
	}

	// References between services.
	for name, s := range p.Services {
		for dep, cond := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("compose: %s depends on unknown service %s", name, dep)
				continue
			}
			switch cond.Condition {
			case composetypes.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					t.Errorf("compose: %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case composetypes.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != "no" {
					t.Errorf("compose: %s waits for %s to complete, but %s restarts (%s)", name, dep, dep, target.Restart)
				}
			}
		}
		if other, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if _, exists := p.Services[other]; !exists {
				t.Errorf("compose: %s shares the network of unknown service %s", name, other)
			}
			if _, dep := s.DependsOn[other]; !dep {
				t.Errorf("compose: %s shares %s's network namespace; depend on it", name, other)
			}
			if len(s.Ports) > 0 {
				t.Errorf("compose: %s uses network_mode service:%s; publish its ports on %s", name, other, other)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == composetypes.VolumeTypeVolume {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("compose: %s mounts undeclared volume %s", name, v.Source)
				}
			}
		}
		// Every service built from the Dockerfile runs satupintu.
		if s.Build != nil {
			if s.Build.Dockerfile != "deploy/Dockerfile" || filepath.Clean(s.Build.Context) != ".." {
				t.Errorf("compose: %s builds %s in %s; want deploy/Dockerfile in the repository root (..)", name, s.Build.Dockerfile, s.Build.Context)
			}
			for k := range s.Environment {
				if err := bin.checkEnvName(k); err != nil {
					t.Errorf("compose: %s: %v", name, err)
				}
			}
			if len(s.Command) > 0 {
				if err := bin.checkCommand(s.Command); err != nil {
					t.Errorf("compose: %s: %v", name, err)
				}
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
				t.Errorf("compose: %s: read_only and cap_drop ALL, as on Kubernetes", name)
			}
		}
	}

	// satupintu reaches Postgres and Redis by their service names, with the
	// credentials the postgres service is created with.
	sp := svc("satupintu")
	pg := svc("postgres")
	if pg.HealthCheck == nil {
		t.Error("compose: postgres needs a healthcheck (satupintu waits for it)")
	}
	db, err := url.Parse(env(sp, "SATUPINTU_DATABASE_URL"))
	if err != nil || db.Scheme != "postgres" {
		t.Fatalf("compose: satupintu: SATUPINTU_DATABASE_URL %q is not a postgres:// URL", env(sp, "SATUPINTU_DATABASE_URL"))
	}
	pw, _ := db.User.Password()
	if db.Hostname() != "postgres" || db.Port() != "5432" || db.User.Username() != env(pg, "POSTGRES_USER") ||
		pw != env(pg, "POSTGRES_PASSWORD") || strings.TrimPrefix(db.Path, "/") != env(pg, "POSTGRES_DB") {
		t.Errorf("compose: SATUPINTU_DATABASE_URL %s does not match the postgres service (user %s, db %s)", db.Redacted(), env(pg, "POSTGRES_USER"), env(pg, "POSTGRES_DB"))
	}
	rd, err := url.Parse(env(sp, "SATUPINTU_REDIS_URL"))
	if err != nil || rd.Scheme != "redis" || rd.Hostname() != "redis" {
		t.Errorf("compose: SATUPINTU_REDIS_URL %q should be redis://redis:6379/…", env(sp, "SATUPINTU_REDIS_URL"))
	}
	svc("redis")
	for _, dep := range []string{"postgres", "redis"} {
		if sp.DependsOn[dep].Condition != composetypes.ServiceConditionHealthy {
			t.Errorf("compose: satupintu should wait for %s to be healthy", dep)
		}
	}
	if env(sp, "SATUPINTU_DEMO") != "true" {
		t.Error("compose: the demo needs SATUPINTU_DEMO=true")
	}

	// One issuer for browsers and the demo apps: http://localhost:PORT,
	// where PORT is published to the container port serve listens on.
	issuer := env(sp, "SATUPINTU_ISSUER")
	iu, err := url.Parse(issuer)
	if err != nil || iu.Scheme != "http" || iu.Hostname() != "localhost" {
		t.Fatalf("compose: issuer %q should be http://localhost:PORT", issuer)
	}
	_, listen, _ := net.SplitHostPort(env(sp, "SATUPINTU_ADDR"))
	if !published(sp, iu.Port(), listen) {
		t.Errorf("compose: satupintu does not publish host port %s to container port %s (issuer %s, SATUPINTU_ADDR)", iu.Port(), listen, issuer)
	}

	// The demo apps: in satupintu's network namespace, same issuer, and
	// their ports (from the demo data's external URLs) published there.
	rp := svc("demo-rp")
	if rp.NetworkMode != "service:satupintu" {
		t.Errorf("compose: demo-rp network_mode %q; it must share satupintu's namespace for localhost:%s to be the provider", rp.NetworkMode, iu.Port())
	}
	if env(rp, "SATUPINTU_ISSUER") != issuer {
		t.Errorf("compose: demo-rp issuer %q differs from satupintu's %q", env(rp, "SATUPINTU_ISSUER"), issuer)
	}
	for _, port := range bin.demoPorts {
		if !published(sp, port, port) {
			t.Errorf("compose: the demo app at http://localhost:%s is not published on satupintu (host %s → container %s)", port, port, port)
		}
	}

	// Volumes: serve's data volume → demo-rp-config → demo-rp's --data-dir.
	cfg := svc("demo-rp-config")
	dataVol := mountedAt(sp, "/data")
	if dataVol == "" || mountedAt(cfg, "/data") != dataVol {
		t.Errorf("compose: demo-rp-config must read satupintu's /data volume (%q)", dataVol)
	}
	i := slices.Index(rp.Command, "--data-dir")
	if i < 0 || i+1 >= len(rp.Command) {
		t.Fatalf("compose: demo-rp command %q has no --data-dir", rp.Command)
	}
	rpVol := mountedAt(rp, rp.Command[i+1])
	if rpVol == "" || mountedAt(cfg, "/demo") != rpVol || rpVol == dataVol {
		t.Errorf("compose: demo-rp's --data-dir %s must be the volume demo-rp-config writes at /demo", rp.Command[i+1])
	}
	if rp.DependsOn["demo-rp-config"].Condition != composetypes.ServiceConditionCompletedSuccessfully {
		t.Error("compose: demo-rp must wait for demo-rp-config to complete")
	}
	script := strings.Join(cfg.Command, " ")
	for _, want := range []string{"/data/demo-clients.json", "/demo/demo-clients.json", "chown 65532:65532"} {
		if !strings.Contains(script, want) {
			t.Errorf("compose: demo-rp-config's script does not mention %q", want)
		}
	}
}

// published reports whether s publishes host port host to container port
// target.
func published(s composetypes.ServiceConfig, host, target string) bool {
	return slices.ContainsFunc(s.Ports, func(p composetypes.ServicePortConfig) bool {
		return p.Published == host && strconv.Itoa(int(p.Target)) == target
	})
}

// mountedAt returns the named volume s mounts at target.
func mountedAt(s composetypes.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == composetypes.VolumeTypeVolume {
			return v.Source
		}
	}
	return ""
}
