package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"satupintu/op"
	"satupintu/password"
	"satupintu/storage"
)

// clientAuthFlags are the client-authentication flags of `client create`
// and `client update`: the token endpoint auth method, a private_key_jwt
// client's keys, and whether the client must push its authorization
// requests (PAR).
type clientAuthFlags struct {
	method, jwksFile, jwksURI string
	requirePAR                bool
}

func (f *clientAuthFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.method, "auth-method", "", "token endpoint auth method: "+strings.Join(storage.AuthMethods, ", ")+
		" (default: none for --public, client_secret_basic otherwise; basic and post are both accepted)")
	fs.StringVar(&f.jwksFile, "jwks", "", "private_key_jwt: file holding the client's public keys (a JSON JWK Set)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "private_key_jwt: where the client publishes its public keys (https)")
	fs.BoolVar(&f.requirePAR, "require-par", false, "refuse authorization requests that were not pushed first (/par)")
}

// clientAuthFlagNames are the flags register adds.
var clientAuthFlagNames = []string{"auth-method", "jwks", "jwks-uri", "require-par"}

// apply sets c's authentication fields from the flags in set (all of them
// when set is nil: client create) and checks the result.
func (f *clientAuthFlags) apply(c *storage.Client, set map[string]bool) error {
	given := func(name string) bool { return set == nil || set[name] }
	if given("auth-method") && f.method != "" {
		if !slices.Contains(storage.AuthMethods, f.method) {
			return fmt.Errorf("--auth-method %q is not one of %s", f.method, strings.Join(storage.AuthMethods, ", "))
		}
		c.AuthMethod = f.method
	}
	if given("jwks") && f.jwksFile != "" {
		b, err := readJWKSFile(f.jwksFile)
		if err != nil {
			return err
		}
		c.JWKS, c.JWKSURI = string(b), ""
	}
	if given("jwks-uri") && f.jwksURI != "" {
		if err := validateAppURL(f.jwksURI); err != nil {
			return fmt.Errorf("--jwks-uri: %w", err)
		}
		c.JWKS, c.JWKSURI = "", f.jwksURI
	}
	if given("jwks") && given("jwks-uri") && f.jwksFile != "" && f.jwksURI != "" {
		return errors.New("give --jwks or --jwks-uri, not both")
	}
	if given("require-par") {
		c.RequirePAR = f.requirePAR
	}
	method := c.EffectiveAuthMethod()
	if method != storage.AuthMethodSecretJWT {
		c.SecretSealed = nil // only an HMAC key needs the secret in the clear
	}
	switch {
	case c.Public && method != storage.AuthMethodNone:
		return fmt.Errorf("a --public client authenticates with none, not %s", method)
	case !c.Public && method == storage.AuthMethodNone:
		return errors.New("--auth-method none is only for --public clients")
	case method == storage.AuthMethodPrivateKeyJWT && c.JWKS == "" && c.JWKSURI == "":
		return errors.New("--auth-method private_key_jwt needs --jwks FILE or --jwks-uri URL")
	case method != storage.AuthMethodPrivateKeyJWT:
		if (given("jwks") && f.jwksFile != "") || (given("jwks-uri") && f.jwksURI != "") {
			return errors.New("--jwks and --jwks-uri are only for --auth-method private_key_jwt")
		}
		c.JWKS, c.JWKSURI = "", "" // keys of a method no longer used
	}
	return nil
}

// readJWKSFile reads and checks a client's key set (op.ParseClientJWKS:
// public signing keys only, bounded in size).
func readJWKSFile(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--jwks: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, op.MaxClientJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--jwks: %w", err)
	}
	if _, err := op.ParseClientJWKS(b); err != nil {
		return nil, fmt.Errorf("--jwks %s: %w", name, err)
	}
	return b, nil
}

// issueSecret gives c a new secret if its method uses one, and returns it
// to be shown once ("" for private_key_jwt and none). A client_secret_jwt
// secret is sealed (under key, from sealKey) as well as hashed: the
// provider needs it in the clear to check an HS256 assertion.
func issueSecret(c *storage.Client, key [32]byte) (string, error) {
	c.SecretHash, c.SecretSealed = "", nil
	switch c.EffectiveAuthMethod() {
	case storage.AuthMethodNone, storage.AuthMethodPrivateKeyJWT:
		return "", nil
	}
	secret := password.GenerateSecret()
	c.SecretHash = password.HashSecret(secret)
	if c.EffectiveAuthMethod() == storage.AuthMethodSecretJWT {
		var err error
		if c.SecretSealed, err = op.SealClientSecret(key, secret, c.ID); err != nil {
			return "", fmt.Errorf("seal client secret: %w", err)
		}
	}
	return secret, nil
}

// sealKey loads the key the server opens client_secret_jwt secrets with
// (the same secrets-table row, see clientSecretKey). Loaded before a
// client's update transaction, never inside it.
func (a *admin) sealKey(ctx context.Context) ([32]byte, error) {
	return clientSecretKey(ctx, sealedSecrets{st: a.store, kek: a.kek})
}

// needsNewSecret: the method changed to one whose secret the client has not.
func needsNewSecret(c storage.Client) bool {
	switch c.EffectiveAuthMethod() {
	case storage.AuthMethodSecretBasic, storage.AuthMethodSecretPost:
		return c.SecretHash == ""
	case storage.AuthMethodSecretJWT:
		return len(c.SecretSealed) == 0
	default:
		return c.SecretHash != "" || len(c.SecretSealed) != 0 // drop the secret
	}
}
