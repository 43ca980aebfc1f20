package main

import (
	"encoding/json"
	"testing"
)

// TestClientDPoPRequired: client create takes --dpop-required and client
// update sets and lifts it, changing nothing else.
func TestClientDPoPRequired(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example/cb",
		"--dpop-required", "--json")
	var created clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || !created.DPoPRequired {
		t.Fatalf("create --dpop-required: exit %d %s %s", code, out, errOut)
	}
	var updated clientJSON
	code, out, errOut = c.run("", "client", "update", created.ClientID, "--dpop-required=false", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &updated) != nil || updated.DPoPRequired || updated.Name != "SPA" || !updated.Public {
		t.Fatalf("update --dpop-required=false: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = c.run("", "client", "update", created.ClientID, "--dpop-required", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &updated) != nil || !updated.DPoPRequired {
		t.Fatalf("update --dpop-required: exit %d %s %s", code, out, errOut)
	}
}
