package op

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"satupintu/storage"
)

// buildDiscovery serializes the discovery document once: it only changes
// with the configuration, and serving cached bytes keeps discovery cheap
// (DESIGN.md budgets ≥ 20,000 requests/s). It states what satupintu really
// does, which is narrower than zitadel's defaults (no implicit flow, no
// jwt-bearer grant).
func (p *Provider) buildDiscovery() ([]byte, error) {
	ctx := zop.ContextWithIssuer(context.Background(), p.cfg.Issuer)
	d := zop.CreateDiscoveryConfig(ctx, p.zp, p.store)
	d.ScopesSupported = SupportedScopes
	d.ClaimsSupported = SupportedClaims
	if !slices.Contains(d.ClaimsSupported, "acr") {
		d.ClaimsSupported = append(slices.Clone(d.ClaimsSupported), "acr")
	}
	// Requesting the MFA class forces the second factor (ASVS 6.3.3).
	d.ACRValuesSupported = []string{storage.ACRPassword, storage.ACRMFA}
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	// The JWT methods are verified in clientauth.go (RFC 7523, OIDC Core §9).
	jwtMethods := []oidc.AuthMethod{storage.AuthMethodSecretJWT, oidc.AuthMethodPrivateKeyJWT}
	d.TokenEndpointAuthMethodsSupported = append([]oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}, jwtMethods...)
	d.TokenEndpointAuthSigningAlgValuesSupported = assertionSigningAlgs()
	d.RevocationEndpointAuthMethodsSupported = append([]oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}, jwtMethods...)
	d.RevocationEndpointAuthSigningAlgValuesSupported = assertionSigningAlgs()
	d.IntrospectionEndpointAuthMethodsSupported = append([]oidc.AuthMethod{oidc.AuthMethodBasic}, jwtMethods...)
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = assertionSigningAlgs()
	d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantTypeDeviceCode) // RFC 8628 §4 (device.go)
	d.RequestObjectSigningAlgValuesSupported = nil
	d.SubjectTypesSupported = []string{SubjectPublic, SubjectPairwise}
	d.ClaimsParameterSupported = false
	d.RequestURIParameterSupported = false
	// Back-Channel Logout 1.0 §2.1: logout tokens carry sid.
	d.BackChannelLogoutSupported = true
	d.BackChannelLogoutSessionSupported = true
	body, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode discovery: %w", err)
	}
	// Members zitadel's struct lacks.
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	doc["prompt_values_supported"] = []string{oidc.PromptNone, oidc.PromptLogin, storage.PromptCreate}
	doc["authorization_response_iss_parameter_supported"] = true // RFC 9207
	// RFC 9126 §5; PAR is required per client (storage.Client.RequirePAR).
	doc["pushed_authorization_request_endpoint"] = p.endpointURL(parPath)
	doc["require_pushed_authorization_requests"] = false
	doc["dpop_signing_alg_values_supported"] = DPoPAlgorithms() // RFC 9449 §5.1
	return json.Marshal(doc)
}

func (p *Provider) serveDiscovery(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		w.Write(body)
	})
}

// serveKeys answers the JWKS from the serialized form the key manager keeps.
func (p *Provider) serveKeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := p.store.keys.jwks(r.Context())
		if err != nil {
			p.cfg.Logger.ErrorContext(r.Context(), "serve jwks", "error", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		// Short enough that a rotated key reaches relying parties before
		// it starts signing (KeyTimeline.PublishDelay counts this max-age).
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(p.store.keys.timeline.JWKSMaxAge().Seconds())))
		w.Write(body)
	})
}

// encodeJWKS serializes public keys; never private or symmetric material
// (OIDC Discovery §3).
func encodeJWKS(keys []*parsedKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			KeyID: k.id, Algorithm: string(k.alg), Use: "sig", Key: k.private.Public(),
		})
	}
	return json.Marshal(set)
}

// withIssuer adds iss to authorization responses (RFC 9207) so a client
// talking to several providers can tell which one answered (mix-up defence,
// RFC 9700 §4.4). zitadel does not, so redirects to the client are amended.
func (p *Provider) withIssuer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&issWriter{ResponseWriter: w, issuer: p.cfg.Issuer}, r)
	})
}

// redirectDescription keeps an error redirect's description in RFC 6749
// §4.1.2.1's character set, and generic for a server error (the library
// puts error texts there).
func redirectDescription(code, desc string) string {
	if code == string(oidc.ServerError) {
		return descServerError
	}
	return sanitizeDescription(desc)
}

type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (i *issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if loc := i.Header().Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil && u.IsAbs() {
				q := u.Query()
				if (q.Has("code") || q.Has("error")) && !q.Has("iss") {
					q.Set("iss", i.issuer)
					if q.Has("error_description") {
						q.Set("error_description", redirectDescription(q.Get("error"), q.Get("error_description")))
					}
					u.RawQuery = q.Encode()
					i.Header().Set("Location", u.String())
				}
			}
		}
	}
	i.ResponseWriter.WriteHeader(code)
}
