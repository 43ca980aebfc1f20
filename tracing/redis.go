package tracing

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Redis is a go-redis hook giving each command (or pipeline) of a traced
// request a client span named by the command. Nil when tracing is off, so
// that no hook is added to the client.
func (t *Tracing) Redis() goredis.Hook {
	if t == nil {
		return nil
	}
	return redisHook{tracer: t.tracer}
}

// redisHook implements goredis.Hook. Spans carry the command's name only:
// its keys hold session, token and code ids, its values what they guard.
type redisHook struct {
	tracer trace.Tracer
}

var _ goredis.Hook = redisHook{}

// DialHook passes through: a dial happens inside a command, whose span
// covers it.
func (h redisHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h redisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !traced(ctx) {
			return next(ctx, cmd)
		}
		op := commandName(cmd)
		ctx, span := h.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName(op)))
		err := next(ctx, cmd)
		endRedis(span, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !traced(ctx) {
			return next(ctx, cmds)
		}
		op, summary := pipelineNames(cmds)
		ctx, span := h.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName(op),
				semconv.DBQuerySummary(summary), semconv.DBOperationBatchSize(len(cmds))))
		err := next(ctx, cmds)
		if err == nil {
			// A pipeline answers per command; report the first failure.
			for _, c := range cmds {
				if c.Err() != nil && !errors.Is(c.Err(), goredis.Nil) {
					err = c.Err()
					break
				}
			}
		}
		endRedis(span, err)
		return err
	}
}

// maxCommand bounds a command name in a span (ours are short; this guards
// against a name built from data by mistake).
const maxCommand = 32

func commandName(cmd goredis.Cmder) string {
	name := strings.ToUpper(cmd.Name())
	if len(name) > maxCommand {
		name = name[:maxCommand]
	}
	return name
}

// pipelineNames names a pipeline as the semantic conventions name batches:
// "PIPELINE" (or "PIPELINE GET" when every command is the same), with the
// distinct commands in order as its summary.
func pipelineNames(cmds []goredis.Cmder) (op, summary string) {
	var names []string
	seen := map[string]bool{}
	for _, c := range cmds {
		n := commandName(c)
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	op = "PIPELINE"
	if len(names) == 1 {
		op += " " + names[0]
	}
	return op, strings.Join(names, " ")
}

// endRedis ends span, marking a failure by its class. A missing key
// (redis.Nil) is an answer, not a failure.
func endRedis(span trace.Span, err error) {
	if err != nil && !errors.Is(err, goredis.Nil) {
		typ := redisErrorType(err)
		span.SetAttributes(attribute.String(string(semconv.ErrorTypeKey), typ))
		span.SetStatus(codes.Error, typ)
	}
	span.End()
}

// redisErrorType is a server error's prefix (WRONGTYPE, NOSCRIPT, OOM,
// READONLY, …; the rest of the message may echo a script's data), or the
// class of a connection failure.
func redisErrorType(err error) string {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		prefix, _, _ := strings.Cut(rerr.Error(), " ")
		if prefix != "" && len(prefix) <= maxCommand && strings.ToUpper(prefix) == prefix {
			return prefix
		}
		return "_OTHER"
	}
	return errorType(err)
}
