package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Every key a check can return has its message in both languages. The
// catalogs are read as files: templates may not import storage.
func TestCatalogsHaveEveryKey(t *testing.T) {
	for _, lang := range []string{"id", "en"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "templates", "messages", lang, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s catalogs: %v", lang, err)
		}
		have := map[string]bool{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for k := range m {
				have[k] = true
			}
		}
		for _, k := range append(ValueKeys(), ClientKeys()...) {
			if !have[k] {
				t.Errorf("%s catalog lacks %q", lang, k)
			}
		}
	}
}
