package hostrun

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// check is `localrun check <vendor>`: it tests what a run would need,
// without collecting (credentials, endpoint, the streams the credentials
// allow), prints a report for a human (never a secret) and exits 0 when
// every tenant can run.
func (a *App) check(ctx context.Context, d *spec.Descriptor, args []string, io IO) int {
	prog := a.Name + " check " + d.Command
	// Named "localrun check" so that --help shows the command it was
	// given, not the collecting one.
	o, err := parse(d, a.Name+" check", args, io.Stderr, io.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintln(io.Stderr, prog+":", err)
		return ExitUsage
	}
	red := redact.New()
	log, closeLog, err := newLogger(o.debug, o.logFile, io.Stderr, red)
	if err != nil {
		fmt.Fprintln(io.Stderr, prog+":", err)
		return ExitUsage
	}
	defer closeLog()
	out := io.Stdout
	tenants, err := o.tenants(red, log)
	if err != nil {
		fmt.Fprintln(out, "tenants file:", red.String(err.Error()))
		return ExitFailed
	}
	newClient, err := o.httpClient(a.Version, red, log)
	if err != nil {
		fmt.Fprintln(out, "HTTP client:", red.String(err.Error()))
		return ExitUsage
	}
	status := ExitOK
	for _, t := range tenants {
		c, err := d.New(spec.Params{
			Tenant: t.name, Credentials: t.creds, HTTP: newClient(), Settings: o.settings,
			Lookback: o.lookback, Logger: log, Redactor: red, Where: o.where(t),
		})
		if err != nil {
			fmt.Fprintf(out, "tenant %s: configuration: %s\n", t.name, red.String(err.Error()))
			status = ExitFailed
			continue
		}
		rep := c.Check(ctx, o.streams)
		for _, f := range rep.Facts {
			fmt.Fprintf(out, "tenant %s: %s %s\n", t.name, f.Name, red.String(f.Value))
		}
		if rep.Err != nil {
			fmt.Fprintf(out, "tenant %s: %s\n", t.name, red.String(rep.Err.Error()))
			status = ExitFailed
			continue
		}
		checked := map[string]bool{}
		for _, s := range rep.Streams {
			checked[s.Name] = true
			fmt.Fprintf(out, "tenant %s: stream %-9s %s\n", t.name, s.Name, red.String(s.Detail))
		}
		for _, name := range d.StreamNames() {
			if !checked[name] {
				fmt.Fprintf(out, "tenant %s: stream %-9s not requested (--source)\n", t.name, name)
			}
		}
	}
	if !o.backfill {
		fmt.Fprintf(out, "state file: %s\n", o.stateFile)
	}
	return status
}
