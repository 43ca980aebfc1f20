package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The dashboard asks only for metrics the binary exposes: each satupintu_
// name in a panel is registered in the metrics package or in
// cmd/satupintu/observe.go, so a rename cannot leave a panel empty.
func TestGrafanaDashboardUsesExposedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana/satupintu.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	var sources strings.Builder
	for _, f := range []string{"../metrics/metrics.go", "../cmd/satupintu/observe.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources.Write(b)
	}
	name := regexp.MustCompile(`satupintu_([a-z_]+)`)
	// Histograms and counters are queried under suffixes of their name.
	suffix := regexp.MustCompile(`_(bucket|count|sum)$`)
	seen := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllStringSubmatch(tg.Expr, -1) {
				seen++
				base := suffix.ReplaceAllString(m[1], "")
				if !strings.Contains(sources.String(), `"`+base+`"`) {
					t.Errorf("panel %q queries satupintu_%s, which the binary does not register", p.Title, m[1])
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no satupintu metric in the dashboard")
	}
}
