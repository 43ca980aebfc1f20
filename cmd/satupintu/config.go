package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"satupintu/captcha"
	"satupintu/mail"
	"satupintu/op"
	"satupintu/privacy"
	"satupintu/quota"
	"satupintu/storage/memory"
	"satupintu/upstream"
)

// Config is the whole configuration: defaults, then SATUPINTU_* environment
// variables, then flags. Secrets may come from SATUPINTU_*_FILE.
type Config struct {
	Addr             string
	Issuer           string
	DataDir          string
	Demo             bool
	SigningAlgorithm string
	SessionTTL       time.Duration
	ClientCacheTTL   time.Duration
	// CacheTTL bounds how long a node keeps users and organizations
	// (storage/cache); changes reach every node's cache sooner. 0: no cache.
	CacheTTL  time.Duration
	LogLevel  string
	LogFormat string
	// DatabaseURL selects Postgres (postgres://…); empty means the embedded
	// SQLite file under DataDir.
	DatabaseURL string
	// RedisURL selects Redis (redis:// or rediss://) for short-lived state;
	// empty means in-process memory (one node only).
	RedisURL    string
	RedisPrefix string
	// MemoryMaxEntries bounds each kind of entry the in-process store
	// holds without Redis (memory.WithMaxEntries).
	MemoryMaxEntries int
	// SMTP sends mail when SMTP.Host is set; otherwise messages are written
	// as .eml files to MailDir (default <DataDir>/mail) so the demo works
	// without a mail server.
	SMTP    mail.SMTPConfig
	MailDir string
	// TrustedProxies are the networks of the proxies in front (Ingress,
	// load balancer) whose X-Forwarded-For names the real client.
	TrustedProxies []*net.IPNet
	// CookieHashKey and CookieBlockKey sign and encrypt cookies. Empty means
	// generated on first start and kept in the database.
	CookieHashKey  []byte
	CookieBlockKey []byte
	// Captcha says when forms ask for a CAPTCHA: off, adaptive (sign-in
	// after failed attempts, registration always) or always.
	Captcha captcha.Mode
	// CaptchaMaxNumber is the proof of work's difficulty: a browser tries
	// half of it on average (captcha.DefaultMaxNumber).
	CaptchaMaxNumber int64
	// Limits bound what anonymous clients may store (limits.go).
	Limits Limits
	// AuditRetention is how long audit events are kept (maintenance.go).
	AuditRetention time.Duration
	// Retention is how long registrations and their letters are kept
	// (privacy.Retention); 0 keeps them.
	Retention privacy.Retention
	// InviteNeedsOfficer makes accounts created by an accepted company
	// invitation start disabled until an officer enables them.
	InviteNeedsOfficer bool
	// UpstreamsFile names a JSON file of upstream OpenID providers people
	// may sign in with (package upstream); Upstreams is what it holds,
	// read and checked at start.
	UpstreamsFile string
	Upstreams     []upstream.Provider
	// MetricsAddr is the internal listener for /metrics (and the profiler
	// when Pprof is set); "off" disables it. Loopback by default, so it is
	// never public by accident: a deployment opens it to its scraper only.
	MetricsAddr string
	Pprof       bool
	// AccessLog writes one JSON-able log line per request (web.AccessLog),
	// to the same logger; on by default.
	AccessLog bool
	// KeyRotation is how long a signing key signs before a successor is
	// made (0: only `satupintu keys rotate`). KEK seals private signing
	// keys at rest (SATUPINTU_KEY_ENCRYPTION_KEY); required in production.
	KeyRotation time.Duration
	KEK         *op.KEK
}

func defaultConfig() Config {
	return Config{
		Addr:             ":8080",
		Issuer:           "http://localhost:8080",
		DataDir:          "data",
		Demo:             true,
		SigningAlgorithm: "RS256",
		SessionTTL:       8 * time.Hour,
		ClientCacheTTL:   5 * time.Second,
		CacheTTL:         5 * time.Second,
		LogLevel:         "info",
		LogFormat:        "text",
		RedisPrefix:      "satupintu:",
		MemoryMaxEntries: memory.DefaultMaxEntries,
		SMTP:             mail.SMTPConfig{From: "Satu Pintu <no-reply@satupintu.localhost>"},
		Captcha:          captcha.Adaptive,
		CaptchaMaxNumber: captcha.DefaultMaxNumber,
		Limits:           defaultLimits(),
		AuditRetention:   defaultAuditRetention,
		Retention:        privacy.DefaultRetention,
		MetricsAddr:      "127.0.0.1:9090",
		KeyRotation:      90 * 24 * time.Hour,
		AccessLog:        true,
	}
}

// env reads SATUPINTU_<name>, or the file named by SATUPINTU_<name>_FILE.
type env func(string) string

func (e env) get(name string) (string, error) {
	if v := e("SATUPINTU_" + name); v != "" {
		return v, nil
	}
	if f := e("SATUPINTU_" + name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("SATUPINTU_%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// loadConfig builds the configuration for a command. fs may already hold the
// command's own flags; the shared ones are added here.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	e := env(getenv)
	var problems []string
	str := func(name string, dst *string) {
		v, err := e.get(name)
		if err != nil {
			problems = append(problems, err.Error())
		} else if v != "" {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		var s string
		str(name, &s)
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("SATUPINTU_%s: %q is not a positive duration such as 8h or 30m", name, s))
			return
		}
		*dst = d
	}
	key := func(name string, dst *[]byte) {
		var s string
		str(name, &s)
		if s == "" {
			return
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SATUPINTU_%s: not base64", name))
			return
		}
		*dst = b
	}
	str("ADDR", &cfg.Addr)
	str("ISSUER", &cfg.Issuer)
	str("DATA_DIR", &cfg.DataDir)
	str("SIGNING_ALG", &cfg.SigningAlgorithm)
	str("LOG_LEVEL", &cfg.LogLevel)
	str("LOG_FORMAT", &cfg.LogFormat)
	str("DATABASE_URL", &cfg.DatabaseURL)
	str("REDIS_URL", &cfg.RedisURL)
	str("REDIS_PREFIX", &cfg.RedisPrefix)
	str("SMTP_HOST", &cfg.SMTP.Host)
	str("SMTP_USERNAME", &cfg.SMTP.Username)
	str("SMTP_PASSWORD", &cfg.SMTP.Password)
	str("SMTP_FROM", &cfg.SMTP.From)
	str("SMTP_TLS", &cfg.SMTP.TLS)
	str("MAIL_DIR", &cfg.MailDir)
	str("UPSTREAMS_FILE", &cfg.UpstreamsFile)
	var proxies string
	str("TRUSTED_PROXIES", &proxies)
	for _, c := range strings.FieldsFunc(proxies, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !strings.Contains(c, "/") {
			if strings.Contains(c, ":") {
				c += "/128"
			} else {
				c += "/32"
			}
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SATUPINTU_TRUSTED_PROXIES: %q is not an address or CIDR", c))
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
	}
	str("CAPTCHA", (*string)(&cfg.Captcha))
	var maxNumber string
	str("CAPTCHA_MAX_NUMBER", &maxNumber)
	if maxNumber != "" {
		n, err := strconv.ParseInt(maxNumber, 10, 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SATUPINTU_CAPTCHA_MAX_NUMBER: %q is not a whole number", maxNumber))
		}
		cfg.CaptchaMaxNumber = n
	}
	var maxEntries string
	str("MEMORY_MAX_ENTRIES", &maxEntries)
	if maxEntries != "" {
		n, err := strconv.Atoi(maxEntries)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SATUPINTU_MEMORY_MAX_ENTRIES: %q is not a whole number", maxEntries))
		}
		cfg.MemoryMaxEntries = n
	}
	for _, lim := range []struct {
		name string
		l    *quota.Limit
	}{{"AUTHORIZE", &cfg.Limits.Authorize}, {"REGISTER", &cfg.Limits.Register},
		{"LOGOUT", &cfg.Limits.Logout}, {"CAPTCHA_IMAGE", &cfg.Limits.CaptchaImage}, {"PASSKEY", &cfg.Limits.Passkey},
		{"UPSTREAM", &cfg.Limits.Upstream},
		{"INVITE_ACCEPT", &cfg.Limits.InviteAccept}, {"DEVICE", &cfg.Limits.Device}, {"DEVICE_CODE", &cfg.Limits.DeviceCode}} {
		name, l := lim.name, lim.l
		var v string
		str("LIMIT_"+name, &v)
		if v == "" {
			continue
		}
		if err := parseLimit(v, l); err != nil {
			problems = append(problems, "SATUPINTU_LIMIT_"+name+": "+err.Error())
		}
	}
	var smtpPort, smtpCA string
	str("SMTP_PORT", &smtpPort)
	if smtpPort != "" {
		port, err := strconv.Atoi(smtpPort)
		if err != nil || port <= 0 || port > 65535 {
			problems = append(problems, fmt.Sprintf("SATUPINTU_SMTP_PORT: %q is not a port number", smtpPort))
		}
		cfg.SMTP.Port = port
	}
	str("SMTP_CA_FILE", &smtpCA)
	if smtpCA != "" {
		pem, err := os.ReadFile(smtpCA)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			problems = append(problems, fmt.Sprintf("SATUPINTU_SMTP_CA_FILE: %s holds no PEM certificate", smtpCA))
		} else {
			cfg.SMTP.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	dur("SESSION_TTL", &cfg.SessionTTL)
	dur("CLIENT_CACHE_TTL", &cfg.ClientCacheTTL)
	dur("CACHE_TTL", &cfg.CacheTTL)
	dur("AUDIT_RETENTION", &cfg.AuditRetention)
	dur("RETENTION_CLOSED", &cfg.Retention.Closed)
	dur("RETENTION_DOCUMENTS", &cfg.Retention.Documents)
	key("COOKIE_HASH_KEY", &cfg.CookieHashKey)
	key("COOKIE_BLOCK_KEY", &cfg.CookieBlockKey)
	boolean := func(name string, dst *bool) {
		var v string
		str(name, &v)
		if v == "" {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SATUPINTU_%s: %q is not true or false", name, v))
		}
		*dst = b
	}
	boolean("INVITE_CONFIRM", &cfg.InviteNeedsOfficer)
	boolean("DEMO", &cfg.Demo)
	var rotation, kek string
	str("KEY_ROTATION", &rotation)
	if rotation == "0" {
		cfg.KeyRotation = 0
	} else if rotation != "" {
		dur("KEY_ROTATION", &cfg.KeyRotation)
	}
	str("KEY_ENCRYPTION_KEY", &kek)
	if kek != "" {
		k, err := op.ParseKEK(kek)
		if err != nil {
			problems = append(problems, "SATUPINTU_KEY_ENCRYPTION_KEY: "+err.Error()) // never the value
		}
		cfg.KEK = k
	}
	str("METRICS_ADDR", &cfg.MetricsAddr)
	boolean("PPROF", &cfg.Pprof)
	boolean("ACCESS_LOG", &cfg.AccessLog)

	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (SATUPINTU_ADDR)")
	fs.StringVar(&cfg.Issuer, "issuer", cfg.Issuer, "issuer URL relying parties see (SATUPINTU_ISSUER)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the embedded database (SATUPINTU_DATA_DIR)")
	fs.StringVar(&cfg.SigningAlgorithm, "signing-alg", cfg.SigningAlgorithm, "default signing algorithm: RS256, PS256, ES256 or EdDSA (SATUPINTU_SIGNING_ALG)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "single sign-on session lifetime (SATUPINTU_SESSION_TTL)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (SATUPINTU_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json (SATUPINTU_LOG_FORMAT)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "postgres:// URL; empty: embedded SQLite (SATUPINTU_DATABASE_URL)")
	fs.StringVar(&cfg.RedisURL, "redis-url", cfg.RedisURL, "redis:// URL; empty: in-process state (SATUPINTU_REDIS_URL)")
	fs.StringVar((*string)(&cfg.Captcha), "captcha", string(cfg.Captcha), "when forms ask for a CAPTCHA: off, adaptive or always (SATUPINTU_CAPTCHA)")
	fs.Int64Var(&cfg.CaptchaMaxNumber, "captcha-max-number", cfg.CaptchaMaxNumber, "proof-of-work difficulty: a browser tries half of it on average (SATUPINTU_CAPTCHA_MAX_NUMBER)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "internal listen address for /metrics; off: none (SATUPINTU_METRICS_ADDR)")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve /debug/pprof/ on the metrics address (SATUPINTU_PPROF)")
	fs.BoolVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "log one line per request: method, route, status, duration, bytes, request id, address; never the query (SATUPINTU_ACCESS_LOG)")
	fs.StringVar(&cfg.UpstreamsFile, "upstreams-file", cfg.UpstreamsFile, "JSON file of upstream OpenID providers to sign in with (SATUPINTU_UPSTREAMS_FILE)")
	noDemo := fs.Bool("no-demo", false, "do not create demo clients and users (SATUPINTU_DEMO=false)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if m, err := captcha.ParseMode(string(cfg.Captcha)); err == nil {
		cfg.Captcha = m // "Always" is always; Validate reports the rest
	}
	if *noDemo {
		cfg.Demo = false
	}
	problems = append(problems, cfg.Validate()...)
	if cfg.UpstreamsFile != "" {
		// Read now so a bad provider stops the start with its reason; an
		// upstream that is down does not (discovery is lazy).
		ps, err := upstream.ReadFile(cfg.UpstreamsFile, !cfg.secure())
		if err != nil {
			problems = append(problems, "SATUPINTU_UPSTREAMS_FILE: "+err.Error())
		}
		cfg.Upstreams = ps
	}
	if len(problems) > 0 {
		return cfg, errors.New(strings.Join(problems, "; "))
	}
	return cfg, nil
}

// Validate reports every bad value at once.
func (c Config) Validate() []string {
	var p []string
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p = append(p, fmt.Sprintf("issuer %q must be an absolute http(s) URL", c.Issuer))
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/"):
		p = append(p, fmt.Sprintf("issuer %q must have no query, fragment or trailing slash (OIDC Core §2)", c.Issuer))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p = append(p, fmt.Sprintf("issuer %q must use https unless it is on localhost", c.Issuer))
	}
	if c.Addr == "" {
		p = append(p, "addr must not be empty")
	}
	if c.MetricsAddr == "" || (c.MetricsAddr != "off" && !strings.Contains(c.MetricsAddr, ":")) {
		p = append(p, fmt.Sprintf("metrics-addr %q must be host:port or off", c.MetricsAddr))
	}
	if c.Pprof && c.MetricsAddr == "off" {
		p = append(p, "pprof needs a metrics-addr")
	}
	if c.DataDir == "" {
		p = append(p, "data-dir must not be empty")
	}
	if !op.ValidAlgorithm(c.SigningAlgorithm) {
		p = append(p, fmt.Sprintf("signing-alg %q must be one of %s", c.SigningAlgorithm, strings.Join(op.Algorithms, ", ")))
	}
	// A key must sign far longer than it waits to be published and to retire.
	if c.KeyRotation != 0 && c.KeyRotation < 24*time.Hour {
		p = append(p, "SATUPINTU_KEY_ROTATION must be 0 (manual only) or at least 24h (90 days is 2160h)")
	}
	// Production (Postgres behind an https issuer) keeps private keys
	// sealed: a database dump alone must not let anyone sign tokens. The
	// embedded default and the local compose demo run without.
	if c.DatabaseURL != "" && c.secure() && c.KEK == nil {
		p = append(p, "SATUPINTU_KEY_ENCRYPTION_KEY (or _FILE) is required in production (Postgres with an https issuer): base64 of 32 random bytes, e.g. openssl rand -base64 32")
	}
	// Fewer would evict the sessions of a handful of users signing in.
	if c.RedisURL == "" && c.MemoryMaxEntries < 1000 {
		p = append(p, "SATUPINTU_MEMORY_MAX_ENTRIES must be at least 1000")
	}
	if c.SessionTTL < time.Minute {
		p = append(p, "session-ttl must be at least 1m")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		p = append(p, err.Error())
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p = append(p, "database-url must be a postgres:// URL")
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			p = append(p, "redis-url must be a redis://, rediss:// or unix:// URL")
		}
	}
	if c.SMTP.Host != "" {
		if err := c.SMTP.Validate(); err != nil {
			p = append(p, "smtp: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if _, err := captcha.ParseMode(string(c.Captcha)); err != nil || c.Captcha == "" {
		p = append(p, fmt.Sprintf("captcha %q must be off, adaptive or always", c.Captcha))
	}
	if c.AuditRetention < 24*time.Hour {
		p = append(p, "SATUPINTU_AUDIT_RETENTION must be at least 24h (a year is 8760h)")
	}
	// A registration is reviewed within days; a shorter period would delete
	// what an officer or the registrant still needs.
	for _, r := range []struct {
		env string
		d   time.Duration
	}{{"SATUPINTU_RETENTION_CLOSED", c.Retention.Closed}, {"SATUPINTU_RETENTION_DOCUMENTS", c.Retention.Documents}} {
		if r.d != 0 && r.d < 30*24*time.Hour {
			p = append(p, r.env+" must be 0 (keep) or at least 720h (30 days)")
		}
	}
	if !captcha.ValidMaxNumber(c.CaptchaMaxNumber) {
		p = append(p, fmt.Sprintf("captcha-max-number %d must be from 1000 to 20000000", c.CaptchaMaxNumber))
	}
	p = append(p, c.Limits.validate()...)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p = append(p, fmt.Sprintf("log-format %q must be text or json", c.LogFormat))
	}
	if (len(c.CookieHashKey) == 0) != (len(c.CookieBlockKey) == 0) {
		p = append(p, "set both SATUPINTU_COOKIE_HASH_KEY and SATUPINTU_COOKIE_BLOCK_KEY, or neither")
	}
	if len(c.CookieHashKey) > 0 && len(c.CookieHashKey) < 32 {
		p = append(p, "SATUPINTU_COOKIE_HASH_KEY must decode to at least 32 bytes")
	}
	if n := len(c.CookieBlockKey); n > 0 && n != 16 && n != 24 && n != 32 {
		p = append(p, "SATUPINTU_COOKIE_BLOCK_KEY must decode to 16, 24 or 32 bytes")
	}
	return p
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level %q must be debug, info, warn or error", s)
	}
	return l, nil
}

func (c Config) databasePath() string { return filepath.Join(c.DataDir, "satupintu.db") }

func (c Config) mailDir() string {
	if c.MailDir != "" {
		return c.MailDir
	}
	return filepath.Join(c.DataDir, "mail")
}

func (c Config) secure() bool { return strings.HasPrefix(c.Issuer, "https://") }

func newLogger(c Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
