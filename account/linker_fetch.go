package account

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Fetch GETs a document a client registered (a private_key_jwt client's
// jwks_uri, op.JWKSFetcher) under the Linker's SSRF rules: checked URL,
// the dialled address checked, no redirects followed, the Linker's time
// limit, and at most maxBytes of the answer (more is an error, not a
// truncated document). Only a 200 answer counts. Errors wrap
// ErrLinkAddress or ErrLinkUnavailable and never quote the URL.
func (l *Linker) Fetch(ctx context.Context, endpoint string, maxBytes int64) ([]byte, error) {
	l.init()
	u, err := l.CheckURL(endpoint)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: build request: %v", ErrLinkUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "satupintu/1")
	resp, err := l.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrLinkAddress) {
			return nil, fmt.Errorf("%w: %v", ErrLinkAddress, redactURLError(err))
		}
		return nil, fmt.Errorf("%w: %v", ErrLinkUnavailable, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, l.MaxBytes))
		return nil, fmt.Errorf("%w: status %d", ErrLinkUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read answer: %v", ErrLinkUnavailable, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrLinkUnavailable, maxBytes)
	}
	return body, nil
}
