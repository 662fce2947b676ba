package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

// runCheck tests what a run would need, without collecting: credentials,
// base URL, introspection and the streams the token allows. It prints a
// report for a human (never a secret) and exits 0 when all is well.
func runCheck(ctx context.Context, args []string, stdout *os.File, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "onepassword" {
		fmt.Fprintln(stderr, "usage: localrun check onepassword [onepassword flags]")
		return exitUsage
	}
	o, err := parseOnePassword(args[1:], stderr, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "localrun check:", err)
		return exitUsage
	}
	red := redact.New()
	log, closeLog, err := newLogger(o.debug, o.logFile, stderr, red)
	if err != nil {
		fmt.Fprintln(stderr, "localrun check:", err)
		return exitUsage
	}
	defer closeLog()
	tenants, err := o.tenants(red, log)
	if err != nil {
		fmt.Fprintln(stdout, "tokens file:", red.String(err.Error()))
		return exitFailed
	}
	newClient, err := o.httpClient(red, log)
	if err != nil {
		fmt.Fprintln(stdout, "HTTP client:", red.String(err.Error()))
		return exitUsage
	}
	status := exitOK
	for _, t := range tenants {
		c, err := onepassword.New(onepassword.Config{BaseURL: o.baseURL, PageLimit: o.pageLimit, Lookback: o.lookback, HTTP: newClient(), Logger: log}, t.name, t.creds)
		if err != nil {
			fmt.Fprintf(stdout, "tenant %s: configuration: %s\n", t.name, red.String(err.Error()))
			status = exitFailed
			continue
		}
		base, err := c.BaseURL(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "tenant %s: %s\n", t.name, red.String(err.Error()))
			status = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "tenant %s: events API %s\n", t.name, base)
		defs, err := o.plan(ctx, c)
		if err != nil {
			fmt.Fprintf(stdout, "tenant %s: introspect failed: %s\n", t.name, red.String(err.Error()))
			status = exitFailed
			continue
		}
		for _, def := range onepassword.Streams() {
			verdict := "not requested (--source)"
			if o.source == "all" || o.source == def.Name {
				verdict = "token lacks feature " + def.Feature
				for _, d := range defs {
					if d.Name == def.Name {
						verdict = "will run"
					}
				}
			}
			fmt.Fprintf(stdout, "tenant %s: stream %-9s %s\n", t.name, def.Name, verdict)
		}
	}
	if !o.backfill {
		fmt.Fprintf(stdout, "state file: %s\n", o.stateFile)
	}
	return status
}
