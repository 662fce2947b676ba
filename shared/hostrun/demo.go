package hostrun

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Demo is a vendor's built-in simulator scenario for `localrun demo`. The
// simulators live in the vendors' test packages and are linked only into
// binaries built with them (see localrun's demo.go).
type Demo struct {
	// Start starts the simulator on loopback with about events events per
	// stream and returns how to run against it.
	Start func(events int) (*DemoRun, error)
}

// DemoRun is a started simulator.
type DemoRun struct {
	// Env is the environment of the runs: credentials, base URL, lookback.
	Env map[string]string
	// About says what the simulator serves (shown on a terminal).
	About string
	// Between adds events before the second run, late ones included.
	Between func()
	// Stop shuts the simulator down.
	Stop func()
}

// demo runs every vendor that has a demo against its simulator, twice: the
// first run catches up the last hours, the second picks up only what
// arrived in between (including events that arrived late), with the same
// cursors a real run keeps. No credentials, no network beyond loopback.
func (a *App) demo(ctx context.Context, args []string, io IO) int {
	fs := flag.NewFlagSet(a.Name+" demo", flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	stateDir := fs.String("state-dir", "", "directory of the demo's state files (default: a temporary one, removed afterwards)")
	events := fs.Int("events", 50, "events per stream in the first run")
	only := fs.String("vendor", "", "run only this vendor's demo")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK // help was asked for and printed
		}
		return ExitUsage
	}
	if len(a.Demos) == 0 {
		fmt.Fprintf(io.Stderr, "%s: this binary was built without the simulators (make build uses -tags nodemo); run the demo with: go run ./localrun demo\n", a.Name)
		return ExitUsage
	}
	if *stateDir == "" {
		dir, err := os.MkdirTemp("", "wazuh-pull-demo-")
		if err != nil {
			fmt.Fprintf(io.Stderr, "%s demo: %v\n", a.Name, err)
			return ExitFailed
		}
		defer os.RemoveAll(dir)
		*stateDir = dir
	}
	note := func(format string, args ...any) {
		if isTerminal(io.Stderr) {
			fmt.Fprintf(io.Stderr, "# "+format+"\n", args...)
		}
	}
	status := ExitOK
	ran := 0
	for i := range a.Vendors {
		d := &a.Vendors[i]
		demo, ok := a.Demos[d.Command]
		if !ok || (*only != "" && *only != d.Command) {
			continue
		}
		ran++
		sim, err := demo.Start(*events)
		if err != nil {
			fmt.Fprintf(io.Stderr, "%s demo: %s simulator: %v\n", a.Name, d.Command, err)
			status = ExitFailed
			continue
		}
		env := map[string]string{
			d.Env(spec.EnvStateFile):   filepath.Join(*stateDir, d.Command+".json"),
			d.Env(spec.EnvSecretsFile): filepath.Join(*stateDir, "no-secrets-file"),
		}
		for k, v := range sim.Env {
			env[k] = v
		}
		demoIO := io
		demoIO.Getenv = func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			// Nothing of the operator's own configuration may leak into
			// the demo: only process-wide settings pass.
			switch k {
			case "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "WAZUH_PULL_LOG_FILE":
				return io.Getenv(k)
			}
			return ""
		}
		note("demo %s: %s", d.Command, sim.About)
		note("run 1: first run, reads the lookback window of every stream")
		st := a.collect(ctx, d, nil, demoIO)
		if st == ExitOK && sim.Between != nil {
			sim.Between()
			note("run 2: only what arrived since run 1, including late arrivals")
			st = a.collect(ctx, d, nil, demoIO)
		}
		sim.Stop()
		if st != ExitOK && status == ExitOK {
			status = st
		}
	}
	if ran == 0 {
		fmt.Fprintf(io.Stderr, "%s demo: no demo for %q\n", a.Name, *only)
		return ExitUsage
	}
	return status
}
