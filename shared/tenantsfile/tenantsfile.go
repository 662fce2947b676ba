// Package tenantsfile reads the multi-tenant file of a host deployment,
// {"tenants":[{"name":"client-a","<field>":"…",…}]}: the shape of the
// 1Password seed's OP_TOKENS_FILE, with the credential fields of a
// vendor's descriptor. Every vendor's file (OP_TOKENS_FILE,
// PP_TOKENS_FILE, XDR_TENANTS_FILE) is read here.
package tenantsfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Tenant is one entry of the file.
type Tenant struct {
	Name string
	// Credentials holds the descriptor's credential fields the entry
	// sets, trimmed; other members are ignored.
	Credentials secrets.Credentials
}

// Read reads the file at path with the credential fields of d. It refuses
// a file that others may write, names that cannot key state, duplicates
// and missing required fields. Errors never quote the file's content:
// it holds secrets.
func Read(path string, d *spec.Descriptor) ([]Tenant, error) {
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
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("tenants file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		shape := fmt.Sprintf(`{"tenants":[{"name":…,%s}]}`, strings.Join(quoted(d.RequiredFields()), ","))
		return nil, fmt.Errorf("tenants file %s does not have the expected shape %s", path, shape)
	}
	if len(doc.Tenants) == 0 {
		return nil, fmt.Errorf("tenants file %s has no tenants defined", path)
	}
	seen := map[string]bool{}
	var out []Tenant
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
		out = append(out, Tenant{Name: name, Credentials: cr})
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
