package validate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// refusal reduces an error to what callers use: the field and the key.
func refusal(t *testing.T, err error) (field, key string) {
	t.Helper()
	if err == nil {
		return "", ""
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a *FieldError", err)
	}
	if !slices.Contains(ValueKeys(), fe.Key) && !slices.Contains(ClientKeys(), fe.Key) {
		t.Errorf("key %q is not listed in ValueKeys or ClientKeys", fe.Key)
	}
	return fe.Field, fe.Key
}

func TestRedirectURI(t *testing.T) {
	tests := []struct {
		in, key string
	}{
		{"https://app.example.go.id/cb", ""},
		{"https://app.example.go.id:8443/cb?x=1", ""},
		{"http://localhost:8080/cb", ""},
		{"http://127.0.0.1/cb", ""},
		{"http://127.0.0.2/cb", ""},
		{"http://[::1]:9000/cb", ""},
		{"com.example.app:/oauth2redirect", ""}, // RFC 8252 private-use scheme
		{"http://app.example/cb", KeyURIHTTPS},
		{"http://localhost.evil.example/cb", KeyURIHTTPS},
		{"http://127.0.0.1.nip.io/cb", KeyURIHTTPS},
		{"HTTP://app.example/cb", KeyURIHTTPS},
		{"https://app.example/cb#x", KeyURIFragment},
		{"https://app.example/cb#", KeyURIFragment},
		{"javascript:alert(1)", KeyURIScheme},
		{"JavaScript:alert(1)", KeyURIScheme},
		{"data:text/html,<script>", KeyURIScheme},
		{"vbscript:x", KeyURIScheme},
		{"file:///etc/passwd", KeyURIScheme},
		{"https://user:pw@app.example/cb", KeyURIUserinfo},
		{"https://app.example@evil.example/cb", KeyURIUserinfo},
		{"/relative/cb", KeyURIAbsolute},
		{"//evil.example/cb", KeyURIAbsolute},
		{"https:///cb", KeyURIAbsolute},
		{"https:app.example", KeyURIAbsolute},
		{"", KeyURIAbsolute},
		{"https://app.example/c b", KeyURIAbsolute},
		{"https://app.example/cb\r\nSet-Cookie: x", KeyURIAbsolute},
		{"https://app.example/cb\x00", KeyURIAbsolute},
		{"https://app.example\\@evil.example/", KeyURIAbsolute},
		{"https://аpp.example/cb", KeyURIAbsolute}, // Cyrillic а
		{"https://app.example/" + strings.Repeat("a", 2100), KeyURIAbsolute},
	}
	for _, tt := range tests {
		out, err := RedirectURI(FieldRedirectURIs, tt.in)
		field, key := refusal(t, err)
		if key != tt.key {
			t.Errorf("RedirectURI(%q) key %q, want %q (%v)", tt.in, key, tt.key, err)
		}
		if err == nil && out != tt.in {
			t.Errorf("RedirectURI(%q) = %q: an exact-match URI must not be rewritten", tt.in, out)
		}
		if err != nil && (field != FieldRedirectURIs || out != "") {
			t.Errorf("RedirectURI(%q) = %q on field %q", tt.in, out, field)
		}
	}
}

func TestAppURL(t *testing.T) {
	for in, key := range map[string]string{
		"https://app.example/launch":        "",
		"http://localhost:3000/":            "",
		"com.example.app:/x":                KeyURIAbsolute, // no host
		"ftp://app.example/":                KeyURIHTTPS,
		"http://app.example/":               KeyURIHTTPS,
		"https://app.example/#x":            KeyURIFragment,
		"https://u@app.example/":            KeyURIUserinfo,
		"javascript://app.example/%0aalert": KeyURIHTTPS,
		"mailto:a@b.example":                KeyURIAbsolute,
		"https://app.example/\t":            KeyURIAbsolute,
	} {
		_, err := AppURL(FieldLaunchURL, in)
		if _, got := refusal(t, err); got != key {
			t.Errorf("AppURL(%q) key %q, want %q", in, got, key)
		}
	}
	if _, err := BackchannelLogoutURI("http://rp.example/logout"); err == nil {
		t.Error("back-channel logout over http off loopback accepted")
	}
	if _, err := PostLogoutRedirectURI("https://rp.example/#bye"); err == nil {
		t.Error("post-logout URI with a fragment accepted")
	}
	if _, err := LaunchURL("https://rp.example/"); err != nil {
		t.Errorf("launch URL refused: %v", err)
	}
}

// goodClient passes Client; each case below breaks one rule.
func goodClient() storage.Client {
	return storage.Client{ID: "c1", Name: "e-BPOM", GrantTypes: []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		RedirectURIs: []string{"https://ebpom.example.go.id/cb"}, PostLogoutRedirectURIs: []string{"https://ebpom.example.go.id/"},
		AccessTokenFormat: "opaque", SubjectType: "public"}
}

func TestClient(t *testing.T) {
	tests := []struct {
		name   string
		change func(*storage.Client)
		field  string
		key    string
	}{
		{"good", func(*storage.Client) {}, "", ""},
		{"public with PKCE only", func(c *storage.Client) { c.Public = true }, "", ""},
		{"service", func(c *storage.Client) {
			c.GrantTypes, c.RedirectURIs = []string{storage.GrantClientCredentials}, nil
		}, "", ""},
		{"admin api service", func(c *storage.Client) {
			c.GrantTypes, c.RedirectURIs, c.AdminAPI = []string{storage.GrantClientCredentials}, nil, true
		}, "", ""},
		{"device client", func(c *storage.Client) {
			c.Public, c.GrantTypes, c.RedirectURIs = true, []string{storage.GrantDeviceCode}, nil
		}, "", ""},
		{"no name", func(c *storage.Client) { c.Name = "  " }, FieldClientName, KeyRequired},
		{"long name", func(c *storage.Client) { c.Name = strings.Repeat("n", 201) }, FieldClientName, KeyTooLong},
		{"bidi name", func(c *storage.Client) { c.Name = "evil\u202egnp.exe" }, FieldClientName, KeyInvalidChars},
		{"bad utf-8 name", func(c *storage.Client) { c.Name = "a\xffb" }, FieldClientName, KeyInvalidChars},
		{"unknown grant", func(c *storage.Client) { c.GrantTypes = []string{"password"} }, FieldGrantTypes, KeyGrantType},
		{"implicit grant", func(c *storage.Client) { c.GrantTypes = []string{"implicit"} }, FieldGrantTypes, KeyGrantType},
		{"no grant", func(c *storage.Client) { c.GrantTypes = nil }, FieldGrantTypes, KeyGrantType},
		{"code without redirect", func(c *storage.Client) { c.RedirectURIs = nil }, FieldRedirectURIs, KeyRedirectRequired},
		{"public service", func(c *storage.Client) {
			c.Public, c.GrantTypes = true, []string{storage.GrantClientCredentials}
		}, FieldGrantTypes, KeyPublicClientCredentials},
		{"http redirect", func(c *storage.Client) { c.RedirectURIs = []string{"http://ebpom.example.go.id/cb"} }, FieldRedirectURIs, KeyURIHTTPS},
		{"second redirect bad", func(c *storage.Client) {
			c.RedirectURIs = append(c.RedirectURIs, "javascript:alert(document.cookie)")
		}, FieldRedirectURIs, KeyURIScheme},
		{"post-logout fragment", func(c *storage.Client) { c.PostLogoutRedirectURIs = []string{"https://x.example/#a"} }, FieldPostLogoutRedirectURIs, KeyURIFragment},
		{"token format", func(c *storage.Client) { c.AccessTokenFormat = "JWT " }, FieldAccessTokenFormat, KeyAccessTokenFormat},
		{"alg none", func(c *storage.Client) { c.IDTokenSignedResponseAlg = "none" }, FieldIDTokenAlg, KeyIDTokenAlg},
		{"alg HS256", func(c *storage.Client) { c.IDTokenSignedResponseAlg = "HS256" }, FieldIDTokenAlg, KeyIDTokenAlg},
		{"unknown auth method", func(c *storage.Client) { c.AuthMethod = "tls_client_auth" }, FieldAuthMethod, KeyAuthMethod},
		{"public with a method", func(c *storage.Client) {
			c.Public, c.AuthMethod = true, storage.AuthMethodSecretBasic
		}, FieldAuthMethod, KeyPublicAuthMethod},
		{"confidential with none", func(c *storage.Client) { c.AuthMethod = storage.AuthMethodNone }, FieldAuthMethod, KeyConfidentialNone},
		{"private_key_jwt without keys", func(c *storage.Client) { c.AuthMethod = storage.AuthMethodPrivateKeyJWT }, FieldJWKS, KeyJWKSRequired},
		{"keys and their URL", func(c *storage.Client) {
			c.AuthMethod, c.JWKS, c.JWKSURI = storage.AuthMethodPrivateKeyJWT, `{"keys":[]}`, "https://x.example/jwks"
		}, FieldJWKS, KeyJWKSUnexpected},
		{"keys for a secret", func(c *storage.Client) { c.JWKS = `{"keys":[]}` }, FieldJWKS, KeyJWKSUnexpected},
		{"jwks_uri over http", func(c *storage.Client) {
			c.AuthMethod, c.JWKSURI = storage.AuthMethodPrivateKeyJWT, "http://x.example/jwks"
		}, FieldJWKSURI, KeyURIHTTPS},
		{"subject type", func(c *storage.Client) { c.SubjectType = "Pairwise" }, FieldSubjectType, KeySubjectType},
		{"sector URI for public subjects", func(c *storage.Client) { c.SectorIdentifierURI = "https://x.example/s.json" }, FieldSectorIdentifierURI, KeySectorURIWithoutPairwise},
		{"sector URI over http", func(c *storage.Client) {
			c.SubjectType, c.SectorIdentifierURI = "pairwise", "http://x.example/s.json"
		}, FieldSectorIdentifierURI, KeyURIHTTPS},
		{"admin api with a user grant", func(c *storage.Client) { c.AdminAPI = true }, FieldAdminAPI, KeyAdminAPI},
		{"admin api public", func(c *storage.Client) {
			c.Public, c.GrantTypes, c.RedirectURIs, c.AdminAPI = true, []string{storage.GrantDeviceCode}, nil, true
		}, FieldAdminAPI, KeyAdminAPI},
		{"admin api with refresh", func(c *storage.Client) {
			c.GrantTypes, c.AdminAPI = []string{storage.GrantClientCredentials, storage.GrantRefreshToken}, true
		}, FieldAdminAPI, KeyAdminAPI},
		{"two-line description", func(c *storage.Client) { c.Description = "a\r\nBcc: x@y.example" }, FieldDescription, KeyDescription},
		{"long description", func(c *storage.Client) { c.Description = strings.Repeat("é", 501) }, FieldDescription, KeyDescription},
		{"zero-width description", func(c *storage.Client) { c.Description = "ok\u200b" }, FieldDescription, KeyDescription},
		{"listed without launch", func(c *storage.Client) { c.Listed = true }, FieldLaunchURL, KeyLaunchRequired},
		{"data logo", func(c *storage.Client) { c.LogoURL = "data:image/svg+xml,<svg onload=alert(1)>" }, FieldLogoURL, KeyURIAbsolute},
		{"back-channel over http", func(c *storage.Client) { c.BackchannelLogoutURI = "http://10.0.0.1/logout" }, FieldBackchannelLogoutURI, KeyURIHTTPS},
		{"initiate login with userinfo", func(c *storage.Client) { c.InitiateLoginURI = "https://a@x.example/" }, FieldInitiateLoginURI, KeyURIUserinfo},
		{"account link relative", func(c *storage.Client) { c.AccountLinkURL = "/link" }, FieldAccountLinkURL, KeyURIAbsolute},
		{"unknown trader type", func(c *storage.Client) { c.AllowedTraderTypes = []string{"importir", "IMPORTIR"} }, FieldTraderTypes, KeyTraderType},
	}
	for _, tt := range tests {
		c := goodClient()
		tt.change(&c)
		err := Client(c)
		field, key := refusal(t, err)
		if field != tt.field || key != tt.key {
			t.Errorf("%s: %s %s (%v), want %s %s", tt.name, field, key, err, tt.field, tt.key)
		}
		var fe *FieldError
		if errors.As(err, &fe) && fe.Detail == "" {
			t.Errorf("%s: no operator detail", tt.name)
		}
	}
}

func TestUser(t *testing.T) {
	good := storage.User{Username: " Budi ", Email: "Budi@Contoh.co.id", Name: " Budi  Santoso ", Phone: "0812-3456-7890", Roles: []string{storage.RoleOfficer}}
	u, err := User(good)
	if err != nil || u.Username != "budi" || u.Email != "budi@contoh.co.id" || u.Name != "Budi Santoso" || u.Phone != "+6281234567890" {
		t.Fatalf("User(%+v) = %+v, %v", good, u, err)
	}
	if u, err := User(storage.User{Username: "siti", Email: "siti@contoh.co.id"}); err != nil || u.Name != "" || u.Phone != "" {
		t.Errorf("name and phone are optional: %+v %v", u, err)
	}
	tests := []struct {
		name   string
		change func(*storage.User)
		field  string
		key    string
	}{
		{"empty username", func(u *storage.User) { u.Username = " " }, FieldUsername, KeyUsername},
		{"username with @", func(u *storage.User) { u.Username = "budi@x" }, FieldUsername, KeyUsername},
		{"username with a space", func(u *storage.User) { u.Username = "budi santoso" }, FieldUsername, KeyUsername},
		{"username with a tab", func(u *storage.User) { u.Username = "budi\tx" }, FieldUsername, KeyUsername},
		{"username with NUL", func(u *storage.User) { u.Username = "budi\x00" }, FieldUsername, KeyUsername},
		{"username with a no-break space", func(u *storage.User) { u.Username = "bu\u00a0di" }, FieldUsername, KeyUsername},
		{"username with zero width", func(u *storage.User) { u.Username = "bu\u200bdi" }, FieldUsername, KeyUsername},
		{"long username", func(u *storage.User) { u.Username = strings.Repeat("b", 65) }, FieldUsername, KeyUsername},
		{"email", func(u *storage.User) { u.Email = "budi@localhost" }, FieldEmail, KeyEmailFormat},
		{"email header injection", func(u *storage.User) { u.Email = "budi@contoh.co.id\r\nBcc: x@y.example" }, FieldEmail, KeyEmailFormat},
		{"email look-alike", func(u *storage.User) { u.Email = "budi@contoh.co.\u212aid" }, FieldEmail, KeyEmailFormat},
		{"no email", func(u *storage.User) { u.Email = "" }, FieldEmail, KeyRequired},
		{"long name", func(u *storage.User) { u.Name = strings.Repeat("n", 201) }, FieldUserName, KeyTooLong},
		{"bidi name", func(u *storage.User) { u.Name = "Budi\u202e" }, FieldUserName, KeyInvalidChars},
		{"phone", func(u *storage.User) { u.Phone = "+1 555 0100" }, FieldPhone, KeyPhoneFormat},
		{"role", func(u *storage.User) { u.Roles = []string{"root"} }, FieldRoles, KeyRole},
	}
	for _, tt := range tests {
		u := good
		tt.change(&u)
		out, err := User(u)
		field, key := refusal(t, err)
		if field != tt.field || key != tt.key || out.Username != "" {
			t.Errorf("%s: %s %s (%v), want %s %s", tt.name, field, key, err, tt.field, tt.key)
		}
	}
}

// The value checks, reached from here too (their full tables are the
// registration package's, where they were written first).
func TestValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		fn   func(string) (string, error)
		in   string
		out  string
		key  string
	}{
		{"NIB", NIB, "8120 3098 76543", "8120309876543", ""},
		{"NIB dashes", NIB, "8120-3098-76543", "", KeyNIBDigits},
		{"NIB Arabic-Indic digits", NIB, "٨١٢٠٣٠٩٨٧٦٥٤٣", "", KeyNIBDigits},
		{"NPWP printed", func(s string) (string, error) { return NPWP("15", s) }, "01.234.567.8-901.000", "012345678901000", ""},
		{"NPWP half printed", func(s string) (string, error) { return NPWP("15", s) }, "01.234.5678-901.000", "", KeyNPWP15Digits},
		{"NPWP 16", func(s string) (string, error) { return NPWP("16", s) }, "0012345678901000", "0012345678901000", ""},
		{"NPWP 16 short", func(s string) (string, error) { return NPWP("16", s) }, "012345678901000", "", KeyNPWP16Digits},
		{"NIK", NIK, "3171 0123 4567 8901", "3171012345678901", ""},
		{"NIK zeros", NIK, "0000000000000000", "", KeyNIKInvalid},
		{"passport", Passport, "a 1234567", "A1234567", ""},
		{"passport letters only", Passport, "ABCDEFG", "", KeyPassportFormat},
		{"phone", Phone, "+62 (0)812 3456 7890", "+6281234567890", ""},
		{"phone 0062", Phone, "0062812345678", "", KeyPhoneFormat},
		{"email", Email, " Siti@Contoh.CO.ID ", "siti@contoh.co.id", ""},
		{"email display name", Email, "Siti <siti@contoh.co.id>", "", KeyEmailFormat},
		{"username", Username, "Budi", "budi", ""},
	} {
		out, err := tt.fn(tt.in)
		if _, key := refusal(t, err); key != tt.key || out != tt.out {
			t.Errorf("%s(%q) = %q %q, want %q %q", tt.name, tt.in, out, key, tt.out, tt.key)
		}
	}
}

func TestExpiryDate(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC) // 08:00 WIB
	wib := time.FixedZone("WIB", 7*3600)
	got, err := ExpiryDate("2027-01-31", now, false)
	if want := time.Date(2027, 2, 1, 0, 0, 0, 0, wib); err != nil || !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("2027-01-31 = %v, %v; want the end of the day in WIB, %v, in UTC", got, err, want)
	}
	if got, err := ExpiryDate("2026-12-07", now, false); err != nil || !got.After(now) {
		t.Errorf("today is not over yet: %v %v", got, err)
	}
	if got, err := ExpiryDate("never", now, false); err != nil || !got.IsZero() {
		t.Errorf("never = %v %v", got, err)
	}
	for in, key := range map[string]string{
		"2026-12-06": KeyExpiryPast, "1970-01-01": KeyExpiryPast,
		"2027-02-29": KeyExpiryDate, "07-12-2027": KeyExpiryDate, "2027-1-5": KeyExpiryDate, "": KeyExpiryDate,
		"2027-01-31T00:00:00Z": KeyExpiryDate, "+2027-01-31": KeyExpiryDate, "soon": KeyExpiryDate,
	} {
		_, err := ExpiryDate(in, now, false)
		if _, got := refusal(t, err); got != key {
			t.Errorf("ExpiryDate(%q) key %q, want %q", in, got, key)
		}
	}
	if _, err := ExpiryDate("2026-12-06", now, true); err != nil {
		t.Errorf("a past day with allowPast: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"localhost.": false, "0.0.0.0": false, "10.0.0.1": false, "127.0.0.1.example": false, "": false,
	} {
		if IsLoopback(host) != want {
			t.Errorf("IsLoopback(%q) = %v", host, !want)
		}
	}
}
