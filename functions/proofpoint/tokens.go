package proofpoint

import (
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/tenantsfile"
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
// seed's OP_TOKENS_FILE shape with TAP's credential fields) the way every
// host deployment reads it (tenantsfile.Read).
func ReadTokensFile(path string) ([]TenantCredentials, error) {
	d := Descriptor()
	list, err := tenantsfile.Read(path, &d)
	if err != nil {
		return nil, err
	}
	out := make([]TenantCredentials, len(list))
	for i, t := range list {
		out[i] = TenantCredentials{Name: t.Name, Principal: t.Credentials[FieldPrincipal], Secret: t.Credentials[FieldSecret], BaseURL: t.Credentials[FieldBaseURL]}
	}
	return out, nil
}
