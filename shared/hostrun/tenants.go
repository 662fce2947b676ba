package hostrun

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
	"github.com/wazuh-pull/wazuh-pull/shared/tenantsfile"
)

// tenantSpec is one tenant of a run.
type tenantSpec struct {
	name  string
	creds secrets.Source
	// multi is true in multi-tenant mode, where the seeds prefixed their
	// state keys with "<tenant>." and the run_summary lists tenants.
	multi bool
}

// defaultTenant names the only tenant of a single-tenant run, in state
// keys and events.
const defaultTenant = "default"

func (o *options) tenants(red *redact.Redactor, log *slog.Logger) ([]tenantSpec, error) {
	d := o.d
	if o.tenantsFile == "" {
		vars := map[string]string{}
		for _, c := range d.Credentials {
			vars[c.Field] = c.Env
		}
		host := &secrets.Host{Vars: vars, Public: d.PublicFields(), SecretsFile: o.secretsFile, Getenv: o.getenv, Redactor: red, Logger: log}
		return []tenantSpec{{name: defaultTenant, creds: o.finish(host)}}, nil
	}
	list, err := tenantsfile.Read(o.tenantsFile, d)
	if err != nil {
		return nil, err
	}
	var out []tenantSpec
	for _, t := range list {
		for _, c := range d.Credentials {
			if !c.Public {
				red.Add(t.Credentials[c.Field])
			}
		}
		out = append(out, tenantSpec{name: t.Name, creds: o.finish(secrets.Static(t.Credentials)), multi: true})
	}
	return out, nil
}

// finish applies the command line's overrides and the fields' defaults to
// a tenant's credentials.
func (o *options) finish(src secrets.Source) secrets.Source {
	defaults := map[string]string{}
	for _, c := range o.d.Credentials {
		if c.Default != "" {
			defaults[c.Field] = c.Default
		}
	}
	if len(o.overrides) == 0 && len(defaults) == 0 {
		return src
	}
	return &finishedCreds{src: src, overrides: o.overrides, defaults: defaults}
}

type finishedCreds struct {
	src       secrets.Source
	overrides map[string]string
	defaults  map[string]string
}

func (f *finishedCreds) Get(ctx context.Context) (secrets.Credentials, error) {
	cr, err := f.src.Get(ctx)
	if err != nil {
		return nil, err
	}
	out := secrets.Credentials{}
	for k, v := range f.defaults {
		out[k] = v
	}
	for k, v := range cr {
		out[k] = v
	}
	for k, v := range f.overrides {
		out[k] = v
	}
	return out, nil
}

func (f *finishedCreds) Invalidate() { f.src.Invalidate() }

// where tells operators where a credential field comes from on a host.
func (o *options) where(t tenantSpec) func(string) string {
	return func(field string) string {
		c, ok := o.d.Credential(field)
		if !ok {
			return field
		}
		if t.multi {
			return fmt.Sprintf("%s of tenant %q in %s (%s)", c.Field, t.name, o.d.TenantsFileEnv, o.tenantsFile)
		}
		return fmt.Sprintf("%s (environment, secrets file %s or systemd credential %s)", c.Env, o.secretsFile, strings.ToLower(c.Env))
	}
}

// legacyView reads the seed wodle's keys of the state file, with the
// seed's "<tenant>." prefix in multi-tenant mode.
type legacyView struct {
	fs     *filestore.Store
	prefix string
}

func (l legacyView) Value(key string) (string, bool) {
	v, ok, err := l.fs.Legacy(l.prefix + key)
	return v, ok && err == nil
}

func legacyFor(fs *filestore.Store, t tenantSpec) spec.Legacy {
	if fs == nil {
		return nil
	}
	if t.multi {
		return legacyView{fs: fs, prefix: t.name + "."}
	}
	return legacyView{fs: fs}
}
