package hostrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
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
	list, err := readTenantsFile(o.tenantsFile, d)
	if err != nil {
		return nil, err
	}
	var out []tenantSpec
	for _, t := range list {
		for _, c := range d.Credentials {
			if !c.Public {
				red.Add(t.creds[c.Field])
			}
		}
		out = append(out, tenantSpec{name: t.name, creds: o.finish(secrets.Static(t.creds)), multi: true})
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

// fileTenant is one entry of a multi-tenant file.
type fileTenant struct {
	name  string
	creds secrets.Credentials
}

// readTenantsFile reads the seeds' multi-tenant file
// {"tenants":[{"name":"client-a","<field>":"…",…}]}. It refuses a file that
// others may write, names that cannot key state, duplicates and missing
// required fields. Errors never quote the file's content.
func readTenantsFile(path string, d *spec.Descriptor) ([]fileTenant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tenants file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tenants file: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("tenants file %s is writable by group or others (mode %v); run chmod 640 on it", path, fi.Mode().Perm())
	}
	var doc struct {
		Tenants []map[string]any `json:"tenants"`
	}
	shape := fmt.Sprintf(`{"tenants":[{"name":…,%s}]}`, strings.Join(quoted(d.RequiredFields()), ","))
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("tenants file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("tenants file %s does not have the expected shape %s", path, shape)
	}
	if len(doc.Tenants) == 0 {
		return nil, fmt.Errorf("tenants file %s has no tenants defined", path)
	}
	seen := map[string]bool{}
	var out []fileTenant
	for i, t := range doc.Tenants {
		name, _ := t["name"].(string)
		cr := secrets.Credentials{}
		for _, c := range d.Credentials {
			switch v := t[c.Field].(type) {
			case nil:
			case string:
				if v = strings.TrimSpace(v); v != "" {
					cr[c.Field] = v
				}
			default:
				return nil, fmt.Errorf("tenant at index %d: %q must be a string", i, c.Field)
			}
		}
		if name == "" {
			return nil, fmt.Errorf("tenant at index %d is missing 'name'", i)
		}
		for _, field := range d.RequiredFields() {
			if cr[field] == "" {
				return nil, fmt.Errorf("tenant at index %d is missing '%s'", i, field)
			}
		}
		if err := state.ValidateName(name); err != nil {
			return nil, fmt.Errorf("tenant at index %d: use only letters, numbers, hyphens and underscores: %w", i, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("tenant %q appears twice", name)
		}
		seen[name] = true
		out = append(out, fileTenant{name: name, creds: cr})
	}
	return out, nil
}

func quoted(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = fmt.Sprintf("%q:…", f)
	}
	return out
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
