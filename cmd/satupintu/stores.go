package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"satupintu/storage"
	"satupintu/storage/memory"
	"satupintu/storage/postgres"
	"satupintu/storage/redis"
	"satupintu/storage/sqlite"
)

// openDurable opens the durable backend the configuration selects; this is
// the one place a backend is chosen. Opening applies migrations (Postgres
// serializes nodes with an advisory lock). opts apply to Postgres (tracing).
func openDurable(ctx context.Context, cfg Config, opts ...postgres.Option) (storage.Durable, string, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		return db, "postgres", nil
	}
	db, err := sqlite.Open(ctx, cfg.databasePath())
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w", cfg.databasePath(), err)
	}
	return db, "sqlite", nil
}

// openEphemeral opens the short-lived-state backend. opts apply to Redis
// (tracing).
func openEphemeral(ctx context.Context, cfg Config, opts ...redis.Option) (storage.Ephemeral, string, error) {
	if cfg.RedisURL != "" {
		st, err := redis.Open(ctx, cfg.RedisURL, append([]redis.Option{redis.WithPrefix(cfg.RedisPrefix)}, opts...)...)
		if err != nil {
			return nil, "", fmt.Errorf("open redis: %w", err)
		}
		return st, "redis", nil
	}
	return memory.New(nil, memory.WithMaxEntries(cfg.MemoryMaxEntries)), "memory", nil
}

// retry calls open until it succeeds, ctx ends or patience runs out, so a
// node started before its database (compose, Kubernetes) waits for it.
func retry[T any](ctx context.Context, logger *slog.Logger, what string, patience time.Duration, open func() (T, string, error)) (T, string, error) {
	deadline := time.Now().Add(patience)
	wait := 500 * time.Millisecond
	for {
		v, name, err := open()
		if err == nil || time.Now().After(deadline) {
			return v, name, err
		}
		logger.Warn("waiting for "+what, "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return v, name, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
