package wazuhlab

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// Open starts a lab for one test and closes it when the test ends. A
// missing engine fails the test with the way to get one; it never skips.
func Open(t testing.TB, opts Options, daemons ...Daemon) *Lab {
	t.Helper()
	l, err := Start(context.Background(), opts, daemons...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if log, err := l.OssecLog(); err == nil {
				t.Logf("ossec.log of the failed test's lab:\n%s", lastLines(log, 60))
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return l
}

// Shared is one lab for a whole test package: the first test that asks
// for it starts it, later tests get the same one, and TestMain closes it
// after m.Run. Starting analysisd costs about a second of CPU and every
// logtest session another; sharing keeps a package's engine time small.
//
//	var lab = &wazuhlab.Shared{Options: ..., Daemons: ...}
//	func TestMain(m *testing.M) { code := m.Run(); lab.Close(); os.Exit(code) }
//	func TestX(t *testing.T) { l := lab.Get(t); ... }
type Shared struct {
	Options Options
	Daemons []Daemon

	once sync.Once
	lab  *Lab
	err  error
}

// Get returns the shared lab, starting it on first use; it fails t (and
// every later caller) if the lab cannot start.
func (s *Shared) Get(t testing.TB) *Lab {
	t.Helper()
	s.once.Do(func() {
		s.lab, s.err = Start(context.Background(), s.Options, s.Daemons...)
	})
	if s.err != nil {
		t.Fatalf("%v", s.err)
	}
	return s.lab
}

// Close stops and removes the lab if it was started.
func (s *Shared) Close() error {
	if s.lab == nil {
		return nil
	}
	return s.lab.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
