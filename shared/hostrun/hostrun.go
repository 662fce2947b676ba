// Package hostrun is the host deployment of every registered vendor: the
// command line of localrun, generated from each vendor's descriptor. It
// runs a vendor's streams as a Wazuh <wodle name="command"> printing JSON
// lines on stdout, or delivering to syslog itself, with cursors in a local
// state file and credentials from systemd credentials, a secrets file or
// the environment, as the seed wodles did.
//
// wazuh-modulesd forwards a wodle's output only after the command exited
// and loses what it has not forwarded when it stops, so under modulesd a
// stream's cursor is first stored as pending and promoted by the next run
// of the same modulesd instance (commit.go), and runs are sized to what
// modulesd forwards within the wodle's interval (wodleplan.go);
// docs/wodle.md has the details.
//
//	localrun <vendor> [flags]        collect
//	localrun check <vendor> [flags]  test credentials and scope, print a report
//	localrun demo                    every vendor against its built-in simulator
//	localrun version
//
// Exit statuses:
//
//	0  every stream ran (a backlog may remain for the next run)
//	1  at least one stream failed; error events were emitted
//	2  usage or configuration error
//	3  a stream was skipped because another process holds it (none failed)
//	4  interrupted by SIGTERM/SIGINT; delivered pages were committed
//	5  under wazuh-modulesd, its queue's daemon is down or restarted after
//	   it: the output is dropped, nothing was taken as delivered
package hostrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitLocked      = 3
	ExitInterrupted = 4
	// ExitUndelivered: under wazuh-modulesd, the daemon owning its queue
	// is down or restarted after it, so modulesd drops the output; a
	// non-zero status is what modulesd writes to ossec.log about it.
	ExitUndelivered = 5
)

// ShutdownGrace is how long a signalled run may take to finish the
// current line, confirm and commit before the process must be gone:
// Wazuh stops reading a wodle at its timeout, and systemd and operators
// expect a prompt exit.
const ShutdownGrace = 1800 * time.Millisecond

// App is a localrun binary: its vendors and, when built with them, their
// demos.
type App struct {
	// Name is the program name in usage texts ("localrun").
	Name    string
	Version string
	Vendors []spec.Descriptor
	// Demos are the built-in simulators, by vendor command; nil in a
	// production build (the simulators are not linked in).
	Demos map[string]Demo
}

// IO is a run's process environment.
type IO struct {
	Stdout *os.File
	Stderr io.Writer
	Getenv func(string) string
}

// Main runs one command line and returns the exit status.
func (a *App) Main(ctx context.Context, args []string, io IO) int {
	if err := a.validate(); err != nil {
		fmt.Fprintf(io.Stderr, "%s: %v\n", a.Name, err)
		return ExitUsage
	}
	if len(args) == 0 {
		a.usage(io.Stderr)
		return ExitUsage
	}
	if d := a.vendor(args[0]); d != nil {
		return a.collect(ctx, d, args[1:], io)
	}
	switch args[0] {
	case "check":
		if len(args) < 2 || a.vendor(args[1]) == nil {
			if len(args) == 2 && isHelp(args[1]) {
				fmt.Fprintf(io.Stdout, "usage: %s check <%s> [flags]\n\nTests a vendor's credentials and scope and prints a report; %s check <vendor> -h lists the flags.\n", a.Name, strings.Join(a.commands(), "|"), a.Name)
				return ExitOK
			}
			fmt.Fprintf(io.Stderr, "usage: %s check <%s> [flags]\n", a.Name, strings.Join(a.commands(), "|"))
			return ExitUsage
		}
		return a.check(ctx, a.vendor(args[1]), args[2:], io)
	case "demo":
		return a.demo(ctx, args[1:], io)
	case "version", "--version":
		fmt.Fprintln(io.Stdout, a.Name, a.Version)
		return ExitOK
	}
	if isHelp(args[0]) {
		a.usage(io.Stdout)
		return ExitOK
	}
	fmt.Fprintf(io.Stderr, "%s: unknown command %q\n", a.Name, args[0])
	a.usage(io.Stderr)
	return ExitUsage
}

func (a *App) validate() error {
	seen := map[string]bool{"check": true, "demo": true, "version": true, "help": true}
	for i := range a.Vendors {
		d := &a.Vendors[i]
		if err := d.Validate(); err != nil {
			return err
		}
		if seen[d.Command] {
			return fmt.Errorf("vendor command %q is registered twice or reserved", d.Command)
		}
		seen[d.Command] = true
	}
	return nil
}

func (a *App) vendor(command string) *spec.Descriptor {
	for i := range a.Vendors {
		if a.Vendors[i].Command == command {
			return &a.Vendors[i]
		}
	}
	return nil
}

func (a *App) commands() []string {
	var out []string
	for _, d := range a.Vendors {
		out = append(out, d.Command)
	}
	sort.Strings(out)
	return out
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", a.Name)
	for _, d := range a.Vendors {
		var names []string
		for _, s := range d.Streams {
			names = append(names, s.Name)
		}
		fmt.Fprintf(w, "  %-13s collect %s (%s)\n", d.Command, d.Title, strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "  %-13s check credentials and scope without collecting: %s check <vendor>\n", "check", a.Name)
	fmt.Fprintf(w, "  %-13s run the collectors against built-in simulators (no credentials)\n", "demo")
	fmt.Fprintf(w, "  %-13s print the version\n", "version")
	fmt.Fprintf(w, `
Run "%s <vendor> -h" for the flags of a vendor.

exit status: 0 ok (a backlog may remain), 1 a stream failed, 2 usage or
configuration error, 3 a stream was locked by another process, 4 interrupted,
5 wazuh-modulesd cannot forward the output (its queue's daemon is down or
restarted after it).
`, a.Name)
}

// isHelp reports whether arg asks for help, as the flag package takes it.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}
