package demorp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

const shutdownTimeout = 10 * time.Second

// Run serves every app on its own listener until ctx is done, then shuts the
// servers down gracefully. It fails fast if any app is invalid or any address
// cannot be bound, and stops all servers when one of them fails.
func Run(ctx context.Context, issuer string, apps []App, logger *slog.Logger) error {
	if len(apps) == 0 {
		return errors.New("demorp: no apps to serve")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	apps = slices.Clone(apps) // defaults are filled in; the caller's slice stays as given
	for i := range apps {
		apps[i] = apps[i].withDefaults()
		if err := apps[i].Validate(); err != nil {
			return fmt.Errorf("demorp: app %q: %w", apps[i].Name, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Shared by all apps: one connection pool to the provider.
	client := &http.Client{Timeout: providerTimeout}

	servers := make([]*http.Server, 0, len(apps))
	listeners := make([]net.Listener, 0, len(apps))
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, app := range apps {
		h, err := NewHandler(ctx, issuer, app, client, logger)
		if err != nil {
			closeAll()
			return err
		}
		l, err := net.Listen("tcp", app.Addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("demorp: app %q: listen: %w", app.Name, err)
		}
		listeners = append(listeners, l)
		servers = append(servers, &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		})
	}

	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		logger.Info("demo app listening", "app", apps[i].Name, "url", apps[i].ExternalURL, "addr", listeners[i].Addr().String(),
			"redirect_uri", apps[i].RedirectURI(), "post_logout_redirect_uri", apps[i].PostLogoutRedirectURI())
		wg.Go(func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("demorp: app %q: %w", apps[i].Name, err)
				cancel()
			}
		})
	}

	<-ctx.Done()
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer done()
	var shutdownErrs []error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			shutdownErrs = append(shutdownErrs, fmt.Errorf("demorp: shutdown: %w", err))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		shutdownErrs = append(shutdownErrs, err)
	}
	logger.Info("demo apps stopped")
	return errors.Join(shutdownErrs...)
}
