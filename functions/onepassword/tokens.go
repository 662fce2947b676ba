package onepassword

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// TenantToken is one entry of the seed's OP_TOKENS_FILE.
type TenantToken struct {
	Name        string `json:"name"`
	BearerToken string `json:"bearer_token"`
	// BaseURL is our addition, for tenants on another region.
	BaseURL string `json:"base_url,omitempty"`
}

// ReadTokensFile reads the seed's multi-tenant file
// {"tenants":[{"name":"client-a","bearer_token":"…"}]}. It refuses a file
// that others may write, names that cannot key state, and duplicates.
// Errors never quote the file's content.
func ReadTokensFile(path string) ([]TenantToken, error) {
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
		Tenants []TenantToken `json:"tenants"`
	}
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		var se *json.SyntaxError
		if ok := asSyntax(err, &se); ok {
			return nil, fmt.Errorf("tokens file %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("tokens file %s does not have the expected shape {\"tenants\":[{\"name\",\"bearer_token\"}]}", path)
	}
	if len(doc.Tenants) == 0 {
		return nil, fmt.Errorf("tokens file %s has no tenants defined", path)
	}
	seen := map[string]bool{}
	for i, t := range doc.Tenants {
		if t.Name == "" || t.BearerToken == "" {
			return nil, fmt.Errorf("tenant at index %d is missing 'name' or 'bearer_token'", i)
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

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}
