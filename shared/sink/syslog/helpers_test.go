package syslog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLogger sends the sink's log to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testCtx is bounded so that a hung peer fails the test instead of hanging it.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustNew(t testing.TB, cfg Config) *Sink {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// send writes b and confirms it.
func send(ctx context.Context, s *Sink, b []byte) error {
	if err := s.Write(ctx, b); err != nil {
		return err
	}
	return s.Confirm(ctx)
}

// wantNotConfirmed fails unless err says "not delivered" in the way the
// pipeline checks it.
func wantNotConfirmed(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("delivery reported as confirmed; want an error wrapping ErrNotConfirmed")
	}
	if !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("error does not wrap ErrNotConfirmed: %v", err)
	}
}

// withPrefix returns the lines of b, each with prefix in front, as the
// receiver should record them.
func withPrefix(prefix string, b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		out = append(out, prefix+l)
	}
	return out
}

func equalLines(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d differs:\n got %.200q\nwant %.200q", i, got[i], want[i])
		}
	}
}

func newTextLogger(w *logBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
