package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"satupintu/demorp"
	"satupintu/password"
	"satupintu/storage"
)

// demoApp is one demo relying party, in the format cmd/demo-rp reads.
type demoApp struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Addr         string `json:"addr"`
	ExternalURL  string `json:"external_url"`
	// Accounts the app had before single sign-on, to link at /apps.
	Accounts []demorp.Account `json:"accounts,omitempty"`
}

type demoUser struct {
	Role     string `json:"role"`
	Username string `json:"username"`
	Password string `json:"password"`
}

const (
	demoClientsFile = "demo-clients.json"
	demoUsersFile   = "demo-users.json"
)

// demoStore is what seeding writes.
type demoStore interface {
	storage.Clients
	storage.Users
	storage.Organizations
}

// seedDemo creates the demo clients, organization and users once, with
// random secrets and passwords (no well-known default credentials, ASVS
// 6.3.2), saved to files only the owner can read so cmd/demo-rp and the
// README walk-through can use them; then it prints them.
func seedDemo(ctx context.Context, st demoStore, dataDir string, now time.Time, out io.Writer) error {
	clientsPath := filepath.Join(dataDir, demoClientsFile)
	usersPath := filepath.Join(dataDir, demoUsersFile)
	_, err := st.ClientByID(ctx, "demo-ebpom")
	switch {
	case err == nil:
		return printDemo(clientsPath, usersPath, out)
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("look for demo client: %w", err)
	}
	now = now.UTC()
	apps := []demoApp{
		{Name: "e-BPOM (demo)", ClientID: "demo-ebpom", Addr: "localhost:8081", ExternalURL: "http://localhost:8081",
			// The account the demo trader had in e-BPOM before SSO, to
			// link under Your Apps ("Create SSO" in the 2011 manual).
			Accounts: []demorp.Account{{Username: "ebpom.budi", Password: password.GenerateSecret()[:16]}}},
		{Name: "Portal INSW (demo)", ClientID: "demo-insw", Addr: "localhost:8082", ExternalURL: "http://localhost:8082"},
	}
	descriptions := map[string]string{
		"demo-ebpom": "Perizinan ekspor dan impor obat dan makanan, Badan POM (demo).",
		"demo-insw":  "Portal Indonesia National Single Window: dokumen impor, ekspor dan manifes (demo).",
	}
	for i := range apps {
		apps[i].ClientSecret = password.GenerateSecret()
		c := storage.Client{
			ID: apps[i].ClientID, Name: apps[i].Name, SecretHash: password.HashSecret(apps[i].ClientSecret),
			RedirectURIs:           []string{apps[i].ExternalURL + "/callback"},
			PostLogoutRedirectURIs: []string{apps[i].ExternalURL + "/"},
			GrantTypes:             []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
			AccessTokenFormat:      "opaque", CreatedAt: now, UpdatedAt: now,
			Listed: true, Description: descriptions[apps[i].ClientID], LaunchURL: apps[i].ExternalURL,
			// The demo apps end their own session when the provider says so.
			BackchannelLogoutURI: apps[i].ExternalURL + demorp.BackchannelLogoutPath,
			InitiateLoginURI:     apps[i].ExternalURL + demorp.InitiateLoginPath,
		}
		if len(apps[i].Accounts) > 0 {
			c.AccountLinkURL = apps[i].ExternalURL + demorp.AccountLinkPath
		}
		if err := st.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("create demo client %s: %w", c.ID, err)
		}
	}
	org := storage.Organization{
		ID: storage.NewID(), NIB: "9120001234567", NPWP: "012345678901000",
		Name: "PT Contoh Niaga Nusantara", TraderType: "importir", BusinessType: "pt",
		Address: storage.Address{
			Street: "Jl. Pelabuhan Raya No. 12", City: "Jakarta Utara", Province: "DKI Jakarta",
			PostalCode: "14310", Country: "ID",
		},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateOrganization(ctx, org); err != nil {
		return fmt.Errorf("create demo organization: %w", err)
	}
	users := []demoUser{
		{Role: "trader", Username: "demo.trader", Password: password.GenerateSecret()[:16]},
		{Role: "officer", Username: "demo.officer", Password: password.GenerateSecret()[:16]},
	}
	records := []storage.User{
		{Username: "demo.trader", Email: "trader@contoh.co.id", EmailVerified: true, Name: "Budi Santoso",
			Phone: "+6281234567890", Position: "Direktur", OrganizationID: org.ID},
		{Username: "demo.officer", Email: "officer@satupintu.go.id", EmailVerified: true, Name: "Siti Rahmawati",
			Roles: []string{storage.RoleOfficer, storage.RoleAdmin}},
	}
	for i, u := range records {
		hash, err := password.Hash(users[i].Password, password.OWASP)
		if err != nil {
			return err
		}
		u.ID, u.PasswordHash, u.CreatedAt, u.UpdatedAt = storage.NewID(), hash, now, now
		if err := st.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("create demo user %s: %w", u.Username, err)
		}
	}
	if err := writeJSON(clientsPath, apps); err != nil {
		return err
	}
	if err := writeJSON(usersPath, users); err != nil {
		return err
	}
	return printDemo(clientsPath, usersPath, out)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func printDemo(clientsPath, usersPath string, out io.Writer) error {
	var apps []demoApp
	var users []demoUser
	for path, v := range map[string]any{clientsPath: &apps, usersPath: &users} {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(out, "demo data exists but %s is gone; its secrets cannot be shown again\n", path)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	fmt.Fprintln(out, "── satupintu demo ─────────────────────────────────────────────")
	for _, u := range users {
		fmt.Fprintf(out, "  %-8s username %-13s password %s\n", u.Role, u.Username, u.Password)
	}
	for _, a := range apps {
		fmt.Fprintf(out, "  app      %-19s %s  (client_id %s)\n", a.Name, a.ExternalURL, a.ClientID)
		for _, acc := range a.Accounts {
			fmt.Fprintf(out, "           account in the app to link at /apps: username %s password %s\n", acc.Username, acc.Password)
		}
	}
	fmt.Fprintf(out, "  start the demo apps with: go run ./cmd/demo-rp   (reads %s)\n", clientsPath)
	fmt.Fprintln(out, "────────────────────────────────────────────────────────────────")
	return nil
}
