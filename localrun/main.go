// Command localrun runs the wazuh-pull collectors on a host: as a Wazuh
// <wodle name="command"> printing JSON lines on stdout, or delivering to
// syslog itself. Its command line is generated from the registered
// vendors' descriptors by shared/hostrun:
//
//	localrun <vendor> [flags]        collect (onepassword, …)
//	localrun check <vendor> [flags]  test credentials and scope, print a report
//	localrun demo                    every vendor against its built-in simulator
//	localrun version
//
// Exit statuses (documented in the README):
//
//	0  every stream ran (a backlog may remain for the next run)
//	1  at least one stream failed; error events were emitted
//	2  usage or configuration error
//	3  a stream was skipped because another process holds it (none failed)
//	4  interrupted by SIGTERM/SIGINT; delivered pages were committed
//	5  under wazuh-modulesd, its queue's daemon is down or restarted after
//	   it: the output is dropped, nothing was taken as delivered
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/registry"
	"github.com/wazuh-pull/wazuh-pull/shared/hostrun"
	"github.com/wazuh-pull/wazuh-pull/shared/procs"
	// One P from the start of the process (see procs and procs/onep).
	_ "github.com/wazuh-pull/wazuh-pull/shared/procs/onep"
)

// Exit statuses, for the tests.
const (
	exitOK          = hostrun.ExitOK
	exitFailed      = hostrun.ExitFailed
	exitUsage       = hostrun.ExitUsage
	exitLocked      = hostrun.ExitLocked
	exitInterrupted = hostrun.ExitInterrupted
	exitUndelivered = hostrun.ExitUndelivered
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	procs.LeanHeapUnlessSet(os.Getenv)
	// Huge pages for the heap where the system leaves them to each
	// process: a fault per 2 MiB instead of per 4 KiB (see procs.HugeHeap).
	procs.HugeHeap(os.Getenv)
	// Best effort: without CAP_SYS_NICE only this thread takes it, and the
	// run costs what it did before (see procs.TimerSlack).
	_, _ = procs.CoarseTimers(procs.TimerSlack)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Whatever is still running (a blocked write to a reader that went
		// away) must not keep the process alive: nothing uncommitted is
		// lost, the next run repeats it.
		time.Sleep(hostrun.ShutdownGrace)
		os.Exit(exitInterrupted)
	}()
	stopProfile := startCPUProfile(os.Getenv(cpuProfileEnv))
	app := &hostrun.App{Name: "localrun", Version: version, Vendors: registry.Vendors(), Demos: registry.Demos()}
	code := app.Main(ctx, os.Args[1:], hostrun.IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stopProfile()
	os.Exit(code)
}

// cpuProfileEnv names a file to write a Go CPU profile of the whole run
// to (go tool pprof): a diagnostic for performance work, undocumented in
// --help because Wazuh would turn any complaint about it on stderr into an
// event. See docs/testing.md, "Profiling a run".
const cpuProfileEnv = "WAZUH_PULL_CPUPROFILE"

// startCPUProfile starts profiling into path (none when empty) and returns
// what stops it. A profile that cannot be written is silently skipped: a
// diagnostic must never fail a collection.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	// Never through a symbolic link, like the log and state files: a
	// planted link would make the profile overwrite another file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
