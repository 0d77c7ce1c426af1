// Package log carries berth's slog logger in a context. It keeps no globals:
// the root logger is built once in cmd/berthd and passed down in the root context.
package log

import (
	"context"
	"io"
	"log/slog"
)

type ctxKey struct{}

// discard is returned by From when no logger was put in the context.
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// WithLogger returns a context that carries l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger carried by ctx, or one that discards everything.
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return discard()
}

// With returns a context whose logger has attrs added.
func With(ctx context.Context, attrs ...any) context.Context {
	return WithLogger(ctx, From(ctx).With(attrs...))
}

// ParseLevel turns dockerd's --log-level words (debug, info, warn, error, fatal)
// into a slog level.
func ParseLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error", "fatal", "panic":
		return slog.LevelError, true
	}
	return 0, false
}
