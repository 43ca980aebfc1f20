package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"satupintu/op"
	"satupintu/storage/sqlite"
)

// runWith runs the command in-process with the environment given.
func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestClientSigningFlags(t *testing.T) {
	env := map[string]string{"SATUPINTU_DATA_DIR": t.TempDir()}
	code, out, errOut := runWith(t, env, "client", "create", "--name", "CargoLink", "--redirect-uri", "https://cargo.example/cb",
		"--id-token-alg", "ES256", "--access-token-format", "jwt", "--json")
	var c clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	if c.IDTokenSignedResponseAlg != "ES256" || c.AccessTokenFormat != "jwt" {
		t.Fatalf("created %+v", c)
	}
	code, out, errOut = runWith(t, env, "client", "update", c.ClientID, "--id-token-alg", "EdDSA", "--access-token-format", "opaque", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.IDTokenSignedResponseAlg != "EdDSA" || c.AccessTokenFormat != "opaque" {
		t.Fatalf("update: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut = runWith(t, env, "client", "update", c.ClientID, "--id-token-alg", ""); code != 0 {
		t.Fatalf("back to the default: exit %d %s", code, errOut)
	}
	for name, args := range map[string][]string{
		"create none":   {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "none"},
		"create HS256":  {"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"},
		"update RS512":  {"client", "update", c.ClientID, "--id-token-alg", "RS512"},
		"update format": {"client", "update", c.ClientID, "--access-token-format", "paseto"},
	} {
		if code, _, errOut := runWith(t, env, args...); code != 2 || !strings.Contains(errOut, "must be") {
			t.Errorf("%s: exit %d %q, want 2 and the allowed values", name, code, errOut)
		}
	}
}

// TestKeyCommands: keys rotate makes successors that wait for their turn;
// keys list shows states and never key material; with a KEK the CLI seals
// what it makes and refuses to work with another KEK.
func TestKeyCommands(t *testing.T) {
	dir := t.TempDir()
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	env := map[string]string{"SATUPINTU_DATA_DIR": dir, "SATUPINTU_KEY_ENCRYPTION_KEY": kek}
	if code, _, errOut := runWith(t, env, "keys", "rotate", "--alg", "all"); code != 0 {
		t.Fatalf("first keys: exit %d %s", code, errOut)
	}
	if code, out, errOut := runWith(t, env, "keys", "rotate", "--alg", "ES256"); code != 0 || !strings.Contains(out, "ES256") {
		t.Fatalf("rotate ES256: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut := runWith(t, env, "keys", "list")
	if code != 0 {
		t.Fatalf("list: exit %d %s", code, errOut)
	}
	if n := strings.Count(out, " active "); n != len(op.Algorithms) {
		t.Errorf("%d active keys listed, want one per algorithm:\n%s", n, out)
	}
	if n := strings.Count(out, " pending "); n != 1 {
		t.Errorf("%d pending keys listed, want the new ES256 key:\n%s", n, out)
	}

	db, err := sqlite.Open(t.Context(), dir+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := db.SigningKeys(t.Context())
	db.Close()
	if err != nil || len(keys) != len(op.Algorithms)+1 {
		t.Fatalf("stored keys: %d %v", len(keys), err)
	}
	for _, k := range keys {
		if !k.Sealed {
			t.Errorf("key %s stored unsealed with a KEK configured", k.ID)
		}
		if strings.Contains(out, base64.StdEncoding.EncodeToString(k.PrivateDER)[:16]) {
			t.Error("keys list prints key material")
		}
	}

	other := map[string]string{"SATUPINTU_DATA_DIR": dir,
		"SATUPINTU_KEY_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))}
	if code, _, errOut := runWith(t, other, "keys", "rotate"); code == 0 || !strings.Contains(errOut, "key-encryption key") {
		t.Errorf("rotate with another KEK: exit %d %q", code, errOut)
	}
	if code, _, errOut := runWith(t, map[string]string{"SATUPINTU_DATA_DIR": dir}, "keys", "rotate"); code == 0 || !strings.Contains(errOut, "no key-encryption key") {
		t.Errorf("rotate without the KEK: exit %d %q", code, errOut)
	}
	if code, _, errOut := runWith(t, env, "keys", "rotate", "--alg", "HS256"); code != 2 {
		t.Errorf("rotate HS256: exit %d %q", code, errOut)
	}
}

func TestKeyConfig(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	cfg, err := load(nil)
	if err != nil || cfg.KeyRotation != 90*24*time.Hour || cfg.KEK != nil {
		t.Fatalf("defaults: rotation %v kek %v err %v", cfg.KeyRotation, cfg.KEK, err)
	}
	if cfg, err := load(map[string]string{"SATUPINTU_KEY_ROTATION": "0"}); err != nil || cfg.KeyRotation != 0 {
		t.Errorf("rotation 0 (manual): %v %v", cfg.KeyRotation, err)
	}
	if _, err := load(map[string]string{"SATUPINTU_KEY_ROTATION": "1h"}); err == nil || !strings.Contains(err.Error(), "KEY_ROTATION") {
		t.Errorf("a one-hour rotation: %v", err)
	}
	for _, alg := range op.Algorithms {
		if _, err := load(map[string]string{"SATUPINTU_SIGNING_ALG": alg}); err != nil {
			t.Errorf("signing-alg %s: %v", alg, err)
		}
	}

	secret := "c2VjcmV0LW5vdC1hLWtleQ==" // base64, but of 16 bytes
	_, err = load(map[string]string{"SATUPINTU_KEY_ENCRYPTION_KEY": secret})
	if err == nil || !strings.Contains(err.Error(), "KEY_ENCRYPTION_KEY") || strings.Contains(err.Error(), secret) {
		t.Errorf("short KEK: %v (must name the setting, never the value)", err)
	}
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	file := t.TempDir() + "/kek"
	writeFile(t, file, good+"\n")
	if cfg, err := load(map[string]string{"SATUPINTU_KEY_ENCRYPTION_KEY_FILE": file}); err != nil || cfg.KEK == nil {
		t.Errorf("KEK from a file: %v", err)
	}

	prod := map[string]string{"SATUPINTU_ISSUER": "https://sso.example.go.id",
		"SATUPINTU_DATABASE_URL": "postgres://sp@db.example/sp?sslmode=verify-full"}
	if _, err := load(prod); err == nil || !strings.Contains(err.Error(), "SATUPINTU_KEY_ENCRYPTION_KEY") {
		t.Errorf("production without a KEK: %v", err)
	}
	prod["SATUPINTU_KEY_ENCRYPTION_KEY"] = good
	if _, err := load(prod); err != nil {
		t.Errorf("production with a KEK: %v", err)
	}
}

// TestSecretsSealed: with a KEK the generated keys of the secrets table are
// stored sealed, plaintext ones are sealed on first use, and the wrong KEK
// or none refuses a sealed value instead of using it as a key.
func TestSecretsSealed(t *testing.T) {
	db, err := sqlite.Open(t.Context(), t.TempDir()+"/satupintu.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	kek, _ := op.NewKEK(bytes.Repeat([]byte{3}, 32))
	other, _ := op.NewKEK(bytes.Repeat([]byte{4}, 32))
	raw := func(name string) []byte {
		v, err := db.Secret(ctx, name, func() ([]byte, error) { t.Fatalf("%s missing", name); return nil, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Stored in plaintext by the embedded default, then a KEK is configured.
	plain, err := secret(ctx, sealedSecrets{st: db}, "totp-key", nil, 32)
	if err != nil || !bytes.Equal(raw("totp-key"), plain) {
		t.Fatalf("plaintext secret: %v", err)
	}
	got, err := secret(ctx, sealedSecrets{st: db, kek: kek}, "totp-key", nil, 32)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("with a KEK the same key must come back: %v", err)
	}
	if stored := raw("totp-key"); bytes.Contains(stored, plain) || !bytes.HasPrefix(stored, []byte(sealedSecretPrefix)) {
		t.Error("the plaintext secret was not sealed in place")
	}
	if got, err = secret(ctx, sealedSecrets{st: db, kek: kek}, "totp-key", nil, 32); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("sealed secret read back: %v", err)
	}

	// A new secret is sealed as it is made.
	fresh, err := secret(ctx, sealedSecrets{st: db, kek: kek}, "captcha-key", nil, 32)
	if err != nil || len(fresh) != 32 || bytes.Contains(raw("captcha-key"), fresh) {
		t.Fatalf("new secret: %d bytes, %v", len(fresh), err)
	}

	if _, err := secret(ctx, sealedSecrets{st: db, kek: other}, "captcha-key", nil, 32); !errors.Is(err, op.ErrWrongKEK) {
		t.Errorf("another KEK: %v", err)
	}
	if _, err := secret(ctx, sealedSecrets{st: db}, "captcha-key", nil, 32); err == nil || !strings.Contains(err.Error(), "no key-encryption key") {
		t.Errorf("no KEK: %v", err)
	}
}

// TestServeRefusesWrongKEK: keys sealed with one key-encryption key and
// serve started with another stops at start with a message that names the
// setting and carries no key material.
func TestServeRefusesWrongKEK(t *testing.T) {
	dir := t.TempDir()
	kekA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	kekB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{6}, 32))
	if code, _, errOut := runWith(t, map[string]string{"SATUPINTU_DATA_DIR": dir, "SATUPINTU_KEY_ENCRYPTION_KEY": kekA},
		"keys", "rotate", "--alg", "all"); code != 0 {
		t.Fatalf("keys rotate: %s", errOut)
	}
	prev := slog.Default() // serve makes its logger the default
	t.Cleanup(func() { slog.SetDefault(prev) })
	code, _, errOut := runWith(t, map[string]string{"SATUPINTU_DATA_DIR": dir, "SATUPINTU_KEY_ENCRYPTION_KEY": kekB,
		"SATUPINTU_ADDR": "127.0.0.1:0", "SATUPINTU_DEMO": "false"}, "serve")
	if code == 0 || !strings.Contains(errOut, "SATUPINTU_KEY_ENCRYPTION_KEY") || !strings.Contains(errOut, "key-encryption key") {
		t.Fatalf("serve with the wrong KEK: exit %d %q", code, errOut)
	}
	t.Logf("serve: %s", errOut)
	if strings.Contains(errOut, kekA) || strings.Contains(errOut, kekB) {
		t.Error("the error carries a key")
	}
}
