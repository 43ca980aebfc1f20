package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"satupintu/quota"
)

// TakeQuota uses one unit of l for r's client address (quota.Limit.Take).
// Over the allowance it is a friendly 429 page saying messageKey, with
// Retry-After, logged with the limit's name and the address (its /64 for
// IPv6); a failing count is returned as an error, a dependency failure
// (fail closed: without a count there is no limit, ASVS 16.5.3).
func TakeQuota(w http.ResponseWriter, r *http.Request, l quota.Limit, c quota.Counter, messageKey string, logger *slog.Logger) error {
	ip := RemoteIP(r)
	err := l.Take(r.Context(), c, ip)
	if errors.Is(err, quota.ErrExceeded) {
		logger.InfoContext(r.Context(), "quota exceeded", "quota", l.Name, "address", quota.AddressKey(ip))
		w.Header().Set("Retry-After", strconv.Itoa(int(l.Window/time.Second)))
		return &Error{Status: http.StatusTooManyRequests, MessageKey: messageKey, Err: err}
	}
	if err != nil {
		return fmt.Errorf("quota %s: %w", l.Name, err)
	}
	return nil
}
