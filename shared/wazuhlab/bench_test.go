package wazuhlab

import (
	"context"
	"testing"
)

// BenchmarkLabStart measures a private lab from nothing to a ready
// analysisd (copying the engine's home, writing the configuration,
// starting the daemon until its logtest socket is up) and its removal.
// Copying a home takes about 0.2 s; reinstalling one with build.sh from a
// copy of the built objects took 7 s on the same machine, hence the copy.
func BenchmarkLabStart(b *testing.B) {
	for b.Loop() {
		l, err := Start(context.Background(), Options{}, Analysisd)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogtestSession measures a new logtest session, which loads the
// whole ruleset (the default one: about 8 500 rules).
func BenchmarkLogtestSession(b *testing.B) {
	l := shared.Get(b)
	ctx := context.Background()
	for b.Loop() {
		s := l.NewLogtestSession("bench")
		if _, err := s.Process(ctx, jsonLine("bench-session"), ""); err != nil {
			b.Fatal(err)
		}
		s.Close(ctx)
	}
}

// BenchmarkLogtestEvent measures one event in an existing session.
func BenchmarkLogtestEvent(b *testing.B) {
	l := shared.Get(b)
	ctx := context.Background()
	s := l.NewLogtestSession("bench")
	defer s.Close(ctx)
	if _, err := s.Process(ctx, jsonLine("bench-warm"), ""); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Process(ctx, jsonLine("bench-event"), ""); err != nil {
			b.Fatal(err)
		}
	}
}
