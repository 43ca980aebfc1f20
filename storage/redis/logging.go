package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// slogLogging adapts slog to go-redis's logger.
type slogLogging struct{ l *slog.Logger }

func (s slogLogging) Printf(ctx context.Context, format string, v ...any) {
	s.l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// SetLibraryLogger sends go-redis's own messages (dial failures and the
// like) to l instead of stderr. go-redis keeps one process-wide logger, so
// cmd/satupintu calls this once at start.
func SetLibraryLogger(l *slog.Logger) { goredis.SetLogger(slogLogging{l}) }
