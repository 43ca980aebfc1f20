package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"satupintu/account"
	"satupintu/op"
	"satupintu/storage"
)

// Limits on fetching a sector identifier document: it is a short list of
// URIs, and an unresponsive host must not hang the command.
const (
	sectorFetchTimeout = 10 * time.Second
	maxSectorDocument  = 64 << 10
)

// sectorOf decides the host a pairwise client's subjects are computed for
// (OIDC Core §8.1): the one host of its redirect URIs, or, for a sector of
// several hosts, the host of its sector_identifier_uri, whose JSON array
// must list every redirect URI (so a client cannot claim another's sector).
func sectorOf(ctx context.Context, c storage.Client) (string, error) {
	switch c.SubjectType {
	case "", op.SubjectPublic:
		if c.SectorIdentifierURI != "" {
			return "", errors.New("--sector-identifier-uri is for --subject-type pairwise")
		}
		return "", nil
	case op.SubjectPairwise:
	default:
		return "", fmt.Errorf("--subject-type %q must be %s or %s", c.SubjectType, op.SubjectPublic, op.SubjectPairwise)
	}
	if c.SectorIdentifierURI == "" {
		var hosts []string
		for _, r := range c.RedirectURIs {
			if u, err := url.Parse(r); err == nil && !slices.Contains(hosts, u.Hostname()) {
				hosts = append(hosts, u.Hostname())
			}
		}
		if len(hosts) != 1 {
			return "", errors.New("a pairwise client needs redirect URIs on one host, or --sector-identifier-uri listing them")
		}
		return hosts[0], nil
	}
	if err := validateAppURL(c.SectorIdentifierURI); err != nil {
		return "", fmt.Errorf("--sector-identifier-uri: %w", err)
	}
	listed, err := fetchSector(ctx, c.SectorIdentifierURI)
	if err != nil {
		return "", fmt.Errorf("--sector-identifier-uri: %w", err)
	}
	for _, r := range c.RedirectURIs {
		if !slices.Contains(listed, r) {
			return "", fmt.Errorf("--sector-identifier-uri does not list the redirect URI %q", r)
		}
	}
	u, _ := url.Parse(c.SectorIdentifierURI) // validated above
	return u.Hostname(), nil
}

// fetchSector reads the JSON array of URIs at raw, through the account
// linker's rules for documents a client registered (no redirects, the
// dialled address checked, a time and size limit); loopback is allowed,
// as validateAppURL allows http there.
func fetchSector(ctx context.Context, raw string) ([]string, error) {
	l := &account.Linker{AllowLoopback: true, Timeout: sectorFetchTimeout}
	body, err := l.Fetch(ctx, raw, maxSectorDocument)
	if err != nil {
		return nil, fmt.Errorf("the document could not be fetched, or is over %d bytes: %w", maxSectorDocument, err)
	}
	var uris []string
	if err := json.Unmarshal(body, &uris); err != nil {
		return nil, errors.New("the document is not a JSON array of URIs")
	}
	return uris, nil
}
