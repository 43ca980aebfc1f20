package account

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// The account-link protocol ("Create SSO" in the 2011 manual).
//
// A client application that offers linking registers an AccountLinkURL. To
// link, the signed-in user types the username and password they have in that
// application; the provider then sends
//
//	POST <AccountLinkURL>
//	Content-Type: application/x-www-form-urlencoded
//	Accept: application/json
//
//	username=<as typed>&password=<as typed>
//
// and the application answers
//
//	200 application/json {"username": "<its canonical username>"}   the account exists
//	401 (or 403)                                                    wrong username or password
//
// Anything else (another status, a redirect, a body over 4 KiB, no answer
// within 5 s) means "the application cannot check now". The provider keeps
// only the username the application returned; the password is used for this
// one request and never stored or logged.
//
// Transport security: the URL must be https (plain http only to a loopback
// address when the provider itself runs on loopback: development, the demo,
// tests). The provider does not know client secrets in clear, so the request
// carries no client credential: in production the endpoint should accept the
// provider by network policy or mutual TLS. Because the URL is fetched from
// the server, it is treated as an SSRF risk (ASVS 1.3.6): no proxies, no
// redirects, private, link-local and metadata addresses refused at connect
// time (after DNS resolution, so a name cannot rebind to one), a time limit
// and a size limit.

// Defaults of a Linker.
const (
	DefaultLinkTimeout  = 5 * time.Second
	DefaultLinkMaxBytes = 4 << 10
	// MaxAppUsername is the longest application username stored, in runes.
	MaxAppUsername = 128
)

// Errors of Linker.Verify; the detail is wrapped for the log.
var (
	// ErrLinkRejected: the application says the credentials are wrong.
	ErrLinkRejected = errors.New("account: the application rejected the credentials")
	// ErrLinkUnavailable: the application did not give a usable answer.
	ErrLinkUnavailable = errors.New("account: the application's account check is unavailable")
	// ErrLinkAddress: the endpoint's address is not one the provider calls.
	ErrLinkAddress = errors.New("account: account-link address not allowed")
)

// Linker asks client applications whether a username and password are an
// account there, and is the provider's one way of calling an endpoint a
// client registered (PostForm: back-channel logout), so every such call
// gets the same SSRF rules. The zero value calls only public https
// endpoints.
type Linker struct {
	// AllowLoopback permits endpoints on loopback addresses, and plain http
	// to them: set it only when the provider runs on loopback itself.
	AllowLoopback bool
	Timeout       time.Duration // DefaultLinkTimeout if zero
	MaxBytes      int64         // response body limit; DefaultLinkMaxBytes if zero
	// TLS is the client TLS configuration (nil: system roots, TLS 1.2+).
	TLS *tls.Config

	once   sync.Once
	client *http.Client
}

func (l *Linker) init() {
	l.once.Do(func() {
		if l.Timeout <= 0 {
			l.Timeout = DefaultLinkTimeout
		}
		if l.MaxBytes <= 0 {
			l.MaxBytes = DefaultLinkMaxBytes
		}
		tlsConf := l.TLS
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		dialer := &net.Dialer{
			Timeout: l.Timeout,
			// Control sees the address actually dialled, after DNS: the
			// check cannot be bypassed by a name that resolves (or
			// rebinds) to an internal address.
			Control: func(_, address string, _ syscall.RawConn) error {
				host, _, err := net.SplitHostPort(address)
				if err != nil {
					return err
				}
				ip, err := netip.ParseAddr(host)
				if err != nil {
					return fmt.Errorf("%w: %q", ErrLinkAddress, host)
				}
				return l.checkIP(ip)
			},
		}
		l.client = &http.Client{
			Timeout: l.Timeout,
			Transport: &http.Transport{
				Proxy:                  nil, // a proxy would dial for us, past the address check
				DialContext:            dialer.DialContext,
				TLSClientConfig:        tlsConf,
				TLSHandshakeTimeout:    l.Timeout,
				ResponseHeaderTimeout:  l.Timeout,
				MaxResponseHeaderBytes: 16 << 10,
				MaxIdleConns:           10,
				IdleConnTimeout:        30 * time.Second,
				ForceAttemptHTTP2:      true,
			},
			// A redirect is an answer, not a place to follow (ASVS 15.3.2).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
}

// blocked are the address ranges besides private, link-local, multicast and
// unspecified (netip reports those) that must never be called: they reach
// the provider's own network, or embed such an address.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, often cluster-internal
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: can reach any IPv4, private ones too
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4 embeds an IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata (169.254.169.254)
	netip.MustParsePrefix("fd00:ec2::/32"),   // AWS IPv6 metadata (also inside fc00::/7)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
}

// checkIP allows public unicast addresses, and loopback ones only with
// AllowLoopback.
func (l *Linker) checkIP(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		if l.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%w: loopback %s", ErrLinkAddress, ip)
	}
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return fmt.Errorf("%w: %s", ErrLinkAddress, ip)
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s", ErrLinkAddress, ip)
		}
	}
	return nil
}

// CheckURL reports whether the provider may call endpoint: an absolute
// https URL (http only to loopback with AllowLoopback), no user
// information or fragment, and a literal address that passes checkIP. A
// host name is checked again, after resolution, when it is dialled.
func (l *Linker) CheckURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: not an absolute URL", ErrLinkAddress)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: user information or fragment", ErrLinkAddress)
	}
	host := u.Hostname()
	loopbackName := host == "localhost" || strings.HasSuffix(host, ".localhost")
	ip, perr := netip.ParseAddr(host)
	literal := perr == nil
	isLoopback := loopbackName || literal && ip.Unmap().IsLoopback()
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback || !l.AllowLoopback {
			return nil, fmt.Errorf("%w: plain http is allowed only to loopback in development", ErrLinkAddress)
		}
	default:
		return nil, fmt.Errorf("%w: scheme %q", ErrLinkAddress, u.Scheme)
	}
	if loopbackName && !l.AllowLoopback {
		return nil, fmt.Errorf("%w: loopback name %q", ErrLinkAddress, host)
	}
	if literal {
		if err := l.checkIP(ip); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// post sends form to endpoint under the Linker's rules (checked URL, no
// redirects followed, the dialled address checked). Its errors wrap
// ErrLinkAddress or ErrLinkUnavailable; the caller closes the body.
func (l *Linker) post(ctx context.Context, endpoint string, form url.Values, accept, userAgent string) (*http.Response, error) {
	l.init()
	u, err := l.CheckURL(endpoint)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: build request: %v", ErrLinkUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := l.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrLinkAddress) {
			return nil, fmt.Errorf("%w: %v", ErrLinkAddress, redactURLError(err))
		}
		// Never %w the client error: its text may quote the URL, and
		// callers match on our sentinels only.
		return nil, fmt.Errorf("%w: %v", ErrLinkUnavailable, redactURLError(err))
	}
	return resp, nil
}

// PostForm posts form to an endpoint a client registered (a back-channel
// logout URI) under the same rules as Verify, and returns the status. At
// most MaxBytes of the answer are read, and dropped: only the status counts.
func (l *Linker) PostForm(ctx context.Context, endpoint string, form url.Values) (int, error) {
	resp, err := l.post(ctx, endpoint, form, "", "satupintu/1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, l.MaxBytes))
	return resp.StatusCode, nil
}

// Verify posts username and password to endpoint and returns the
// application's own username for the account. It returns ErrLinkRejected
// when the application refuses the credentials, ErrLinkAddress for an
// endpoint it must not call, and ErrLinkUnavailable for anything else.
func (l *Linker) Verify(ctx context.Context, endpoint, username, password string) (string, error) {
	resp, err := l.post(ctx, endpoint, url.Values{"username": {username}, "password": {password}}, "application/json", "satupintu-account-link/1")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		io.Copy(io.Discard, io.LimitReader(resp.Body, l.MaxBytes))
		return "", ErrLinkRejected
	default:
		return "", fmt.Errorf("%w: status %d", ErrLinkUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, l.MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: read answer: %v", ErrLinkUnavailable, err)
	}
	if int64(len(body)) > l.MaxBytes {
		return "", fmt.Errorf("%w: answer larger than %d bytes", ErrLinkUnavailable, l.MaxBytes)
	}
	var answer struct {
		Username *string `json:"username"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Username == nil {
		return "", fmt.Errorf("%w: answer is not {\"username\": …}", ErrLinkUnavailable)
	}
	name, ok := appUsername(*answer.Username)
	if !ok {
		return "", fmt.Errorf("%w: unusable username in the answer", ErrLinkUnavailable)
	}
	return name, nil
}

// appUsername validates the username an application returned: it becomes
// a claim and is shown on a page, so 1–MaxAppUsername printable runes.
func appUsername(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxAppUsername {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return s, true
}

// redactURLError drops the URL from a *url.Error: the endpoint is
// configuration, and the log needs only the cause.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
