package proofpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// TenantCredentials is one entry of PP_TOKENS_FILE.
type TenantCredentials struct {
	Name      string `json:"name"`
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
	BaseURL   string `json:"base_url,omitempty"`
}

// Credentials returns the entry as a credential set.
func (t TenantCredentials) Credentials() secrets.Credentials {
	cr := secrets.Credentials{FieldPrincipal: t.Principal, FieldSecret: t.Secret}
	if t.BaseURL != "" {
		cr[FieldBaseURL] = t.BaseURL
	}
	return cr
}

// ReadTokensFile reads the multi-tenant file
// {"tenants":[{"name":"client-a","principal":"…","secret":"…"}]} (the
// seed's OP_TOKENS_FILE shape with TAP's credential fields). It refuses a
// file that others may write, names that cannot key state, and
// duplicates; errors never quote the file's content.
func ReadTokensFile(path string) ([]TenantCredentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("tokens file %s is writable by group or others (mode %v); run chmod 640 on it", path, fi.Mode().Perm())
	}
	var doc struct {
		Tenants []TenantCredentials `json:"tenants"`
	}
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("tokens file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("tokens file %s does not have the expected shape {\"tenants\":[{\"name\",\"principal\",\"secret\"}]}", path)
	}
	if len(doc.Tenants) == 0 {
		return nil, fmt.Errorf("tokens file %s has no tenants defined", path)
	}
	seen := map[string]bool{}
	for i, t := range doc.Tenants {
		if t.Name == "" || t.Principal == "" || t.Secret == "" {
			return nil, fmt.Errorf("tenant at index %d is missing 'name', 'principal' or 'secret'", i)
		}
		if err := state.ValidateName(t.Name); err != nil {
			return nil, fmt.Errorf("tenant at index %d: use only letters, numbers, hyphens and underscores: %w", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tenant %q appears twice", t.Name)
		}
		seen[t.Name] = true
	}
	return doc.Tenants, nil
}
