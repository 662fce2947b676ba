// Package logx builds the structured loggers of both deployments, with
// every record passed through the redactor: message, attribute values and
// errors alike, so that a secret reaching a log call by accident is masked.
package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

// Levels of the seed's --debug flag: 0 keeps warnings and errors, 1 adds
// information, 2 and 3 add debug detail.
func Level(debug int) slog.Level {
	switch {
	case debug <= 0:
		return slog.LevelWarn
	case debug == 1:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// New returns a JSON logger writing to w at level, redacting with r.
func New(w io.Writer, level slog.Level, r *redact.Redactor) *slog.Logger {
	return slog.New(&handler{next: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), r: r})
}

// Discard returns a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NewHandler wraps next so every record is redacted.
func NewHandler(next slog.Handler, r *redact.Redactor) slog.Handler {
	return &handler{next: next, r: r}
}

type handler struct {
	next slog.Handler
	r    *redact.Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, 0, len(attrs))
		for _, g := range attrs {
			out = append(out, h.attr(g))
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.r.String(err.Error()))
		}
		return slog.String(a.Key, h.r.String(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(red), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), r: h.r}
}
