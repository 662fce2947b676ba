package hostrun

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

// help runs `localrun <args> -h` with a toy vendor and returns what it
// printed on stderr.
func help(t *testing.T, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	app := &App{Name: "localrun", Version: "test", Vendors: []spec.Descriptor{spectest.Descriptor()}}
	code := app.Main(context.Background(), append(args, "-h"), IO{Stdout: os.Stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	if code != ExitOK {
		t.Fatalf("%v -h: exit status %d, want %d\n%s", args, code, ExitOK, stderr.String())
	}
	return stderr.String()
}

// The usage line names the command that was given: an operator reading
// `localrun check <vendor> -h` must not be told to run the collector.
func TestHelpNamesTheCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"toy"}, "usage: localrun toy [flags]\n"},
		{[]string{"check", "toy"}, "usage: localrun check toy [flags]\n"},
	} {
		if got := help(t, c.args...); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v -h starts with %q, want %q", c.args, firstLine(got), c.want)
		}
	}
}

// Every variable a sink flag falls back to, and the header's default tag,
// are in --help: the README's configuration tables list them, and an
// operator configuring a wrapper script reads --help first.
func TestHelpNamesTheSinkVariables(t *testing.T) {
	text := help(t, "toy")
	for _, want := range []string{
		"(env WAZUH_PULL_SINK)",
		"(env WAZUH_PULL_SYSLOG_CA)",
		"(env WAZUH_PULL_SYSLOG_CERT)",
		"(env WAZUH_PULL_SYSLOG_KEY)",
		"env WAZUH_PULL_SYSLOG_EPS",
		"(default wazuh-pull)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("--help does not say %q:\n%s", want, text)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Asking for help is not a usage error, whatever the command: a wrapper
// script that checks the exit status of `localrun check -h` or
// `localrun demo -h` must see success, as for `localrun <vendor> -h`.
func TestHelpExitsZero(t *testing.T) {
	app := &App{Name: "localrun", Version: "test", Vendors: []spec.Descriptor{spectest.Descriptor()}}
	for _, args := range [][]string{{"check", "-h"}, {"check", "--help"}, {"demo", "-h"}, {"-help"}} {
		code, out, stderr := mainWith(t, app, args)
		if code != ExitOK {
			t.Errorf("%v: exit status %d, want %d\n%s%s", args, code, ExitOK, out, stderr.String())
		}
		if len(out)+stderr.Len() == 0 {
			t.Errorf("%v printed nothing", args)
		}
	}
	var stderr strings.Builder
	if code := app.Main(context.Background(), []string{"check"}, IO{Stdout: os.Stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}); code != ExitUsage {
		t.Errorf("check without a vendor: exit status %d, want %d", code, ExitUsage)
	}
}

// A bounded setting shows its range in --help whatever its kind: the
// vendors' READMEs give ranges such as Cortex XDR's --lag (1 s–1 h).
func TestHelpShowsRanges(t *testing.T) {
	for _, c := range []struct {
		s    spec.Setting
		want string
	}{
		{spec.Setting{Help: "n", Kind: spec.Int, Min: 1, Max: 100}, "1-100"},
		{spec.Setting{Help: "h", Kind: spec.Hours, Min: 1, Max: 168}, "1-168 hours"},
		{spec.Setting{Help: "d", Kind: spec.Duration, Min: 1, Max: 3600}, "1s-1h0m0s"},
		{spec.Setting{Help: "u", Kind: spec.Duration}, ""},
	} {
		got := settingUsage(&c.s)
		if c.want == "" && strings.Contains(got, "(") || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want the range %q", c.s.Kind, got, c.want)
		}
	}
}

// A bad flag is one line on stderr, not the whole usage: under Wazuh a
// wodle's stderr becomes events, one per line.
func TestBadFlagIsOneLine(t *testing.T) {
	app := &App{Name: "localrun", Version: "test", Vendors: []spec.Descriptor{spectest.Descriptor()}}
	for _, args := range [][]string{{"toy", "--no-such-flag"}, {"check", "toy", "-q1"}} {
		code, _, stderr := mainWith(t, app, args)
		if code != ExitUsage {
			t.Errorf("%v: exit status %d, want %d", args, code, ExitUsage)
		}
		if n := strings.Count(stderr.String(), "\n"); n != 1 || !strings.Contains(stderr.String(), "--help lists the flags") {
			t.Errorf("%v: stderr has %d lines, want one naming --help:\n%s", args, n, stderr.String())
		}
	}
}

// mainWith runs app with args and an empty environment, and returns its
// exit status, what it wrote to stdout (a file, as a process's is) and to
// stderr.
func mainWith(t *testing.T, app *App, args []string) (int, []byte, *strings.Builder) {
	t.Helper()
	stdout, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := app.Main(context.Background(), args, IO{Stdout: stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	stdout.Close()
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, out, &stderr
}
