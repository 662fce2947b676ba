// Command localrun runs the wazuh-pull collectors on a host: as a Wazuh
// <wodle name="command"> printing JSON lines on stdout, or delivering to
// syslog itself.
//
//	localrun onepassword [flags]   collect 1Password events
//	localrun check onepassword     test credentials and features, print a report
//	localrun demo                  run against the built-in simulator, no credentials
//	localrun version
//
// Exit statuses (documented in the README):
//
//	0  every stream ran (a backlog may remain for the next run)
//	1  at least one stream failed; error events were emitted
//	2  usage or configuration error
//	3  a stream was skipped because another process holds it (none failed)
//	4  interrupted by SIGTERM/SIGINT; delivered pages were committed
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitLocked      = 3
	exitInterrupted = 4
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// shutdownGrace is how long a signalled run may take to finish the current
// line, confirm and commit: Wazuh stops reading a wodle at its timeout, and
// systemd and operators expect a prompt exit.
const shutdownGrace = 1800 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Whatever is still running (a blocked write to a reader that went
		// away) must not keep the process alive: nothing uncommitted is
		// lost, the next run repeats it.
		time.Sleep(shutdownGrace)
		os.Exit(exitInterrupted)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(ctx context.Context, args []string, stdout *os.File, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "onepassword":
		return runOnePassword(ctx, args[1:], stdout, stderr, getenv)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr, getenv)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "localrun", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "localrun: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: localrun <command> [flags]

commands:
  onepassword   collect 1Password Events API v2 (audit, sign-in, item usage)
  check         check credentials and features: localrun check onepassword
  demo          run the collectors against the built-in simulator (no credentials)
  version       print the version

Run "localrun <command> -h" for the flags of a command.

exit status: 0 ok (a backlog may remain), 1 a stream failed, 2 usage or
configuration error, 3 a stream was locked by another process, 4 interrupted.
`)
}
