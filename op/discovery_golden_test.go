package op

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files from what the code produces")

// The discovery document is what relying parties and their libraries
// configure themselves from: any change to it must be deliberate. The
// golden file holds it, keys sorted and indented; after an intended change
// run `go test ./op -run TestDiscoveryGolden -update` and review the diff.
func TestDiscoveryGolden(t *testing.T) {
	h := newHarness(t)
	w := h.get("/.well-known/openid-configuration")
	if w.Code != http.StatusOK {
		t.Fatalf("discovery: %d", w.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(doc, "", "  ") // map keys come out sorted
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/discovery.golden.json"
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("discovery differs from %s (run with -update after an intended change):\n%s", path, got)
	}
	// RFC 8414's document is the same one.
	if m := h.get("/.well-known/oauth-authorization-server"); !bytes.Equal(m.Body.Bytes(), w.Body.Bytes()) {
		t.Error("the authorization server metadata differs from discovery")
	}
}
