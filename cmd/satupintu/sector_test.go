package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"satupintu/op"
	"satupintu/storage"
)

func TestSectorOfPairwiseClients(t *testing.T) {
	docs := map[string]string{
		"/ok":      `["https://bpom.example/cb", "https://m.bpom.example/cb"]`,
		"/partial": `["https://bpom.example/cb"]`,
		"/object":  `{"redirect_uris": []}`,
		"/huge":    `["` + strings.Repeat("a", maxSectorDocument) + `"]`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	two := []string{"https://bpom.example/cb", "https://m.bpom.example/cb"}
	ctx := t.Context()

	for name, tc := range map[string]struct {
		c       storage.Client
		want    string
		wantErr string
	}{
		"public":               {c: storage.Client{RedirectURIs: two}, want: ""},
		"one host":             {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: []string{"https://bpom.example/cb", "https://bpom.example/cb2"}}, want: "bpom.example"},
		"two hosts":            {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two}, wantErr: "one host"},
		"no redirect":          {c: storage.Client{SubjectType: op.SubjectPairwise}, wantErr: "one host"},
		"sector list":          {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/ok"}, want: "127.0.0.1"},
		"list misses one":      {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/partial"}, wantErr: "does not list"},
		"not an array":         {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/object"}, wantErr: "JSON array"},
		"too large":            {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/huge"}, wantErr: "over"},
		"redirected":           {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/moved"}, wantErr: "302"},
		"missing":              {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: srv.URL + "/none"}, wantErr: "404"},
		"plain http off host":  {c: storage.Client{SubjectType: op.SubjectPairwise, RedirectURIs: two, SectorIdentifierURI: "http://bpom.example/s.json"}, wantErr: "https"},
		"uri without pairwise": {c: storage.Client{RedirectURIs: two, SectorIdentifierURI: srv.URL + "/ok"}, wantErr: "pairwise"},
		"unknown type":         {c: storage.Client{SubjectType: "secret", RedirectURIs: two}, wantErr: "public or pairwise"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := sectorOf(ctx, tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("sectorOf = %q, %v; want an error about %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("sectorOf = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestClientCreatePairwise(t *testing.T) {
	c := cli{t, t.TempDir()}
	code, out, errOut := c.run("", "client", "create", "--name", "e-BPOM", "--redirect-uri", "https://bpom.example/cb",
		"--subject-type", "pairwise", "--json")
	var created clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created.SubjectType != op.SubjectPairwise {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	code, _, errOut = c.run("", "client", "create", "--name", "two hosts", "--redirect-uri", "https://a.example/cb",
		"--redirect-uri", "https://b.example/cb", "--subject-type", "pairwise")
	if code == 0 || !strings.Contains(errOut, "sector-identifier-uri") {
		t.Fatalf("two hosts without a sector list: exit %d %s; want refused naming --sector-identifier-uri", code, errOut)
	}
}
