package op

// DPoP, RFC 9449: a client proves with each token or userinfo request that
// it holds a private key, and the tokens it gets are bound to that key, so
// a stolen access token (or a public client's refresh token) is useless
// without it.
//
// A proof (the DPoP header) is accepted only when: it is the only one and
// at most maxDPoPProof bytes; a compact JWS with typ dpop+jwt and an alg of
// dpopAlgs; its jwk header is a public key only (RSA of 2048 to 4096 bits,
// P-256, Ed25519) and its signature verifies with it; htm is the request
// method; htu is the endpoint's URL as the configured issuer names it (the
// Host header is never trusted); iat is within dpopWindow of the clock;
// ath, at userinfo, is the hash of the presented access token; nonce is a
// current server nonce; and jti was not used before with the same key
// (storage.OneTime is SET NX in Redis, so every node shares the cache).
//
// The server nonce (RFC 9449 §8, §9) is always required: it bounds how long
// a proof made ahead of time is good for, on top of the iat window. It is
// stateless, an HMAC of a time bucket under a key derived from
// Config.CryptoKey (which every node shares), so any node can check a nonce
// another issued; the current and the previous bucket are accepted. Every
// response to a request carrying DPoP has a DPoP-Nonce header, so a client
// retries at most once per dpopNonceBucket.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

const (
	// maxDPoPProof bounds the DPoP header: a proof with an RSA-4096 key
	// is about 2 KB.
	maxDPoPProof = 4096
	// dpopWindow is how far iat may be from the clock, either side.
	dpopWindow = 60 * time.Second
	// dpopNonceBucket is how long one server nonce is issued; it is
	// accepted for up to twice that.
	dpopNonceBucket = 5 * time.Minute
	maxDPoPJTI      = 256
	minDPoPRSABits  = 2048
	maxDPoPRSABits  = 4096 // verification cost grows with the key

	dpopType       = "dpop+jwt"
	dpopTokenType  = "DPoP"
	errInvalidDPoP = "invalid_dpop_proof"
	errDPoPNonce   = "use_dpop_nonce"
)

// dpopAlgs are the accepted proof algorithms: asymmetric only (RFC 9449
// §4.3), never none or an HMAC.
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// DPoPAlgorithms lists dpopAlgs for discovery (dpop_signing_alg_values_supported).
func DPoPAlgorithms() []string {
	out := make([]string, len(dpopAlgs))
	for i, a := range dpopAlgs {
		out[i] = string(a)
	}
	return out
}

// dpopChallenge is the WWW-Authenticate value of a refused DPoP request at
// userinfo (RFC 9449 §7.1).
func dpopChallenge(code string) string {
	c := dpopTokenType + ` algs="` + strings.Join(DPoPAlgorithms(), " ") + `"`
	if code != "" {
		c += `, error="` + code + `"`
	}
	return c
}

func errDPoP(desc string) *oidc.Error {
	return &oidc.Error{ErrorType: errInvalidDPoP, Description: desc}
}

// dpopChecker verifies proofs and issues nonces.
type dpopChecker struct {
	issuer   string // without a trailing slash
	nonceKey []byte
	once     storage.OneTime
	store    *store
	now      func() time.Time
}

func newDPoPChecker(cfg *Config, s *store) *dpopChecker {
	mac := hmac.New(sha256.New, cfg.CryptoKey[:])
	mac.Write([]byte("satupintu dpop nonce v1")) // a key of its own, not the token key
	return &dpopChecker{
		issuer:   strings.TrimSuffix(cfg.Issuer, "/"),
		nonceKey: mac.Sum(nil),
		once:     s.ephemeral,
		store:    s,
		now:      cfg.Now,
	}
}

// nonceAt is the server nonce of the bucket holding t.
func (d *dpopChecker) nonceAt(t time.Time) string {
	return d.nonceOf(t.Unix() / int64(dpopNonceBucket/time.Second))
}

func (d *dpopChecker) nonceOf(bucket int64) string {
	mac := hmac.New(sha256.New, d.nonceKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(bucket))
	mac.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// validNonce accepts the nonce of the current and of the previous bucket.
func (d *dpopChecker) validNonce(n string, now time.Time) bool {
	bucket := now.Unix() / int64(dpopNonceBucket/time.Second)
	for _, b := range []int64{bucket, bucket - 1} {
		if hmac.Equal([]byte(n), []byte(d.nonceOf(b))) {
			return true
		}
	}
	return false
}

// jsonMembers are a JSON object's members by exact name: encoding/json
// matches struct fields case-insensitively, so "TYP" would pass for typ
// while go-jose, like the RFC, reads only "typ".
type jsonMembers map[string]json.RawMessage

// str reads member name as a JSON string; absent or another type is "".
func (m jsonMembers) str(name string) string {
	var v string
	if raw, ok := m[name]; !ok || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

// numericDate reads member name as a JWT NumericDate (RFC 7519 §2): a
// JSON number, fractions allowed.
func (m jsonMembers) numericDate(name string) (time.Time, bool) {
	raw := bytes.TrimSpace(m[name])
	var f float64
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &f) != nil || math.Abs(f) > 1e12 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// privateJWKMembers are the JWK members that carry secret material (RFC
// 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// verify checks proof for a request of method to the endpoint at path;
// accessToken is the token the request presents (userinfo), for ath. It
// returns the key's RFC 7638 thumbprint, or the error to answer: invalid
// proof, use_dpop_nonce, or a failed dependency (recorded for the guard).
func (d *dpopChecker) verify(ctx context.Context, proof, method, path, accessToken string) (string, *oidc.Error) {
	if len(proof) > maxDPoPProof {
		return "", errDPoP("the DPoP proof is too large")
	}
	if strings.Count(proof, ".") != 2 {
		return "", errDPoP("the DPoP proof is not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(proof[:strings.IndexByte(proof, '.')])
	var hdr, jwkMembers jsonMembers
	if err != nil || json.Unmarshal(raw, &hdr) != nil {
		return "", errDPoP("the DPoP proof header is malformed")
	}
	if hdr.str("typ") != dpopType {
		return "", errDPoP("the DPoP proof typ must be dpop+jwt")
	}
	if json.Unmarshal(hdr["jwk"], &jwkMembers) != nil || jwkMembers == nil {
		return "", errDPoP("the DPoP proof has no jwk header")
	}
	for _, m := range privateJWKMembers {
		if _, ok := jwkMembers[m]; ok {
			return "", errDPoP("the jwk of a DPoP proof must be a public key")
		}
	}
	jws, err := jose.ParseSignedCompact(proof, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", errDPoP("the DPoP proof must be a JWS signed with one of " + strings.Join(DPoPAlgorithms(), ", "))
	}
	sig := jws.Signatures[0]
	jwk := sig.Protected.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() || !dpopKeyFits(jwk.Key, jose.SignatureAlgorithm(sig.Protected.Algorithm)) {
		return "", errDPoP("the jwk of the DPoP proof is not an acceptable public key for its alg")
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return "", errDPoP("the DPoP proof signature does not verify")
	}
	var c jsonMembers
	if json.Unmarshal(payload, &c) != nil {
		return "", errDPoP("the DPoP proof claims are malformed")
	}
	jti := c.str("jti")
	if jti == "" || len(jti) > maxDPoPJTI {
		return "", errDPoP("the DPoP proof needs a jti")
	}
	if c.str("htm") != method {
		return "", errDPoP("the DPoP proof htm does not match the request method")
	}
	want, _ := normalizeHTU(d.issuer + path)
	if got, ok := normalizeHTU(c.str("htu")); !ok || got != want {
		return "", errDPoP("the DPoP proof htu does not match the endpoint")
	}
	now := d.now()
	iat, ok := c.numericDate("iat")
	if !ok || iat.Before(now.Add(-dpopWindow)) || iat.After(now.Add(dpopWindow)) {
		return "", errDPoP("the DPoP proof iat is missing or not recent")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if subtle.ConstantTimeCompare([]byte(c.str("ath")), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) != 1 {
			return "", errDPoP("the DPoP proof ath does not match the access token")
		}
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", errDPoP("the jwk of the DPoP proof is not an acceptable public key for its alg")
	}
	jkt := base64.RawURLEncoding.EncodeToString(thumb)
	if !d.validNonce(c.str("nonce"), now) {
		return "", &oidc.Error{ErrorType: errDPoPNonce, Description: "use the nonce of the DPoP-Nonce header in the DPoP proof"}
	}
	// RFC 9449 §11.1: each proof once. The key includes the thumbprint so
	// nobody can use up another key's jti values; the hash bounds its size.
	// A proof is acceptable for at most twice the window.
	sum := sha256.Sum256([]byte(jkt + "\n" + jti))
	if err := d.once.PutOnce(ctx, "dpop-jti:"+hex.EncodeToString(sum[:]), []byte{1}, 2*dpopWindow); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return "", errDPoP("the DPoP proof was already used")
		}
		return "", d.store.unavailable(ctx, "record dpop jti", err)
	}
	return jkt, nil
}

// dpopKeyFits reports whether key is a public key of the kind and size alg
// needs.
func dpopKeyFits(key any, alg jose.SignatureAlgorithm) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		return (alg == jose.RS256 || alg == jose.PS256) && bits >= minDPoPRSABits && bits <= maxDPoPRSABits
	case *ecdsa.PublicKey:
		return alg == jose.ES256 && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// normalizeHTU reduces an http(s) URI to scheme, host and path, as RFC
// 9449 §4.3 compares them (query and fragment ignored; RFC 3986 §6.2.2
// and §6.2.3 case and default-port normalization).
func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	switch {
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	default:
		return "", false
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// --- request state ---

// dpopState is what one token or userinfo request learned about DPoP: the
// verified proof's key, and what the storage adapter decided with it.
type dpopState struct {
	jkt string // thumbprint of the verified proof; empty without one

	mu            sync.Mutex
	refusal       *oidc.Error // answer this instead of the library's error
	bound         bool        // an access token was bound to jkt
	boundAsBearer bool        // a bound token came without its proof
}

type dpopKey struct{}

func withDPoPState(r *http.Request, st *dpopState) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), dpopKey{}, st))
}

func dpopFrom(ctx context.Context) *dpopState {
	st, _ := ctx.Value(dpopKey{}).(*dpopState)
	return st
}

// thumbprint is the verified proof's key thumbprint; "" for none.
func (st *dpopState) thumbprint() string {
	if st == nil {
		return ""
	}
	return st.jkt
}

// bind returns the thumbprint a new access token is bound to, and notes
// that one was bound (the response's token_type then is DPoP).
func (st *dpopState) bind() string {
	if st == nil || st.jkt == "" {
		return ""
	}
	st.mu.Lock()
	st.bound = true
	st.mu.Unlock()
	return st.jkt
}

// refuse records the answer to give instead of the library's (which
// turns storage errors into a bare invalid_grant).
func (st *dpopState) refuse(e *oidc.Error) *oidc.Error {
	if st != nil {
		st.mu.Lock()
		if st.refusal == nil {
			st.refusal = e
		}
		st.mu.Unlock()
	}
	return e
}

func (st *dpopState) get() (refusal *oidc.Error, bound, boundAsBearer bool) {
	if st == nil {
		return nil, false, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.refusal, st.bound, st.boundAsBearer
}

// --- storage adapter hooks ---

// checkCodeBinding: a code whose request carried dpop_jkt is redeemed only
// with a proof by that key (RFC 9449 §10).
func (s *store) checkCodeBinding(ctx context.Context, r storage.AuthRequest) error {
	st := dpopFrom(ctx)
	if r.DPoPJKT == "" || r.DPoPJKT == st.thumbprint() {
		return nil
	}
	s.audit(ctx, storage.AuditEvent{Action: "dpop.key_mismatch", ActorID: r.ClientID, Subject: r.UserID, ClientID: r.ClientID,
		Detail: map[string]string{"grant": "authorization_code"}})
	return st.refuse(oidc.ErrInvalidGrant().WithDescription("the code is bound to another DPoP key (dpop_jkt)"))
}

// checkRefreshBinding: a bound refresh token is used only with a proof by
// its key (RFC 9449 §5). Another key's proof is audited: the token may
// have been stolen.
func (s *store) checkRefreshBinding(ctx context.Context, rt storage.RefreshToken) error {
	st := dpopFrom(ctx)
	switch {
	case rt.JKT == "":
		return nil
	case st.thumbprint() == "":
		return st.refuse(errDPoP("this refresh token needs a DPoP proof"))
	case st.thumbprint() != rt.JKT:
		s.audit(ctx, storage.AuditEvent{Action: "dpop.key_mismatch", ActorID: rt.ClientID, Subject: rt.UserID, ClientID: rt.ClientID,
			Detail: map[string]string{"grant": "refresh_token"}})
		return st.refuse(oidc.ErrInvalidGrant().WithDescription("the refresh token is bound to another DPoP key"))
	}
	return nil
}

// refreshJKT is the key a new grant's refresh token is bound to: a public
// client's proof key. A confidential client's refresh token stays unbound
// (RFC 9449 §5): its own authentication protects it.
func (s *store) refreshJKT(ctx context.Context, clientID string) (string, error) {
	jkt := dpopFrom(ctx).thumbprint()
	if jkt == "" {
		return "", nil
	}
	c, err := s.clients.get(ctx, clientID)
	if err != nil {
		return "", s.unavailable(ctx, "load client for dpop binding", err)
	}
	if !c.Public {
		return "", nil
	}
	return jkt, nil
}

// acceptsToken: at userinfo a bound token needs a proof by its key, and a
// proof comes only with a bound token (RFC 9449 §7.1).
func acceptsToken(ctx context.Context, at storage.AccessToken) bool {
	st := dpopFrom(ctx)
	jkt := st.thumbprint()
	if at.JKT != "" && jkt == "" && st != nil {
		st.mu.Lock()
		st.boundAsBearer = true
		st.mu.Unlock()
	}
	return at.JKT == jkt
}

// dpopIntrospection names a bound token's key (RFC 9449 §6.2, RFC 7800 §3.1).
func dpopIntrospection(resp *oidc.IntrospectionResponse, at storage.AccessToken) {
	if at.JKT == "" {
		return
	}
	resp.TokenType = dpopTokenType
	if resp.Claims == nil {
		resp.Claims = map[string]any{}
	}
	resp.Claims["cnf"] = map[string]any{"jkt": at.JKT}
}

// --- dpop_jkt (RFC 9449 §10) ---

type dpopJKTKey struct{}

// withDPoPJKTParam carries the authorization request's dpop_jkt (r.Form is
// parsed) to ValidateAuthRequest and CreateAuthRequest, which zitadel calls
// with the context only.
func withDPoPJKTParam(r *http.Request) *http.Request {
	if !r.Form.Has("dpop_jkt") {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), dpopJKTKey{}, r.Form.Get("dpop_jkt")))
}

func dpopJKTParam(ctx context.Context) string {
	v, _ := ctx.Value(dpopJKTKey{}).(string)
	return v
}

// checkDPoPJKTParam: dpop_jkt is a base64url SHA-256 thumbprint, which
// has the shape of an S256 code challenge.
func checkDPoPJKTParam(ctx context.Context) error {
	if v, ok := ctx.Value(dpopJKTKey{}).(string); ok && !validS256Challenge(v) {
		return oidc.ErrInvalidRequest().WithDescription("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	return nil
}

// --- token endpoint ---

// dpopToken checks the DPoP proof of a token request before zitadel sees
// it, refuses a request without one from a client that requires DPoP, and
// makes the answer right: token_type DPoP for a bound token, and the
// refusal the storage adapter recorded instead of zitadel's invalid_grant.
// Introspection and revocation share the handler chain and pass through.
func (p *Provider) dpopToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		st := &dpopState{}
		proofs := r.Header.Values("DPoP")
		if len(proofs) > 0 {
			w.Header().Set("DPoP-Nonce", p.dpop.nonceAt(p.cfg.Now()))
		}
		switch {
		case len(proofs) > 1:
			p.refuseDPoP(w, r, http.StatusBadRequest, errDPoP("send exactly one DPoP proof"))
			return
		case len(proofs) == 1:
			jkt, e := p.dpop.verify(r.Context(), proofs[0], r.Method, "/oauth/token", "")
			if e != nil {
				p.refuseDPoP(w, r, http.StatusBadRequest, e)
				return
			}
			st.jkt = jkt
		default:
			required, err := p.clientRequiresDPoP(r)
			if err != nil {
				// Unknown: a client that must use DPoP would get a bearer token.
				p.store.unavailable(r.Context(), "load client for DPoP policy", err)
				writeProtocolError(w, http.StatusServiceUnavailable, Unavailable())
				return
			}
			if required {
				p.refuseDPoP(w, r, http.StatusBadRequest, errDPoP("this client must send a DPoP proof"))
				return
			}
		}
		tw := &dpopTokenWriter{ResponseWriter: w, st: st}
		next.ServeHTTP(tw, withDPoPState(r, st))
		tw.finish()
	})
}

// refuseDPoP answers a refused proof; a failed dependency was recorded
// and the guard turns it into a 503.
func (p *Provider) refuseDPoP(w http.ResponseWriter, r *http.Request, status int, e *oidc.Error) {
	if isUnavailable(e) {
		writeProtocolError(w, http.StatusServiceUnavailable, e)
		return
	}
	p.cfg.Logger.InfoContext(r.Context(), "dpop proof refused", "path", r.URL.Path, "error", e.ErrorType, "reason", e.Description)
	if r.URL.Path == "/userinfo" {
		w.Header().Set("WWW-Authenticate", dpopChallenge(string(e.ErrorType)))
	}
	writeProtocolError(w, status, e)
}

// clientRequiresDPoP looks up the client a token request names (already
// authenticated by checkClientRequest if it sent credentials). A client
// that does not exist is left to zitadel, which answers for it; an error
// is a dependency failure.
func (p *Provider) clientRequiresDPoP(r *http.Request) (bool, error) {
	id := r.PostForm.Get("client_id")
	if u, _, ok := r.BasicAuth(); ok {
		if v, err := url.QueryUnescape(u); err == nil {
			id = v
		}
	}
	if id == "" {
		id = assertedClientID(r.PostForm.Get("client_assertion"))
	}
	if id == "" {
		return false, nil
	}
	c, err := p.store.clients.get(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil && c.DPoPRequired, err
}

// assertedClientID is the sub of a client assertion (RFC 7523 §3: the
// client_id), read without verification: it only finds the client whose
// policy applies; the assertion itself is checked by client authentication.
func assertedClientID(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || len(assertion) > maxParamLen {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims jsonMembers
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.str("sub")
}

// dpopTokenWriter holds a token response that needs rewriting: a success
// with a bound token, or an error the storage adapter replaced. Token
// responses are small.
type dpopTokenWriter struct {
	http.ResponseWriter
	st     *dpopState
	wrote  bool
	held   bool
	status int
	body   bytes.Buffer
}

func (t *dpopTokenWriter) WriteHeader(code int) {
	if t.wrote {
		return
	}
	t.wrote = true
	refusal, _, _ := t.st.get()
	if refusal != nil || (code == http.StatusOK && t.st.jkt != "") {
		t.held, t.status = true, code
		return
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *dpopTokenWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	if t.held {
		if t.body.Len() < maxErrorBody*4 {
			t.body.Write(b)
		}
		return len(b), nil
	}
	return t.ResponseWriter.Write(b)
}

func (t *dpopTokenWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *dpopTokenWriter) finish() {
	if !t.held {
		return
	}
	refusal, bound, _ := t.st.get()
	if refusal != nil {
		writeProtocolError(t.ResponseWriter, http.StatusBadRequest, refusal)
		return
	}
	body := t.body.Bytes()
	if bound {
		// RFC 9449 §5: a bound token's type is DPoP; zitadel writes Bearer.
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err == nil {
			doc["token_type"] = json.RawMessage(`"` + dpopTokenType + `"`)
			if b, err := json.Marshal(doc); err == nil {
				body = b
			}
		}
	}
	t.Header().Del("Content-Length")
	t.ResponseWriter.WriteHeader(t.status)
	t.ResponseWriter.Write(body)
}

// --- userinfo ---

// dpopUserinfo verifies a request with the DPoP scheme (RFC 9449 §7) and
// hands zitadel, which reads only Bearer, the token as Bearer with the
// proof's key in the context; the storage adapter then accepts the token
// only if it is bound to that key (acceptsToken). A bound token presented
// as Bearer is refused with a DPoP challenge.
func (p *Provider) dpopUserinfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &dpopState{}
		auth := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, dpopTokenType) {
			if auth == "" && r.PostForm.Get("access_token") == "" {
				w.Header().Add("WWW-Authenticate", dpopChallenge(""))
			}
			next.ServeHTTP(&dpopUserinfoWriter{ResponseWriter: w, r: r, st: st}, withDPoPState(r, st))
			return
		}
		w.Header().Set("DPoP-Nonce", p.dpop.nonceAt(p.cfg.Now()))
		token = strings.TrimLeft(token, " ")
		proofs := r.Header.Values("DPoP")
		if token == "" || len(proofs) != 1 {
			p.refuseDPoP(w, r, http.StatusUnauthorized, errDPoP("send the access token with exactly one DPoP proof"))
			return
		}
		jkt, e := p.dpop.verify(r.Context(), proofs[0], r.Method, "/userinfo", token)
		if e != nil {
			p.refuseDPoP(w, r, http.StatusUnauthorized, e)
			return
		}
		st.jkt = jkt
		r = withDPoPState(r, st)
		r.Header = r.Header.Clone()
		r.Header.Set("Authorization", oidc.PrefixBearer+token)
		next.ServeHTTP(&dpopUserinfoWriter{ResponseWriter: w, r: r, st: st, dpop: true}, r)
	})
}

// dpopUserinfoWriter puts a DPoP challenge on a refused token when the
// request used the DPoP scheme or presented a bound token as Bearer.
type dpopUserinfoWriter struct {
	http.ResponseWriter
	r    *http.Request
	st   *dpopState
	dpop bool
}

func (u *dpopUserinfoWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		_, _, asBearer := u.st.get()
		status := 0
		if o := outcomeFrom(u.r.Context()); o != nil {
			status, _ = o.get()
		}
		if status == 0 && (u.dpop || asBearer) {
			u.Header().Set("WWW-Authenticate", dpopChallenge("invalid_token"))
		}
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *dpopUserinfoWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
