package demorp

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseApps(t *testing.T) {
	const good = `[
  {"name": "e-BPOM (demo)", "client_id": "ebpom-demo", "client_secret": "s1",
   "addr": "localhost:8081", "external_url": "http://localhost:8081/"},
  {"name": "Portal INSW (demo)", "client_id": "insw-demo", "client_secret": "s2",
   "addr": ":8082"}
]`
	apps, err := ParseApps(strings.NewReader(good))
	if err != nil {
		t.Fatalf("ParseApps: %v", err)
	}
	want := []App{
		{Name: "e-BPOM (demo)", ClientID: "ebpom-demo", ClientSecret: "s1", Addr: "localhost:8081", ExternalURL: "http://localhost:8081"},
		{Name: "Portal INSW (demo)", ClientID: "insw-demo", ClientSecret: "s2", Addr: ":8082", ExternalURL: "http://localhost:8082"},
	}
	if diff := cmp.Diff(want, apps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	if got := apps[0].RedirectURI(); got != "http://localhost:8081/callback" {
		t.Errorf("RedirectURI = %q", got)
	}
	if got := apps[0].PostLogoutRedirectURI(); got != "http://localhost:8081/" {
		t.Errorf("PostLogoutRedirectURI = %q", got)
	}
}

func TestParseAppsRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // every fragment must appear in the error
	}{
		{"empty file", "", []string{"file is empty"}},
		{"empty list", "[]", []string{"no apps"}},
		{"syntax error names line and column", "[\n  {\"name\": \"x\",}\n]", []string{"line 2, column 16"}},
		{"wrong type names line", "[\n {\"name\": 7}]", []string{"line 2", "name"}},
		{"misspelt key", `[{"name":"x","clientId":"a"}]`, []string{`unknown field "clientId"`}},
		{"object instead of array", `{"name":"x"}`, []string{"line 1"}},
		{"trailing data", `[{"name":"a","client_id":"a","client_secret":"s","addr":"localhost:1"}] []`, []string{"after the JSON array"}},
		{
			"every missing field is reported with the app",
			`[{"name":"A"},{"client_id":"b"}]`,
			[]string{
				`app 1 ("A"): client_id is required`,
				`app 1 ("A"): client_secret is required`,
				`app 1 ("A"): addr is required`,
				`app 2: name is required`,
				`app 2: client_secret is required`,
			},
		},
		{
			"bad addr and url",
			`[{"name":"A","client_id":"a","client_secret":"s","addr":"8081","external_url":"ftp://x"},
			  {"name":"B","client_id":"b","client_secret":"s","addr":"localhost:99999","external_url":"http://localhost:1/app"}]`,
			[]string{`addr "8081" is not host:port`, "must start with http://", `bad port`, "origin only"},
		},
		{
			"duplicates",
			`[{"name":"A","client_id":"a","client_secret":"s","addr":"localhost:8081"},
			  {"name":"B","client_id":"b","client_secret":"s","addr":"localhost:8081"}]`,
			[]string{`app 2 ("B"): addr "localhost:8081" is also used by app 1`, "external_url"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApps(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("ParseApps succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadApps(t *testing.T) {
	dir := t.TempDir()

	_, err := LoadApps(filepath.Join(dir, "missing.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"name":"A"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadApps(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "client_id is required") {
		t.Errorf("bad file: err = %v, want the path and the problem", err)
	}

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`[{"name":"A","client_id":"a","client_secret":"s","addr":"localhost:8081"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	apps, err := LoadApps(good)
	if err != nil || len(apps) != 1 || apps[0].ExternalURL != "http://localhost:8081" {
		t.Errorf("good file: apps = %+v, err = %v", apps, err)
	}
}
