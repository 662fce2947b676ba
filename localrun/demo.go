package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// runDemo runs the 1Password collector against the built-in simulator on
// loopback: no credentials, no network. The first run catches up on the
// last hours, the second picks up only what arrived in between (including
// an event that arrived late), with the same cursor a real run would keep.
func runDemo(ctx context.Context, args []string, stdout *os.File, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("localrun demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateFile := fs.String("state-file", "", "state file (default: a temporary one, removed afterwards)")
	events := fs.Int("events", 50, "events per stream in the first run")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	token := sim.AddAccount("demo", onepasswordtest.Account{Seed: 42})
	now := time.Now()
	for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
		sim.Generate("demo", s, *events, now.Add(-2*time.Hour), 2*time.Hour/time.Duration(*events+1))
	}
	sim.IngestSpecial("demo", onepasswordtest.StreamAuditEvents, now.Add(-time.Minute))
	sim.IngestOversized("demo", onepasswordtest.StreamSignInAttempts, now.Add(-time.Minute), 80<<10)

	if *stateFile == "" {
		dir, err := os.MkdirTemp("", "wazuh-pull-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "localrun demo:", err)
			return exitFailed
		}
		defer os.RemoveAll(dir)
		*stateFile = filepath.Join(dir, "state.json")
	}
	env := map[string]string{
		"OP_BEARER_TOKEN":   token,
		"OP_BASE_URL":       sim.URL,
		"OP_STATE_FILE":     *stateFile,
		"OP_SECRETS_FILE":   filepath.Join(filepath.Dir(*stateFile), "no-secrets-file"),
		"OP_LOOKBACK_HOURS": "3",
	}
	demoEnv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "CREDENTIALS_DIRECTORY" || k == "OP_TOKENS_FILE" {
			return ""
		}
		return getenv(k)
	}
	note := func(format string, a ...any) {
		if isTerminal(stderr) {
			fmt.Fprintf(stderr, "# "+format+"\n", a...)
		}
	}
	note("demo: 1Password Events API simulator at %s, state in %s", sim.URL, *stateFile)
	note("run 1: first run, reads the last 3 hours of all three streams")
	status := runOnePassword(ctx, nil, stdout, stderr, demoEnv)
	if status != exitOK {
		return status
	}
	// New events, one of them late: its timestamp is older than events
	// already delivered, and the stored cursor still finds it.
	sim.Generate("demo", onepasswordtest.StreamSignInAttempts, 3, time.Now(), time.Second)
	sim.GenerateOne("demo", onepasswordtest.StreamAuditEvents, now.Add(-90*time.Minute))
	note("run 2: only what arrived since run 1, including a late-arriving audit event")
	return runOnePassword(ctx, nil, stdout, stderr, demoEnv)
}
