package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"satupintu/op"
	"satupintu/storage"
)

// sealedSecretPrefix marks a secrets-table value sealed with the
// key-encryption key; a generated plaintext value starts with it by chance
// with probability 2^-136.
const sealedSecretPrefix = "satupintu-kek-v1:"

// secretReplacer is the backends' optional capability to swap a stored
// secret for its sealed form.
type secretReplacer interface {
	ReplaceSecret(ctx context.Context, name string, old, next []byte) error
}

// sealedSecrets keeps the generated keys of the secrets table (cookie,
// access token, TOTP, CAPTCHA keys) sealed with the key-encryption key, as
// the signing keys are: a database dump alone reveals none of them. Values
// stored in plaintext before a KEK was configured are sealed on first use.
// The name is the associated data, so a sealed value moved to another name
// does not open.
type sealedSecrets struct {
	st  storage.Secrets
	kek *op.KEK // nil: new values are stored in plaintext, sealed ones refused
}

func (s sealedSecrets) seal(name string, plain []byte) []byte {
	return append([]byte(sealedSecretPrefix), s.kek.Seal("secret:"+name, plain)...)
}

func (s sealedSecrets) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	v, err := s.st.Secret(ctx, name, func() ([]byte, error) {
		b, err := gen()
		if err != nil || s.kek == nil {
			return b, err
		}
		return s.seal(name, b), nil
	})
	if err != nil {
		return nil, err
	}
	if sealed, ok := bytes.CutPrefix(v, []byte(sealedSecretPrefix)); ok {
		if s.kek == nil {
			return nil, fmt.Errorf("secret %s is sealed but no key-encryption key is configured (SATUPINTU_KEY_ENCRYPTION_KEY)", name)
		}
		plain, err := s.kek.Open("secret:"+name, sealed)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w; is SATUPINTU_KEY_ENCRYPTION_KEY the key it was sealed with?", name, err)
		}
		return plain, nil
	}
	if r, ok := s.st.(secretReplacer); ok && s.kek != nil {
		// ErrConflict: another node sealed it first, the value is the same.
		if err := r.ReplaceSecret(ctx, name, v, s.seal(name, v)); err != nil && !errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("seal secret %s: %w", name, err)
		}
	}
	return v, nil
}

// secrets is the secrets table as the server reads it: sealed with the KEK.
func (d deps) secrets() storage.Secrets { return sealedSecrets{st: d.durable, kek: d.cfg.KEK} }
