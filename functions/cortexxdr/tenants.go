package cortexxdr

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Tenant is one entry of a multi-tenant file (XDR_TENANTS_FILE). The seed
// had no such file (one wodle directory per tenant); the shape follows the
// 1Password seed's OP_TOKENS_FILE with this vendor's credential fields.
type Tenant struct {
	Name          string `json:"name"`
	FQDN          string `json:"fqdn"`
	APIKeyID      string `json:"api_key_id"`
	APIKey        string `json:"api_key"`
	SecurityLevel string `json:"security_level,omitempty"`
}

// Credentials returns the tenant's credential set.
func (t Tenant) Credentials() secrets.Credentials {
	cr := secrets.Credentials{FieldFQDN: t.FQDN, FieldAPIKeyID: t.APIKeyID, FieldAPIKey: t.APIKey}
	if t.SecurityLevel != "" {
		cr[FieldSecurityLevel] = t.SecurityLevel
	}
	return cr
}

// ReadTenantsFile reads {"tenants":[{"name","fqdn","api_key_id","api_key",
// "security_level"?}]}. It refuses a file that others may write, names
// that cannot key state, duplicates and unusable credentials. Errors never
// quote the file's content.
func ReadTenantsFile(path string) ([]Tenant, error) {
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
		Tenants []Tenant `json:"tenants"`
	}
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("tenants file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf(`tenants file %s does not have the expected shape {"tenants":[{"name","fqdn","api_key_id","api_key"}]}`, path)
	}
	if len(doc.Tenants) == 0 {
		return nil, fmt.Errorf("tenants file %s has no tenants defined", path)
	}
	seen := map[string]bool{}
	for i, t := range doc.Tenants {
		if err := state.ValidateName(t.Name); err != nil {
			return nil, fmt.Errorf("tenant at index %d: use only letters, numbers, hyphens and underscores: %w", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tenant %q appears twice", t.Name)
		}
		seen[t.Name] = true
		if _, err := parseCredentials(t.Credentials(), nil); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
	}
	return doc.Tenants, nil
}
