package cortexxdr

import (
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/tenantsfile"
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
// "security_level"?}]} the way every host deployment reads it
// (tenantsfile.Read), and refuses unusable credentials as well (a key id
// that is not numeric, a host that is no tenant's). Errors never quote the
// file's content.
func ReadTenantsFile(path string) ([]Tenant, error) {
	d := Descriptor()
	list, err := tenantsfile.Read(path, &d)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, len(list))
	for i, t := range list {
		cr := t.Credentials
		out[i] = Tenant{Name: t.Name, FQDN: cr[FieldFQDN], APIKeyID: cr[FieldAPIKeyID], APIKey: cr[FieldAPIKey], SecurityLevel: cr[FieldSecurityLevel]}
		if _, err := parseCredentials(out[i].Credentials(), nil); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
	}
	return out, nil
}
